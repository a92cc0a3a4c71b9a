/// One `bind` line of a frontend.
public struct Bind: Sendable, Hashable {
    public var address: ListenAddress
    /// Present with `ssl`: the listener terminates TLS.
    public var tls: TLSSettings?
    /// `mode`, `user`/`uid`, `group`/`gid` for a Unix socket the sidecar creates.
    public var unixSocket: UnixSocketOptions
    /// `maxconn` on the bind line; nil means the frontend's.
    public var maxconn: Int?
    /// `name`: a label for logs and stats.
    public var name: String?
    /// `handshake-timeout` (an extension; HAProxy has no such keyword): how long a client may take to
    /// finish the TLS handshake. nil means the built-in default, 10 s.
    public var handshakeTimeout: Duration?
    public var location: SourceLocation

    public init(
        address: ListenAddress,
        tls: TLSSettings? = nil,
        unixSocket: UnixSocketOptions = UnixSocketOptions(),
        maxconn: Int? = nil,
        name: String? = nil,
        handshakeTimeout: Duration? = nil,
        location: SourceLocation
    ) {
        self.address = address
        self.tls = tls
        self.unixSocket = unixSocket
        self.maxconn = maxconn
        self.name = name
        self.handshakeTimeout = handshakeTimeout
        self.location = location
    }
}

/// Ownership and permissions of a Unix listening socket the sidecar creates itself.
public struct UnixSocketOptions: Sendable, Hashable {
    /// File mode, e.g. `0o660`. nil leaves the mode from the process umask.
    public var mode: UInt32?
    public var user: String?
    public var uid: UInt32?
    public var group: String?
    public var gid: UInt32?

    public init(mode: UInt32? = nil, user: String? = nil, uid: UInt32? = nil, group: String? = nil, gid: UInt32? = nil)
    {
        self.mode = mode
        self.user = user
        self.uid = uid
        self.group = group
        self.gid = gid
    }
}
