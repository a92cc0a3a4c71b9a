import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
        var handshakes: [String: HandshakeMetrics] = [:]
        var sessions: [Int: LiveSession] = [:]
        var nextID = 1
    }

    private let state = NIOLockedValueBox(State())
    /// When these statistics started (the process start for a daemon): `show info`'s uptime.
    public let started = Date()
    private let metrics: any MetricsFactory

    /// - Parameter metrics: where the event metrics (`HandshakeMetrics`) go; none by default.
    public init(metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.metrics = metrics
    }

    /// Drops the handshake metrics of every frontend but `names` (a reload removed them), so that their
    /// series leave the metrics backend.
    ///
    /// The series leave the backend under the lock: a `handshakeMetrics` call for the same name in between
    /// would otherwise be handed the series about to be destroyed.
    public func retireHandshakeMetrics(keeping names: Set<String>) {
        state.withLockedValue { state in
            for (name, metrics) in state.handshakes where !names.contains(name) {
                state.handshakes[name] = nil
                metrics.destroy()
            }
        }
    }

    /// The handshake metrics of TLS frontend `name`, created on first use.
    public func handshakeMetrics(_ name: String) -> HandshakeMetrics {
        state.withLockedValue { state in
            if let existing = state.handshakes[name] { return existing }
            let created = HandshakeMetrics(frontend: name, factory: metrics)
            state.handshakes[name] = created
            return created
        }
    }

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

    /// Starts counting a client connection just accepted on `frontend`; the caller ends it with `close(_:)`
    /// when `client` closes (one close callback per connection for everything that ends with it).
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
    func close(_ session: LiveSession) {
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
