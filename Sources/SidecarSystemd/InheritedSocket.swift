import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// A listening socket handed over by systemd (socket activation), with the name systemd gave it
/// (`FileDescriptorName=`, default the socket unit's name) and the address it is bound to.
public struct InheritedSocket: Sendable, Hashable {
    /// What a socket is bound to, read with `getsockname`.
    public enum Address: Sendable, Hashable, CustomStringConvertible {
        case unix(path: String)
        case inet(host: String, port: Int)
        case other

        public var description: String {
            switch self {
            case .unix(let path): return path
            case .inet(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .other: return "unknown address"
            }
        }
    }

    public var descriptor: Int32
    public var name: String
    public var address: Address

    public init(descriptor: Int32, name: String, address: Address) {
        self.descriptor = descriptor
        self.name = name
        self.address = address
    }

    /// Takes the sockets systemd passed (`LISTEN_FDS`, `LISTEN_FDNAMES`, checked against `LISTEN_PID`) and
    /// clears those variables, so programs we might start do not think the sockets are theirs.
    public static func takeAll() -> [InheritedSocket] {
        // sd_listen_fds_with_names allocates the array and each name; we own them and free both here.
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return [] }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        return (0..<count).map { index in
            let descriptor = SD_LISTEN_FDS_START + index
            let name = names?[Int(index)].map { String(cString: $0) } ?? "unknown"
            // Keep inherited sockets out of any child process.
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            return InheritedSocket(descriptor: descriptor, name: name, address: address(of: descriptor))
        }
    }

    /// The bound address of `descriptor`.
    public static func address(of descriptor: Int32) -> Address {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return .other }
        switch Int32(storage.ss_family) {
        case AF_UNIX:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { address in
                    withUnsafeBytes(of: address.pointee.sun_path) { raw in
                        let bytes = raw.prefix { $0 != 0 }
                        return .unix(path: String(decoding: bytes, as: UTF8.self))
                    }
                }
            }
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    .inet(
                        host: numericHost(AF_INET, address.pointee.sin_addr, length: INET_ADDRSTRLEN),
                        port: Int(UInt16(bigEndian: address.pointee.sin_port)))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    .inet(
                        host: numericHost(AF_INET6, address.pointee.sin6_addr, length: INET6_ADDRSTRLEN),
                        port: Int(UInt16(bigEndian: address.pointee.sin6_port)))
                }
            }
        default:
            return .other
        }
    }

    /// `inet_ntop` of `address` (an `in_addr` or `in6_addr`: plain bytes, lent to it for the call), into a
    /// buffer of `length` bytes that this function owns.
    private static func numericHost<Address>(_ family: Int32, _ address: Address, length: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(length))
        _ = withUnsafeBytes(of: address) { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
