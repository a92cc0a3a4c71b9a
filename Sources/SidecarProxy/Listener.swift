import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig

#if canImport(Glibc)
    import Glibc
#endif

/// One listening socket of a frontend's `bind` line, accepting connections into `ProxyConnection`s.
///
/// A Unix socket is created the way HAProxy does it: bound at `<path>.<pid>.tmp`, given its mode and owner,
/// then renamed over `<path>` in one step, so clients never see a socket with the wrong permissions and a
/// stale socket file is replaced atomically. An existing path that is not a socket, or a socket someone
/// still listens on, is an error rather than something to delete.
///
/// A reload keeps the listener (and its socket: no connection is refused meanwhile) when the `bind`
/// address is unchanged, and points it at the new plan: each accepted connection reads the plan current at
/// accept time and keeps it for its whole life.
final class Listener: Sendable {
    /// The plan new connections on this listener are served with; swapped on reload.
    struct Generation: Sendable {
        var frontend: FrontendPlan
        var bind: BindPlan
    }

    let address: ListenAddress
    let channel: Channel
    /// The Unix socket path this listener created (and removes at shutdown); nil for TCP and for a socket
    /// systemd passed in, which sidecar never unlinks.
    let createdPath: String?
    private let current: NIOLockedValueBox<Generation>

    var bind: BindPlan { current.withLockedValue { $0.bind } }

    private init(address: ListenAddress, channel: Channel, createdPath: String?, current: NIOLockedValueBox<Generation>)
    {
        self.address = address
        self.channel = channel
        self.createdPath = createdPath
        self.current = current
    }

    /// Serves new connections with `frontend`/`bind` from now on (reload).
    func update(frontend: FrontendPlan, bind: BindPlan) throws {
        if let createdPath {
            try Self.setOwnerAndMode(createdPath, bind.bind.unixSocket, shownAs: createdPath, at: bind.bind.location)
        }
        current.withLockedValue { $0 = Generation(frontend: frontend, bind: bind) }
    }

    /// Binds and starts accepting for `bind`, serving `frontend`.
    /// - Parameter descriptor: an inherited listening socket (systemd, `fd@N`) to adopt instead of binding.
    static func start(
        bind: BindPlan, frontend: FrontendPlan, group: any EventLoopGroup, registry: ConnectionRegistry,
        descriptor: Int32? = nil, logger: Logger
    ) async throws -> Listener {
        let current = NIOLockedValueBox(Generation(frontend: frontend, bind: bind))
        let address = bind.bind.address
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptLimitHandler(gates: { current.withLockedValue { $0.bind.gates } }))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Small first buffer for idle D-Bus connections, growing to 1 MiB for bulk transfers
            // (measured: DESIGN.md §8).
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 1 << 20)
            )
            .childChannelInitializer { channel in
                let generation = current.withLockedValue { $0 }
                return channel.eventLoop.makeCompletedFuture {
                    try ProxyConnection.accept(
                        channel, frontend: generation.frontend, bind: generation.bind, registry: registry,
                        logger: logger)
                }
            }
        let location = bind.bind.location
        if let descriptor {
            do {
                let channel = try await bootstrap.withBoundSocket(descriptor).get()
                return Listener(address: address, channel: channel, createdPath: nil, current: current)
            } catch {
                throw ProxyError(
                    "cannot listen on inherited socket fd \(descriptor) for \(address): \(Self.describe(error))",
                    at: location)
            }
        }
        switch bind.bind.address {
        case .tcp(let host, let port):
            do {
                let channel = try await bootstrap.bind(host: host.isEmpty ? "0.0.0.0" : host, port: port).get()
                return Listener(address: address, channel: channel, createdPath: nil, current: current)
            } catch {
                throw ProxyError("cannot listen on \(bind.bind.address): \(Self.describe(error))", at: location)
            }
        case .unix(let path):
            try Self.checkReplaceable(path, at: location)
            let temporary = "\(path).\(getpid()).tmp"
            unlink(temporary)
            let channel: Channel
            do {
                channel = try await bootstrap.bind(unixDomainSocketPath: temporary).get()
            } catch {
                throw ProxyError("cannot listen on \(path): \(Self.describe(error))", at: location)
            }
            do {
                try Self.setOwnerAndMode(temporary, bind.bind.unixSocket, shownAs: path, at: location)
                guard rename(temporary, path) == 0 else {
                    throw ProxyError("cannot create socket \(path): \(String(cString: strerror(errno)))", at: location)
                }
            } catch {
                unlink(temporary)
                try? await channel.close()
                throw error
            }
            return Listener(address: address, channel: channel, createdPath: path, current: current)
        case .inheritedFD, .systemd:
            throw ProxyError("\(bind.bind.address): no such socket was passed to sidecar", at: location)
        }
    }

    /// Stops accepting; removes the socket file this listener created.
    func close() async {
        try? await channel.close()
        if let createdPath { unlink(createdPath) }
    }

    /// Refuses to replace anything but a dead socket.
    private static func checkReplaceable(_ path: String, at location: SourceLocation) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(
                separator: "/")
            if !directory.isEmpty, access(directory, F_OK) != 0 {
                throw ProxyError("cannot listen on \(path): directory \(directory) does not exist", at: location)
            }
            return
        }
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw ProxyError(
                "cannot listen on \(path): the path exists and is not a socket; not replacing it", at: location)
        }
        if isListening(path) {
            throw ProxyError("cannot listen on \(path): another process is listening on it", at: location)
        }
    }

    private static func isListening(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { Glibc.close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    private static func setOwnerAndMode(
        _ path: String, _ options: UnixSocketOptions, shownAs shown: String, at location: SourceLocation
    ) throws {
        var uid = options.uid.map { uid_t($0) } ?? uid_t.max
        var gid = options.gid.map { gid_t($0) } ?? gid_t.max
        if let user = options.user {
            guard let entry = getpwnam(user) else {
                throw ProxyError("socket \(shown): unknown user '\(user)'", at: location)
            }
            uid = entry.pointee.pw_uid
        }
        if let group = options.group {
            guard let entry = getgrnam(group) else {
                throw ProxyError("socket \(shown): unknown group '\(group)'", at: location)
            }
            gid = entry.pointee.gr_gid
        }
        if uid != uid_t.max || gid != gid_t.max, chown(path, uid, gid) != 0 {
            throw ProxyError("cannot set owner of socket \(shown): \(String(cString: strerror(errno)))", at: location)
        }
        if let mode = options.mode, chmod(path, mode_t(mode)) != 0 {
            throw ProxyError("cannot set mode of socket \(shown): \(String(cString: strerror(errno)))", at: location)
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode))
        }
        return "\(error)"
    }
}
