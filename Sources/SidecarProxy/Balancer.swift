import NIOConcurrencyHelpers

/// Picks the server for each new connection of one backend: smooth weighted round robin (HAProxy's
/// `roundrobin`) over the servers that are up, skipping ones in maintenance or with weight 0.
///
/// Shared by every event loop, so its state sits behind a lock; the critical section is a few integer
/// operations per connection.
public final class Balancer: Sendable {
    private struct Entry {
        let weight: Int
        let backup: Bool
        var current = 0
        var up = true
    }

    private let state: NIOLockedValueBox<[Entry]>

    /// - Parameter servers: `(weight, backup, disabled)` per server, in configuration order.
    public init(servers: [(weight: Int, backup: Bool, disabled: Bool)]) {
        state = NIOLockedValueBox(servers.map { Entry(weight: $0.weight, backup: $0.backup, up: !$0.disabled) })
    }

    /// The servers to try for one connection, best first: the next by weighted round robin, then the
    /// other eligible servers in round-robin order as fallbacks. Empty when nothing is eligible.
    public func order() -> [Int] {
        state.withLockedValue { entries in
            var eligible = entries.indices.filter { entries[$0].up && !entries[$0].backup && entries[$0].weight > 0 }
            if eligible.isEmpty {
                // HAProxy uses the first backup server when every normal server is down.
                eligible = entries.indices.filter { entries[$0].up && entries[$0].backup }.prefix(1).map { $0 }
            }
            guard !eligible.isEmpty else { return [] }
            // Smooth weighted round robin (as nginx and HAProxy): every eligible server gains its weight,
            // the richest is picked and pays the total.
            let total = eligible.reduce(0) { $0 + max(entries[$1].weight, 1) }
            var best = eligible[0]
            for index in eligible {
                entries[index].current += max(entries[index].weight, 1)
                if entries[index].current > entries[best].current { best = index }
            }
            entries[best].current -= total
            let rest = eligible.filter { $0 != best }.sorted { entries[$0].current > entries[$1].current }
            return [best] + rest
        }
    }

    /// Marks server `index` up or down (health checks, failed connects).
    public func setUp(_ index: Int, _ up: Bool) {
        state.withLockedValue { $0[index].up = up }
    }
}
