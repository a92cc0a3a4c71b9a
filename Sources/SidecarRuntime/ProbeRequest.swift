/// What `sidecar probe` should test: a reverse sidecar (or any mTLS server) at `HOST:PORT`, or a local
/// forward sidecar's Unix socket at `unix:PATH`.
public struct ProbeRequest: Sendable {
    /// Where to connect.
    public enum Target: Sendable, Hashable, CustomStringConvertible {
        /// One mTLS handshake with the server at `host:port`.
        case tls(host: String, port: Int)
        /// A connection through the local forward sidecar's socket, end to end.
        case unix(path: String)

        /// Parses `HOST:PORT`, `[IPv6]:PORT` or `unix:PATH` (a bare absolute path counts as `unix:`).
        /// - Throws: `UsageError` saying which form was expected.
        public init(parsing text: String) throws {
            if text.hasPrefix("unix:") {
                let path = String(text.dropFirst(5))
                guard !path.isEmpty else { throw UsageError("'\(text)': give the socket path, as unix:PATH") }
                self = .unix(path: path)
            } else if text.hasPrefix("/") {
                self = .unix(path: text)
            } else {
                let (host, port) = try TunnelFlags.hostPort(text, flag: "target")
                self = .tls(host: host, port: port)
            }
        }

        public var description: String {
            switch self {
            case .tls(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): return "unix:\(path)"
            }
        }
    }

    public var target: Target
    /// Our certificate (PEM; may hold the chain, and the key when `keyFile` is nil). TLS targets only.
    public var certificateFile: String?
    /// Our private key (PEM). Default: the key inside `certificateFile`, or its path plus `.key`.
    public var keyFile: String?
    /// The CA bundle the server's certificate must chain to. TLS targets only.
    public var caFile: String?
    /// The name the server's certificate must carry, also sent as SNI. Default: the host of the target.
    public var serverName: String?
    /// Bounds the connect, the handshake, and (for `unix:`) the wait for an answer.
    public var timeout: Duration
    /// `unix:` targets: send a D-Bus `AUTH` line and wait for the D-Bus server's answer (default). Off: only
    /// check that the tunnel stays open for `timeout`.
    public var dbusHello: Bool

    /// - Throws: `UsageError` when a TLS target lacks `certificateFile` or `caFile`, or a Unix target has
    ///   TLS options (the forward sidecar holds those).
    public init(
        target: Target, certificateFile: String? = nil, keyFile: String? = nil, caFile: String? = nil,
        serverName: String? = nil, timeout: Duration = .seconds(5), dbusHello: Bool = true
    ) throws {
        switch target {
        case .tls:
            if certificateFile == nil { throw UsageError("--cert is required to probe \(target)") }
            if caFile == nil { throw UsageError("--ca is required to probe \(target)") }
        case .unix:
            if certificateFile != nil || keyFile != nil || caFile != nil || serverName != nil {
                throw UsageError(
                    "--cert, --key, --ca and --server-name apply to HOST:PORT; the forward sidecar behind \(target) "
                        + "uses its own")
            }
        }
        guard timeout > .zero else { throw UsageError("--timeout must be more than 0 seconds") }
        self.target = target
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.serverName = serverName
        self.timeout = timeout
        self.dbusHello = dbusHello
    }
}
