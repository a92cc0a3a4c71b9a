import SidecarConfig

extension BackendPlan {
    /// What the health check of server `index` says now, for the runtime API (`show stat`'s `check_status`).
    public struct CheckReport: Sendable {
        /// Whether the server has `check` (and is checked: servers `disabled` in the configuration are not).
        public var checked: Bool
        /// The check's verdict; true for an unchecked server.
        public var up: Bool
        /// The reason of the last failed check while it fails, HAProxy's words (`Layer4 timeout`).
        public var lastFailure: String?
        /// Checks that failed while the server was up (`chkfail`).
        public var failedChecks = 0
        /// How long the last finished check took, in milliseconds (`check_duration`); nil before the first.
        public var lastDurationMilliseconds: Int64?
    }

    /// The health check report of server `index` (its position in `servers`).
    public func checkReport(of index: Int) -> CheckReport {
        guard let check = healthChecks.first(where: { $0.server.index == index }) else {
            return CheckReport(checked: false, up: true, lastFailure: nil)
        }
        let counts = check.counts
        return CheckReport(
            checked: true, up: check.isUp, lastFailure: check.lastFailure, failedChecks: counts.failedWhileUp,
            lastDurationMilliseconds: counts.lastDurationMilliseconds)
    }

    /// `lastchg`, `chkdown` and `downtime` of server `index`, or of the backend when `index` is nil.
    public func history(of index: Int?) -> StateHistory.Report {
        balancer.history(of: index)
    }
}

extension BackendPlan {
    /// Sets the administrative state of server `index` (runtime API); effective for the next connection.
    public func setAdministrativeState(of index: Int, to admin: ServerAdminState) {
        balancer.setAdministrativeState(index, admin)
    }

    /// Sets the weight of server `index` (runtime API), 0...256; 0 takes no new connections.
    public func setWeight(of index: Int, to weight: Int) {
        balancer.setWeight(index, weight)
    }

    /// Starts `lastchg`, `chkdown` and `downtime` afresh from the servers' states now.
    public func restartHistory() {
        balancer.restartHistory()
    }

    /// The balancer's view of server `index` now.
    public func serverState(of index: Int) -> ServerRuntimeState {
        balancer.runtimeState(index)
    }
}
