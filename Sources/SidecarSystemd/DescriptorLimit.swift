#if canImport(Glibc)
    import Glibc
#endif

/// The process's open-descriptor limit (`RLIMIT_NOFILE`), which bounds how many connections sidecar can
/// hold: every proxied connection needs two descriptors, a connection still handshaking one.
///
/// As HAProxy does, sidecar raises the soft limit to the hard limit at start: the soft limit is often 1024
/// (or systemd's default soft limit) while the hard limit allows far more, and an unprivileged process may
/// raise its soft limit up to the hard one. The units set `LimitNOFILE=` so that the hard limit is known.
public enum DescriptorLimit {
    /// The soft and hard limits; `Int.max` stands for `RLIM_INFINITY`.
    public struct Limits: Sendable, Hashable {
        public var soft: Int
        public var hard: Int
    }

    /// The limits now, without changing them.
    public static func current() -> Limits {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return Limits(soft: 1024, hard: 1024) }
        return Limits(soft: Self.value(limit.rlim_cur), hard: Self.value(limit.rlim_max))
    }

    /// Raises the soft limit to the hard limit (if the kernel refuses, the soft limit stays as it was).
    /// - Returns: the limits afterwards.
    @discardableResult
    public static func raiseSoftToHard() -> Limits {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return current() }
        if limit.rlim_cur != limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0, limit.rlim_max == Self.infinity {
                // An unlimited hard limit is capped by the kernel's nr_open; try the usual value.
                raised.rlim_cur = 1 << 20
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
            }
        }
        return current()
    }

    /// `RLIM_INFINITY` (all bits set), which the Glibc module imports as a macro Swift cannot read.
    private static let infinity = rlim_t.max

    private static func value(_ limit: rlim_t) -> Int {
        limit == Self.infinity || limit > rlim_t(Int.max) ? Int.max : Int(limit)
    }
}
