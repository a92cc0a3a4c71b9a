import NIOConcurrencyHelpers
import NIOCore

/// A count of open client connections with an optional `maxconn` limit: one for the process (global), one
/// per frontend, one per `bind`.
///
/// A listener reserves a slot in each of its gates before it accepts (`AcceptLimitHandler`), so no limit is
/// ever exceeded even when listeners on several event loops share a gate; a listener that finds a gate full
/// is registered as a waiter in the same locked step and woken when a connection leaves, so no wake-up is
/// lost.
///
/// Shared by listeners and connections on every event loop: the state sits behind a lock, taken a few times
/// per connection (reserve, accept, close), never per message.
public final class ConnectionGate: Sendable {
    /// Something to wake when a slot frees: a listener holding its accepts.
    final class Waiter: Sendable {
        private let wake: @Sendable () -> Void
        init(_ wake: @escaping @Sendable () -> Void) { self.wake = wake }
        func callAsFunction() { wake() }
    }

    private struct State {
        var limit: Int?
        var open = 0
        var reserved = 0
        var waiters: [ObjectIdentifier: Waiter] = [:]
    }

    /// The limit; nil means none.
    public var limit: Int? { state.withLockedValue { $0.limit } }
    private let state: NIOLockedValueBox<State>

    /// - Parameter maxconn: the limit; nil or 0 means unlimited.
    public init(maxconn: Int?) {
        state = NIOLockedValueBox(State(limit: Self.normalized(maxconn)))
    }

    private static func normalized(_ maxconn: Int?) -> Int? { maxconn.flatMap { $0 > 0 ? $0 : nil } }

    /// Changes the limit (the process-wide gate, kept across reloads); waiters are woken to re-check.
    func setLimit(_ maxconn: Int?) {
        leave { $0.limit = Self.normalized(maxconn) }
    }

    /// Open connections now (`%ac`, `%fc`), not counting slots reserved for accepts to come.
    public var count: Int { state.withLockedValue { $0.open } }

    /// Takes a slot for the next accept, or registers `waiter` to be woken when one frees.
    func reserve(orWait waiter: Waiter) -> Bool {
        state.withLockedValue { state in
            if let limit = state.limit, state.open + state.reserved >= limit {
                state.waiters[ObjectIdentifier(waiter)] = waiter
                return false
            }
            state.reserved += 1
            return true
        }
    }

    /// Turns a reserved slot into an open connection.
    func admitReserved() {
        state.withLockedValue { state in
            state.reserved -= 1
            state.open += 1
        }
    }

    /// Counts a connection accepted without a reservation.
    func admitUnreserved() {
        state.withLockedValue { $0.open += 1 }
    }

    /// Gives a reserved slot back (the listener closed, or another gate was full).
    func cancelReservation() {
        leave { $0.reserved -= 1 }
    }

    /// A connection that held a slot closed.
    func connectionClosed() {
        leave { $0.open -= 1 }
    }

    /// Stops waking `waiter` (its listener closed).
    func forget(_ waiter: Waiter) {
        _ = state.withLockedValue { $0.waiters.removeValue(forKey: ObjectIdentifier(waiter)) }
    }

    private func leave(_ change: (inout State) -> Void) {
        let woken: [Waiter] = state.withLockedValue { state in
            change(&state)
            guard !state.waiters.isEmpty else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter() }
    }
}

/// The gates a `bind` counts against: its own, its frontend's (shared by the frontend's binds) and the
/// process-wide one (shared by every frontend of a plan).
public struct ConnectionGates: Sendable {
    public var bind: ConnectionGate
    public var frontend: ConnectionGate
    public var global: ConnectionGate

    /// Unlimited, unshared gates.
    public init() {
        self.init(
            bind: ConnectionGate(maxconn: nil), frontend: ConnectionGate(maxconn: nil),
            global: ConnectionGate(maxconn: nil))
    }

    public init(bind: ConnectionGate, frontend: ConnectionGate, global: ConnectionGate) {
        self.bind = bind
        self.frontend = frontend
        self.global = global
    }
}
