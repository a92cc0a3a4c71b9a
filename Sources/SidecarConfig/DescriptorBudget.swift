/// How the open-descriptor limit is shared out, and the global `maxconn` derived from it when the
/// configuration sets none (HAProxy derives its default `maxconn` from the limit the same way).
///
/// Descriptors are first reserved for what must keep working whatever clients do: the process itself (event
/// loops, standard streams, log and notify sockets, the files a reload reads), every listening socket, one
/// per health-checked server, and each `stats socket` and the metrics endpoint with their own connection
/// caps. Every proxied connection then needs two (client and backend), so the derived `maxconn` is half of
/// what is left: a verified client never fails to reach its backend for lack of a descriptor.
///
/// Connections still in their TLS handshake count against `maxconn` too, and at most
/// `tune.ssl.max-pending-handshakes` of them exist at once: a newer connection displaces the oldest, so
/// silent or slow clients cannot hold every slot.
public struct DescriptorBudget: Sendable, Hashable {
    /// Descriptors the process itself uses besides connections and listeners.
    public static let processReserve = 32
    /// Connections each `stats socket` and the metrics endpoint accept at once (HAProxy's `stats maxconn`
    /// default is 10).
    public static let managementConnections = 10
    /// The default cap on pending handshakes never exceeds this.
    public static let maxDefaultPendingHandshakes = 256

    /// The soft `RLIMIT_NOFILE` the process runs with.
    public var limit: Int
    /// Descriptors kept for everything but client connections.
    public var reserved: Int
    /// The process-wide `maxconn` in force.
    public var maxconn: Int
    /// `maxconn` was derived from `limit` (the configuration sets none).
    public var maxconnDerived: Bool
    /// At most this many client connections may be in their TLS handshake at once.
    public var pendingHandshakes: Int

    /// - Parameter limit: the soft descriptor limit, after raising it to the hard limit.
    public init(configuration: Configuration, descriptorLimit limit: Int) {
        self.limit = limit
        let binds = configuration.frontends.reduce(0) { $0 + $1.binds.count }
        let checks = configuration.backends.reduce(0) { $0 + $1.servers.filter(\.check).count }
        let management =
            configuration.global.statsSockets.count * (1 + Self.managementConnections)
            + (configuration.global.metricsBind == nil ? 0 : 1 + Self.managementConnections)
        reserved = Self.processReserve + binds + checks + management
        let available = max(1, (min(limit, Int(Int32.max)) - reserved) / 2)
        maxconn = configuration.global.maxconn ?? available
        maxconnDerived = configuration.global.maxconn == nil
        pendingHandshakes = configuration.global.maxPendingHandshakes ?? Self.defaultPendingHandshakes(maxconn: maxconn)
    }

    /// A quarter of `maxconn`, between 1 and 256: enough for bursts of reconnecting nodes (a full handshake
    /// costs about a millisecond of CPU), while three quarters of the slots stay for verified clients.
    public static func defaultPendingHandshakes(maxconn: Int?) -> Int {
        guard let maxconn else { return maxDefaultPendingHandshakes }
        return max(1, min(maxDefaultPendingHandshakes, maxconn / 4))
    }

    /// Descriptors `maxconn` connections need, with the reserve.
    public var needed: Int { reserved + 2 * maxconn }

    /// Set when a configured `maxconn` needs more descriptors than the limit allows.
    public var warning: String? {
        guard needed > limit else { return nil }
        return "global maxconn \(maxconn) needs about \(needed) open descriptors but the limit is \(limit) "
            + "(LimitNOFILE): beyond about \(max(0, (limit - reserved) / 2)) connections, accepts and backend "
            + "connections fail with 'Too many open files'; raise LimitNOFILE or lower maxconn"
    }

    /// One line for `sidecar check` and the start log.
    public var summary: String {
        let limitText = limit == Int.max ? "unlimited" : "\(limit)"
        return "descriptors: limit \(limitText), \(reserved) reserved; global maxconn \(maxconn)"
            + (maxconnDerived ? " (derived from the limit)" : "")
            + ", tune.ssl.max-pending-handshakes \(pendingHandshakes)"
    }
}
