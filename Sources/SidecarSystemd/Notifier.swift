import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Tells the service manager about the process state through `sd_notify` (`NOTIFY_SOCKET`); without
/// systemd every call is a no-op.
public struct Notifier: Sendable {
    public init() {}

    /// `READY=1` and a status line: every listener is up.
    public func ready(status: String) { send("READY=1\nSTATUS=\(Self.oneLine(status))") }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as `Type=notify-reload` requires.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        send("RELOADING=1\nMONOTONIC_USEC=\(microseconds)\nSTATUS=reloading")
    }

    public func stopping() { send("STOPPING=1\nSTATUS=stopping") }

    public func status(_ text: String) { send("STATUS=\(Self.oneLine(text))") }

    /// A newline inside a value would start a bogus field.
    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    public func watchdog() { send("WATCHDOG=1") }

    /// The watchdog interval systemd asks for (`WATCHDOG_USEC` for this process), if any.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    private func send(_ state: String) {
        _ = sd_notify(0, state)
    }
}
