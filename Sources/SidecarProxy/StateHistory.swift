/// When a server or a backend last changed between up and down, how often it went down and for how long
/// it has been down in all: HAProxy's `lastchg`, `chkdown` and `downtime` in `show stat`.
///
/// A value type kept inside `Balancer`'s lock; every state change of the balancer feeds it the new verdict.
/// Times come from the monotonic clock, so a wall-clock step does not distort them.
public struct StateHistory: Sendable {
    /// What `show stat` reports, in whole seconds as HAProxy does.
    public struct Report: Sendable, Equatable {
        /// UP to DOWN transitions (`chkdown`).
        public var downTransitions: Int
        /// Seconds since the last transition, or since the history began (`lastchg`).
        public var secondsSinceChange: Int
        /// Seconds spent down in all, including the current stretch (`downtime`).
        public var downtimeSeconds: Int
    }

    private var down: Bool
    private var lastChange: ContinuousClock.Instant
    private var transitions = 0
    private var accumulated: Duration = .zero

    init(down: Bool, at now: ContinuousClock.Instant = .now) {
        self.down = down
        lastChange = now
    }

    /// Records the verdict now; only a change from the previous one counts.
    mutating func update(down: Bool, at now: ContinuousClock.Instant = .now) {
        guard down != self.down else { return }
        if self.down { accumulated += now - lastChange } else { transitions += 1 }
        self.down = down
        lastChange = now
    }

    /// The figures as of `now`.
    public func report(at now: ContinuousClock.Instant = .now) -> Report {
        let current = down ? now - lastChange : .zero
        return Report(
            downTransitions: transitions, secondsSinceChange: Int((now - lastChange).components.seconds),
            downtimeSeconds: Int((accumulated + current).components.seconds))
    }
}
