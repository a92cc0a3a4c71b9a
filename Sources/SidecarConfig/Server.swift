/// One `server` line of a backend (after `default-server` options are applied).
public struct Server: Sendable, Hashable {
    public var name: String
    public var address: ServerAddress
    /// Present with `ssl`: the sidecar connects with TLS as a client.
    public var tls: TLSSettings?
    /// `check`: health-check this server.
    public var check: Bool
    /// `inter`, default 2 s.
    public var inter: Duration
    /// `rise`, default 2.
    public var rise: Int
    /// `fall`, default 3.
    public var fall: Int
    /// `weight`, 0...256, default 1; 0 takes no new load-balanced traffic.
    public var weight: Int
    /// `backup`: used only when every non-backup server is down.
    public var backup: Bool
    /// `disabled`: starts in maintenance.
    public var disabled: Bool
    /// `maxconn`; nil or 0 means unlimited.
    public var maxconn: Int?
    public var location: SourceLocation

    public init(
        name: String,
        address: ServerAddress,
        tls: TLSSettings? = nil,
        check: Bool = false,
        inter: Duration = .seconds(2),
        rise: Int = 2,
        fall: Int = 3,
        weight: Int = 1,
        backup: Bool = false,
        disabled: Bool = false,
        maxconn: Int? = nil,
        location: SourceLocation
    ) {
        self.name = name
        self.address = address
        self.tls = tls
        self.check = check
        self.inter = inter
        self.rise = rise
        self.fall = fall
        self.weight = weight
        self.backup = backup
        self.disabled = disabled
        self.maxconn = maxconn
        self.location = location
    }
}
