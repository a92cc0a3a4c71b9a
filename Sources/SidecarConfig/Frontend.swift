/// A `frontend` (or the front half of a `listen`): where connections arrive.
public struct Frontend: Sendable, Hashable {
    public var name: String
    public var binds: [Bind]
    /// `default_backend`, or `use_backend` without a condition. Validation guarantees it names a backend.
    public var defaultBackend: String?
    public var timeouts: Timeouts
    /// `maxconn`; nil means the global limit.
    public var maxconn: Int?
    /// `option tcplog`.
    public var tcplog: Bool
    public var location: SourceLocation
    /// Where `defaultBackend` was set (the `default_backend` or `use_backend` line, possibly in `defaults`);
    /// nil when no backend was named.
    public var defaultBackendLocation: SourceLocation?
    /// `tcp-request session` rules, in order: run after the TLS handshake, before any backend connection.
    public var sessionRules: [AccessRule]
    /// `tcp-request connection` rules without TLS fetches (`src`), in order; they run before `sessionRules`.
    public var connectionRules: [AccessRule]
    /// `option dbus` and its settings; nil when the relay is byte-transparent.
    public var dbus: DBusSettings?

    public init(
        name: String,
        binds: [Bind],
        defaultBackend: String?,
        timeouts: Timeouts = Timeouts(),
        maxconn: Int? = nil,
        tcplog: Bool = false,
        location: SourceLocation,
        defaultBackendLocation: SourceLocation? = nil,
        sessionRules: [AccessRule] = [],
        connectionRules: [AccessRule] = [],
        dbus: DBusSettings? = nil
    ) {
        self.name = name
        self.binds = binds
        self.defaultBackend = defaultBackend
        self.timeouts = timeouts
        self.maxconn = maxconn
        self.tcplog = tcplog
        self.location = location
        self.defaultBackendLocation = defaultBackendLocation
        self.sessionRules = sessionRules
        self.connectionRules = connectionRules
        self.dbus = dbus
    }
}
