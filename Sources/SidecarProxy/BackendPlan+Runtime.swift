// TEMPORARY until the Balancer hook lands (after 05:00): a side table that does not affect selection.
import NIOConcurrencyHelpers
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
    }

    /// The health check report of server `index` (its position in `servers`).
    public func checkReport(of index: Int) -> CheckReport {
        guard let check = healthChecks.first(where: { $0.server.index == index }) else {
            return CheckReport(checked: false, up: true, lastFailure: nil)
        }
        return CheckReport(checked: true, up: check.isUp, lastFailure: check.lastFailure)
    }
}

private let temporaryAdmin = NIOLockedValueBox<[ObjectIdentifier: [Int: (ServerAdminState, Int)]]>([:])

extension BackendPlan {
    /// Sets the administrative state of server `index` (runtime API); effective for the next connection.
    public func setAdministrativeState(of index: Int, to admin: ServerAdminState) {
        let weight = serverState(of: index).weight
        temporaryAdmin.withLockedValue { $0[ObjectIdentifier(balancer), default: [:]][index] = (admin, weight) }
    }

    /// Sets the weight of server `index` (runtime API), 0...256; 0 takes no new connections.
    public func setWeight(of index: Int, to weight: Int) {
        let admin = serverState(of: index).admin
        temporaryAdmin.withLockedValue { $0[ObjectIdentifier(balancer), default: [:]][index] = (admin, weight) }
    }

    /// The balancer's view of server `index` now.
    public func serverState(of index: Int) -> ServerRuntimeState {
        let stored = temporaryAdmin.withLockedValue { $0[ObjectIdentifier(balancer)]?[index] }
        let server = servers[index].server
        return ServerRuntimeState(
            admin: stored?.0 ?? (server.disabled ? .maint : .ready), weight: stored?.1 ?? server.weight,
            up: balancer.isUp(index), connections: balancer.connections(on: index).server)
    }
}
