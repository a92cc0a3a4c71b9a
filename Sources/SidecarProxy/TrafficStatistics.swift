import Atomics
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The runtime API's traffic counters and live-session table, kept for the life of the process.
///
/// Counters are keyed by name (frontend, backend, `backend/server`), not by plan object, so they survive a
/// reload for every proxy and server that still exists, as HAProxy's do across a seamless reload. One
/// instance hangs off the `ConnectionRegistry`, which every configuration generation of a running proxy
/// shares.
///
/// Cost: the lock is taken when a connection opens, when it starts relaying and when it closes, never per
/// message. Bytes are counted per read burst with one uncontended atomic add on the connection's own
/// `LiveSession`; per-proxy byte totals are added when the session ends, and `show stat` adds the sessions
/// still open.
public final class TrafficStatistics: Sendable {
    private struct State {
        var frontends: [String: TrafficCounters] = [:]
        var backends: [String: TrafficCounters] = [:]
        var servers: [String: TrafficCounters] = [:]
        var sessions: [Int: LiveSession] = [:]
        var nextID = 1
    }

    private let state = NIOLockedValueBox(State())
    /// When these statistics started (the process start for a daemon): `show info`'s uptime.
    public let started = Date()

    public init() {}

    /// The counters of frontend `name`, created on first use.
    public func frontend(_ name: String) -> TrafficCounters {
        state.withLockedValue { Self.counters(&$0.frontends, name) }
    }

    /// The counters of backend `name`, created on first use.
    public func backend(_ name: String) -> TrafficCounters {
        state.withLockedValue { Self.counters(&$0.backends, name) }
    }

    /// The counters of server `server` in backend `backend`, created on first use.
    public func server(_ backend: String, _ server: String) -> TrafficCounters {
        state.withLockedValue { Self.counters(&$0.servers, "\(backend)/\(server)") }
    }

    /// Sessions open now, oldest first.
    public var sessions: [LiveSession] {
        state.withLockedValue { Array($0.sessions.values) }.sorted { $0.id < $1.id }
    }

    /// Starts counting a client connection just accepted on `frontend`; it ends when `client` closes.
    /// - Parameters:
    ///   - client: the client channel; closing it (`shutdown sessions`) ends the whole connection.
    ///   - peer: the client as the logs show it (`address:port`, `unix:<frontend>`).
    package func open(client: Channel, frontend: String, backend: String, peer: String) -> LiveSession {
        let session = state.withLockedValue { state in
            let counters = Self.counters(&state.frontends, frontend)
            let session = LiveSession(
                id: state.nextID, client: client, frontend: frontend, backend: backend, peer: peer,
                frontendCounters: counters, statistics: self)
            state.nextID += 1
            state.sessions[session.id] = session
            return session
        }
        session.frontendCounters.sessionOpened()
        client.closeFuture.whenComplete { _ in self.close(session) }
        return session
    }

    /// Counts `session` on `server` of its backend once it relays to it.
    func relaying(_ session: LiveSession, to server: String) -> (backend: TrafficCounters, server: TrafficCounters) {
        let counters = state.withLockedValue { state in
            (
                Self.counters(&state.backends, session.backend),
                Self.counters(&state.servers, "\(session.backend)/\(server)")
            )
        }
        counters.0.sessionOpened()
        counters.1.sessionOpened()
        return counters
    }

    /// Removes `session` and adds its bytes to the totals of its frontend, backend and server.
    private func close(_ session: LiveSession) {
        let removed = state.withLockedValue { $0.sessions.removeValue(forKey: session.id) != nil }
        guard removed else { return }
        session.retire()
    }

    private static func counters(_ table: inout [String: TrafficCounters], _ key: String) -> TrafficCounters {
        if let existing = table[key] { return existing }
        let created = TrafficCounters()
        table[key] = created
        return created
    }
}

/// Cumulative counters of one frontend, backend or server (HAProxy's `stot`, `scur`, `smax`, `bin`, `bout`,
/// `dreq`, `ereq`, `econ`). Atomics, so any event loop may count without a lock.
public final class TrafficCounters: Sendable {
    private let total = ManagedAtomic<Int>(0)
    private let current = ManagedAtomic<Int>(0)
    private let maximum = ManagedAtomic<Int>(0)
    private let closedBytesIn = ManagedAtomic<Int>(0)
    private let closedBytesOut = ManagedAtomic<Int>(0)
    private let failedConnects = ManagedAtomic<Int>(0)
    private let denied = ManagedAtomic<Int>(0)
    private let failedHandshakes = ManagedAtomic<Int>(0)

    init() {}

    /// Sessions since start (`stot`).
    public var sessionsTotal: Int { total.load(ordering: .relaxed) }
    /// Sessions open now (`scur`).
    public var sessionsCurrent: Int { current.load(ordering: .relaxed) }
    /// The most sessions open at once (`smax`).
    public var sessionsMaximum: Int { maximum.load(ordering: .relaxed) }
    /// Bytes from clients (`bin`) and to clients (`bout`) of sessions already closed; `show stat` adds the
    /// open ones.
    public var closedBytes: (in: Int, out: Int) {
        (closedBytesIn.load(ordering: .relaxed), closedBytesOut.load(ordering: .relaxed))
    }
    /// Failed connection attempts to a server (`econ`).
    public var connectionErrors: Int { failedConnects.load(ordering: .relaxed) }
    /// Clients refused by the frontend's rules after their handshake (`dreq`: `tcp-request session reject`,
    /// the peer allow-list).
    public var deniedRequests: Int { denied.load(ordering: .relaxed) }
    /// Client TLS handshakes that failed (`ereq`: no or untrusted certificate, timeout, garbage).
    public var requestErrors: Int { failedHandshakes.load(ordering: .relaxed) }

    func sessionOpened() {
        total.wrappingIncrement(ordering: .relaxed)
        let now = current.wrappingIncrementThenLoad(ordering: .relaxed)
        var seen = maximum.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = maximum.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func sessionClosed(bytesIn: Int, bytesOut: Int) {
        current.wrappingDecrement(ordering: .relaxed)
        closedBytesIn.wrappingIncrement(by: bytesIn, ordering: .relaxed)
        closedBytesOut.wrappingIncrement(by: bytesOut, ordering: .relaxed)
    }

    func connectFailed() { failedConnects.wrappingIncrement(ordering: .relaxed) }

    func requestDenied() { denied.wrappingIncrement(ordering: .relaxed) }

    func handshakeFailed() { failedHandshakes.wrappingIncrement(ordering: .relaxed) }
}
