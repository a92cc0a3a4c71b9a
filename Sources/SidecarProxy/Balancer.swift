import NIOConcurrencyHelpers
import SidecarConfig

/// Picks the server for each new connection of one backend, as HAProxy's `balance` does, and counts the
/// connections each server carries.
///
/// - `roundrobin` and `static-rr`: smooth weighted round robin (every usable server gains its weight, the
///   richest is picked and pays the total), so weights 1/2/3 give exactly 1/2/3 of every 6 connections.
///   Weights change only through the runtime API (`set server B/S weight`), so the two behave the same.
/// - `leastconn`: the fewest active connections relative to weight; ties go round robin.
/// - `first`: the lowest-index server with a free `maxconn` slot.
///
/// A server is usable when it is up (health checks), not in maintenance (`disabled`) and has a weight
/// above 0. Backup servers are used only when no normal server is usable, and then only the first usable
/// one (HAProxy without `option allbackups`). A server whose `maxconn` is reached is skipped for the next.
///
/// Shared by every event loop, so its state sits behind a lock; the critical section is a short loop over
/// the servers per connection.
public final class Balancer: Sendable {
    private struct Entry {
        var weight: Int
        let backup: Bool
        /// `disabled`, or the runtime API's `maint`.
        var maintenance: Bool
        /// The runtime API's `drain`: no new connections, established ones continue.
        var draining = false
        /// 0 means unlimited.
        let maxconn: Int
        var up = true
        var active = 0
        /// Smooth round-robin credit.
        var current = 0
        /// Down means failing its checks or in maintenance, as HAProxy counts `downtime`.
        var history: StateHistory

        var isDown: Bool { !up || maintenance }
    }

    private struct State {
        var entries: [Entry]
        /// Down means no usable server (up, ready, weighted): `show stat`'s backend `DOWN`.
        var history: StateHistory
        /// Where the next `leastconn` tie-break scan starts.
        var cursor = 0
    }

    /// A server taken for one connection: `index` into the backend's servers. Hand it back with `release`.
    public struct Pick: Sendable, Equatable {
        public let index: Int
    }

    private let algorithm: Backend.Balance
    private let state: NIOLockedValueBox<State>

    /// - Parameters:
    ///   - algorithm: the backend's `balance`.
    ///   - servers: the backend's servers, in configuration order.
    public init(algorithm: Backend.Balance = .roundrobin, servers: [Server]) {
        self.algorithm = algorithm
        let now = ContinuousClock.now
        let entries = servers.map {
            Entry(
                weight: $0.weight, backup: $0.backup, maintenance: $0.disabled, maxconn: $0.maxconn ?? 0,
                history: StateHistory(down: $0.disabled, at: now))
        }
        state = NIOLockedValueBox(
            State(entries: entries, history: StateHistory(down: !entries.contains(where: Self.usable), at: now)))
    }

    /// Chooses a server for a new connection and counts the connection on it.
    ///
    /// - Parameter excluding: servers already tried for this connection (failover); they are chosen again
    ///   only when no other usable server has room.
    /// - Returns: nil when no server is usable or every usable one is full (`<NOSRV>`).
    public func acquire(excluding: [Int] = []) -> Pick? {
        state.withLockedValue { state in
            var chosen = Self.choose(algorithm, in: &state, excluding: excluding)
            if chosen == nil, !excluding.isEmpty { chosen = Self.choose(algorithm, in: &state, excluding: []) }
            guard let index = chosen else { return nil }
            state.entries[index].active += 1
            return Pick(index: index)
        }
    }

    /// Ends the connection counted by `acquire` (closed, or its connect failed).
    public func release(_ pick: Pick) {
        state.withLockedValue { $0.entries[pick.index].active -= 1 }
    }

    /// Marks server `index` up or down (health checks).
    /// - Returns: the usable normal and backup servers afterwards, for the state-change log line.
    @discardableResult
    public func setUp(_ index: Int, _ up: Bool) -> (active: Int, backup: Int) {
        state.withLockedValue { state in
            state.entries[index].up = up
            return Self.noteChange(of: index, in: &state)
        }
    }

    /// Usable normal and backup servers now.
    public var available: (active: Int, backup: Int) {
        state.withLockedValue { Self.census($0.entries) }
    }

    /// Whether server `index` is up (health) and not in maintenance.
    public func isUp(_ index: Int) -> Bool {
        state.withLockedValue { !$0.entries[index].maintenance && $0.entries[index].up }
    }

