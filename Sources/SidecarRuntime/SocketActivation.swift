import SidecarConfig
import SidecarSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Matches the sockets systemd passed to the `bind` lines that should adopt them.
///
/// A bind adopts an inherited socket when it names it (`systemd@NAME`, `fd@N`) or when its address is the
/// socket's address (same Unix path, or same IP and port; `*:port` matches `0.0.0.0:port`). Every inherited
/// socket must be claimed: one left over means the units and the configuration disagree, and guessing which
/// listener it was meant for would be worse than saying so.
enum SocketActivation {
    /// The descriptor each bind adopts, by bind address.
    /// - Throws: `ProxyStartError` for a `systemd@NAME` with no such socket, or an unclaimed socket.
    static func assign(_ inherited: [InheritedSocket], to configuration: Configuration) throws -> [ListenAddress: Int32]
    {
        var claimed: Set<Int32> = []
        var assignment: [ListenAddress: Int32] = [:]
        for frontend in configuration.frontends {
            for bind in frontend.binds {
                guard let socket = try match(bind, in: inherited) else { continue }
                claimed.insert(socket)
                assignment[bind.address] = socket
            }
        }
        let unclaimed = inherited.filter { !claimed.contains($0.descriptor) }
        if !unclaimed.isEmpty {
            let list = unclaimed.map { "fd \($0.descriptor) '\($0.name)' (\($0.address))" }.joined(separator: ", ")
            throw StartError(
                "systemd passed \(list) but no 'bind' line uses it; bind its address, 'systemd@NAME' or 'fd@N'")
        }
        return assignment
    }

    private static func match(_ bind: Bind, in inherited: [InheritedSocket]) throws -> Int32? {
        switch bind.address {
        case .systemd(let name):
            guard let socket = inherited.first(where: { $0.name == name }) else {
                let names = inherited.isEmpty ? "none" : inherited.map { "'\($0.name)'" }.joined(separator: ", ")
                throw StartError(
                    "\(bind.location): bind systemd@\(name): systemd passed no socket named '\(name)' (names received: \(names))"
                )
            }
            return socket.descriptor
        case .inheritedFD(let descriptor):
            guard fcntl(descriptor, F_GETFD) != -1 else {
                throw StartError("\(bind.location): bind fd@\(descriptor): no such open file descriptor")
            }
            return descriptor
        case .unix(let path):
            return inherited.first { $0.address == .unix(path: path) }?.descriptor
        case .tcp(let host, let port):
            return inherited.first { socket in
                guard case .inet(let socketHost, let socketPort) = socket.address, socketPort == port else {
                    return false
                }
                // `*:port` is any address; systemd's `ListenStream=PORT` is the dual-stack `[::]:PORT`.
                return socketHost == host || (host.isEmpty && (socketHost == "0.0.0.0" || socketHost == "::"))
            }?.descriptor
        }
    }
}

/// Why the daemon cannot start (or reload), worded for the log.
public struct StartError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
