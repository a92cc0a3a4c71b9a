/// HAProxy's `timeout` settings. nil means no limit, as in HAProxy.
public struct Timeouts: Sendable, Hashable {
    public var connect: Duration?
    public var client: Duration?
    public var server: Duration?
    public var tunnel: Duration?
    public var clientFin: Duration?
    public var serverFin: Duration?
    public var check: Duration?

    public init(
        connect: Duration? = nil,
        client: Duration? = nil,
        server: Duration? = nil,
        tunnel: Duration? = nil,
        clientFin: Duration? = nil,
        serverFin: Duration? = nil,
        check: Duration? = nil
    ) {
        self.connect = connect
        self.client = client
        self.server = server
        self.tunnel = tunnel
        self.clientFin = clientFin
        self.serverFin = serverFin
        self.check = check
    }
}
