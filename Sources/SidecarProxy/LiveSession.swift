import Atomics
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One client connection as the runtime API sees it (`show sess`, `shutdown sessions server`): where it came
/// from, which server it relays to, who the peer is, and its bytes so far.
///
/// Created by `TrafficStatistics.open` at accept and dropped when the client channel closes. The owning
/// `ProxyConnection` (on its event loop) counts bytes with one relaxed atomic add per read burst; the rest
/// changes at most twice per connection and sits behind a lock, read from the runtime API's thread.
public final class LiveSession: Sendable {
    private struct Details {
        var server: String?
        var subject: String?
        var backendCounters: TrafficCounters?
        var serverCounters: TrafficCounters?
        var retired = false
    }

    /// Increasing per process: HAProxy's session id in `show sess`.
    public let id: Int
    public let frontend: String
    public let backend: String
    /// `address:port`, or `unix:<frontend>`.
    public let peer: String
    public let started = Date()
    let frontendCounters: TrafficCounters
    private let client: Channel
    private let statistics: TrafficStatistics
    /// Stored in the object itself (`Synchronization.Atomic`), not boxed as `ManagedAtomic` is: counting a
    /// read then costs no retain and release of a box.
    private let fromClient = Atomic<Int>(0)
    private let fromServer = Atomic<Int>(0)
    private let killed = ManagedAtomic<Bool>(false)
    private let details = NIOLockedValueBox(Details())

    init(
        id: Int, client: Channel, frontend: String, backend: String, peer: String, frontendCounters: TrafficCounters,
        statistics: TrafficStatistics
    ) {
        self.id = id
        self.client = client
        self.frontend = frontend
        self.backend = backend
        self.peer = peer
        self.frontendCounters = frontendCounters
        self.statistics = statistics
    }

    /// The server relayed to; nil before the relay started (handshake, connecting) or when none was found.
    public var server: String? { details.withLockedValue { $0.server } }
    /// The client certificate's subject (TLS listeners).
    public var subject: String? { details.withLockedValue { $0.subject } }
    /// Bytes from the client (`bin`) and from the server (`bout`) so far.
    public var bytes: (in: Int, out: Int) { (fromClient.load(ordering: .relaxed), fromServer.load(ordering: .relaxed)) }

    /// Counts one read burst; `fromClient` is the client-to-server direction.
    @inline(__always)
    func add(_ count: Int, fromClient client: Bool) {
        if client {
            fromClient.wrappingAdd(count, ordering: .relaxed)
        } else {
            fromServer.wrappingAdd(count, ordering: .relaxed)
        }
    }

    /// Records the verified client certificate's subject.
    func setSubject(_ subject: String?) {
        details.withLockedValue { $0.subject = subject }
    }

    /// The connection relays to `server` from now on: counted as a session of the server and its backend.
    func relaying(to server: String) {
        let counters = statistics.relaying(self, to: server)
        details.withLockedValue {
            $0.server = server
            $0.backendCounters = counters.backend
            $0.serverCounters = counters.server
        }
    }

    /// A connect to `server` failed (`econ`).
    func connectFailed(to server: String) {
        statistics.server(backend, server).connectFailed()
        statistics.backend(backend).connectFailed()
    }

    /// The frontend's rules refused the client after its handshake (`dreq`).
    func denied() { frontendCounters.requestDenied() }

    /// The client's TLS handshake failed (`ereq`).
    func handshakeFailed(_ reason: HandshakeMetrics.FailureReason) {
        frontendCounters.handshakeFailed()
        statistics.handshakeMetrics(frontend).failed(reason)
    }

    /// The client's TLS handshake succeeded after `duration`.
    func handshakeCompleted(after duration: Duration) {
        statistics.handshakeMetrics(frontend).completed(after: duration)
    }

    /// Closes the client connection (the server side follows): `shutdown sessions`. The connection's log
    /// line then carries HAProxy's `K` termination state.
    public func shutdown() {
        killed.store(true, ordering: .relaxed)
        client.close(promise: nil)
    }

    /// Whether `shutdown` closed the connection.
    var wasShutDown: Bool { killed.load(ordering: .relaxed) }

    /// Adds this session's bytes to its proxies' totals; once.
    func retire() {
        let counters = details.withLockedValue { details -> [TrafficCounters]? in
            guard !details.retired else { return nil }
            details.retired = true
            return [frontendCounters] + [details.backendCounters, details.serverCounters].compactMap { $0 }
        }
        let bytes = self.bytes
        for counter in counters ?? [] { counter.sessionClosed(bytesIn: bytes.in, bytesOut: bytes.out) }
    }
}
