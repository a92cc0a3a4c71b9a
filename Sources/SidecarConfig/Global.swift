/// The `global` section.
public struct Global: Sendable, Hashable {
    /// `chroot`: Unix server paths are resolved under it, as HAProxy connects them after chrooting.
    public var chroot: String?
    /// `hard-stop-after`: how long a graceful stop may wait for connections; default 30 s.
    public var hardStopAfter: Duration
    /// `maxconn` for the whole process; nil means the one `DescriptorBudget` derives from the descriptor
    /// limit.
    public var maxconn: Int?
    /// `tune.ssl.max-pending-handshakes N` (sidecar extension): at most this many client connections in their
    /// TLS handshake at once, a newer one displacing the oldest; nil means `DescriptorBudget`'s default.
    public var maxPendingHandshakes: Int?
    public var crtBase: String?
    public var caBase: String?
    /// `unix-bind prefix/mode/user/group`: defaults for Unix listeners.
    public var unixBindPrefix: String?
    public var unixBind: UnixSocketOptions
    /// `stats socket` lines (served by the operations issue).
    public var statsSockets: [StatsSocket]
    /// `log` lines: where the connection log goes (stderr or the local syslog/journal socket only).
    public var logs: [LogTarget]
    /// `cert-expiry-warning <days>` (sidecar extension): warn about a configured certificate expiring within
    /// this many days; default 30.
    public var certExpiryWarningDays: Int = 30
    /// `metrics-bind ADDR:PORT` (sidecar extension): where to serve Prometheus metrics (`GET /metrics`) and
    /// `GET /health` over plain HTTP; nil serves neither. Always a `.tcp` address; loopback is advised.
    public var metricsBind: ListenAddress?
    /// The line of `metricsBind`, for errors when it cannot be bound.
    public var metricsBindLocation: SourceLocation?
    /// `nbthread N`: event loop threads; nil means one per CPU core. `--threads` and `SIDECAR_THREADS` win.
    public var nbthread: Int?

    public init(
        chroot: String? = nil,
        hardStopAfter: Duration = .seconds(30),
        maxconn: Int? = nil,
        crtBase: String? = nil,
        caBase: String? = nil,
        unixBindPrefix: String? = nil,
        unixBind: UnixSocketOptions = UnixSocketOptions(),
        statsSockets: [StatsSocket] = [],
        logs: [LogTarget] = []
    ) {
        self.chroot = chroot
        self.hardStopAfter = hardStopAfter
        self.maxconn = maxconn
        self.crtBase = crtBase
        self.caBase = caBase
        self.unixBindPrefix = unixBindPrefix
        self.unixBind = unixBind
        self.statsSockets = statsSockets
        self.logs = logs
    }
}

/// A `stats socket PATH [mode M] [level L]` line.
public struct StatsSocket: Sendable, Hashable {
    public enum Level: String, Sendable, Hashable { case user, `operator`, admin }
    public var address: ListenAddress
    public var mode: UInt32?
    public var level: Level
    public var location: SourceLocation

    public init(address: ListenAddress, mode: UInt32? = nil, level: Level = .`operator`, location: SourceLocation) {
        self.address = address
        self.mode = mode
        self.level = level
        self.location = location
    }
}