    /// Connections on server `index` and on the whole backend now (`%sc`, `%bc`).
    public func connections(on index: Int?) -> (server: Int, backend: Int) {
        state.withLockedValue { state in
            let backend = state.entries.reduce(0) { $0 + $1.active }
            return (index.map { state.entries[$0].active } ?? 0, backend)
        }
    }

    /// The runtime API's `set server B/S state` (and `disable`/`enable server`): `maint` and `drain` keep new
    /// connections away; established ones continue.
    public func setAdministrativeState(_ index: Int, _ admin: ServerAdminState) {
        state.withLockedValue { state in
            state.entries[index].maintenance = admin == .maint
            state.entries[index].draining = admin == .drain
            Self.noteChange(of: index, in: &state)
        }
    }

    /// Starts every history afresh from the states now, as if the configuration had just been loaded with them.
    public func restartHistory() {
        state.withLockedValue { state in
            let now = ContinuousClock.now
            for index in state.entries.indices {
                state.entries[index].history = StateHistory(down: state.entries[index].isDown, at: now)
            }
            state.history = StateHistory(down: !state.entries.contains(where: Self.usable), at: now)
        }
    }

    /// `lastchg`, `chkdown` and `downtime` of server `index`, or of the whole backend when `index` is nil.
    public func history(of index: Int?) -> StateHistory.Report {
        state.withLockedValue { state in
            index.map { state.entries[$0].history.report() } ?? state.history.report()
        }
    }

    /// The runtime API's `set server B/S weight`; 0 keeps new connections away.
    public func setWeight(_ index: Int, _ weight: Int) {
        state.withLockedValue { state in
            state.entries[index].weight = weight
            Self.noteChange(of: index, in: &state)
        }
    }

    /// Server `index` as the runtime API reports it.
    public func runtimeState(_ index: Int) -> ServerRuntimeState {
        state.withLockedValue { state in
            let entry = state.entries[index]
            return ServerRuntimeState(
                admin: entry.maintenance ? .maint : entry.draining ? .drain : .ready, weight: entry.weight,
                up: entry.up, connections: entry.active)
        }
    }

    /// Feeds the histories after server `index` changed; returns the census for the state-change log line.
    @discardableResult
    private static func noteChange(of index: Int, in state: inout State) -> (active: Int, backup: Int) {
        let now = ContinuousClock.now
        state.entries[index].history.update(down: state.entries[index].isDown, at: now)
        state.history.update(down: !state.entries.contains(where: usable), at: now)
        return census(state.entries)
    }

    private static func census(_ entries: [Entry]) -> (active: Int, backup: Int) {
        var active = 0
        var backup = 0
        for entry in entries where entry.up && !entry.maintenance {
            if entry.backup { backup += 1 } else { active += 1 }
        }
        return (active, backup)
    }

    private static func usable(_ entry: Entry) -> Bool {
        entry.up && !entry.maintenance && !entry.draining && entry.weight > 0
    }

    private static func hasRoom(_ entry: Entry) -> Bool {
        entry.maxconn == 0 || entry.active < entry.maxconn
    }

    private static func choose(_ algorithm: Backend.Balance, in state: inout State, excluding: [Int]) -> Int? {
        let entries = state.entries
        let normalUsable = entries.contains { usable($0) && !$0.backup }
        // Candidates: the usable normal servers, or else the first usable backup.
        var candidates: [Int] = []
        if normalUsable {
            for index in entries.indices where usable(entries[index]) && !entries[index].backup {
                candidates.append(index)
            }
        } else if let backup = entries.indices.first(where: { usable(entries[$0]) && entries[$0].backup }) {
            candidates.append(backup)
        }
        candidates.removeAll { !hasRoom(entries[$0]) || excluding.contains($0) }
        guard !candidates.isEmpty else { return nil }
        switch algorithm {
        case .roundrobin, .staticRR:
            let total = candidates.reduce(0) { $0 + state.entries[$1].weight }
            var best = candidates[0]
            for index in candidates {
                state.entries[index].current += state.entries[index].weight
                if state.entries[index].current > state.entries[best].current { best = index }
            }
            state.entries[best].current -= total
            return best
        case .leastconn:
            // (active + 1) / weight compared by cross-multiplication; the scan starts after the last pick so
            // that ties rotate.
            let count = entries.count
            var best: Int?
            for step in 0..<count {
                let index = (state.cursor + step) % count
                guard candidates.contains(index) else { continue }
                if let current = best {
                    let lhs = (entries[index].active + 1) * entries[current].weight
                    let rhs = (entries[current].active + 1) * entries[index].weight
                    if lhs < rhs { best = index }
                } else {
                    best = index
                }
            }
            if let best { state.cursor = (best + 1) % count }
            return best
        case .first:
            return candidates.min()
        }
    }
}
