/// A `backend` (or the back half of a `listen`): where connections go.
public struct Backend: Sendable, Hashable {
    /// `balance`; only these four exist in TCP mode here.
    public enum Balance: String, Sendable, Hashable {
        case roundrobin
        case staticRR = "static-rr"
        case leastconn
        case first
    }

    public var name: String
    public var balance: Balance
    public var servers: [Server]
    public var timeouts: Timeouts
    /// `retries`, default 3: connection attempts after the first that failed.
    public var retries: Int
    /// `option redispatch`. The initializer defaults to true; from a configuration file it is false unless
    /// `option redispatch` is set, as in HAProxy.
    public var redispatch: Bool
    public var location: SourceLocation

    public init(
        name: String,
        balance: Balance = .roundrobin,
        servers: [Server],
        timeouts: Timeouts = Timeouts(),
        retries: Int = 3,
        redispatch: Bool = true,
        location: SourceLocation
    ) {
        self.name = name
        self.balance = balance
        self.servers = servers
        self.timeouts = timeouts
        self.retries = retries
        self.redispatch = redispatch
        self.location = location
    }
}
