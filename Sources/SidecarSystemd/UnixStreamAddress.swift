#if canImport(Glibc)
    import Glibc
#endif

/// A Unix stream socket address to connect to, built once (a server's plan), connected without SwiftNIO's
/// bootstrap: a Unix `connect` completes (or fails) at once, so the bootstrap's connect promise, its connect
/// timeout timer and its look-ups of the addresses of a socket not yet connected are all work that a
/// new connection to a Unix backend does not need. The connected descriptor is then handed to SwiftNIO
/// (`ClientBootstrap.withConnectedSocket`).
public struct UnixStreamAddress: Sendable {
    /// The `sockaddr_un`, filled once; nil when the path does not fit (then nothing is connected here).
    private let address: sockaddr_un?

    public init(path: String) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            self.address = nil
            return
        }
        // sun_path is a fixed array inside `address`; the copy stays within it (length checked above).
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        self.address = address
    }

    /// A new non-blocking, close-on-exec stream socket connected to the address.
    /// - Returns: the descriptor, which the caller then owns (and hands to SwiftNIO, which closes it); nil when
    ///   the connect did not complete at once for any reason (no listener, no such file, a full backlog:
    ///   `EAGAIN`), with nothing left open. The caller then connects the usual way, which reports the error.
    public func connect() -> Int32? {
        guard var address else { return nil }
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let descriptor = socket(AF_UNIX, type, 0)
        guard descriptor >= 0 else { return nil }
        // `address` is a local copy; the kernel reads it during the call only.
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }
}
