/// Where a `bind` line listens.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// `*:port`, `addr:port`, `[v6]:port`. An empty host (`*` or nothing) is IPv4 any, as in HAProxy; `::` is IPv6 any.
    case tcp(host: String, port: Int)
    /// `/path` or `unix@path`, after any `unix-bind prefix`.
    case unix(path: String)
    /// `fd@N`: an inherited, already bound socket.
    case inheritedFD(Int32)
    /// `systemd@NAME` (extension): the socket-activated fd named NAME by `FileDescriptorName=`.
    case systemd(name: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port):
            if host.isEmpty { return "*:\(port)" }
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): return path
        case .inheritedFD(let fd): return "fd@\(fd)"
        case .systemd(let name): return "systemd@\(name)"
        }
    }
}

/// Where a `server` line connects.
public enum ServerAddress: Sendable, Hashable, CustomStringConvertible {
    /// `host:port`; the host is an IPv4/IPv6 literal or a name resolved when the model is loaded.
    case tcp(host: String, port: Int)
    /// `/path` or `unix@path`; under `global chroot`, the path as seen from the chroot, as HAProxy does.
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): return path
        }
    }
}
