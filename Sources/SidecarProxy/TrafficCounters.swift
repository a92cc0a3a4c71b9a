import Atomics

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
    /// Per bucket of `handshakeBucketBounds` (the last one is +Inf), not cumulative.
    private let handshakeBuckets = (0...TrafficCounters.handshakeBucketBounds.count).map { _ in ManagedAtomic<Int>(0) }
    private let handshakeMicroseconds = ManagedAtomic<Int>(0)
    private let failuresByReason = HandshakeFailureReason.allCases.map { _ in ManagedAtomic<Int>(0) }

    /// Upper bounds, in seconds, of the client handshake-duration histogram (Prometheus `le`); +Inf follows.
    public static let handshakeBucketBounds: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    /// Why a client handshake failed, as the metrics label it.
    public enum HandshakeFailureReason: Int, CaseIterable, Sendable {
        /// No certificate, an untrusted, expired or revoked one, or another name.
        case certificate
        /// The client did not finish within `handshake-timeout`.
        case timeout
        /// Anything else: protocol or version mismatch, no shared cipher, garbage, a closed connection.
        case protocolError

        public var label: String {
            switch self {
            case .certificate: return "certificate"
            case .timeout: return "timeout"
            case .protocolError: return "protocol"
            }
        }
    }

    init() {}

    /// Successful client handshakes by duration bucket (not cumulative; the last is +Inf), and their total
    /// duration in seconds.
    public var handshakeDurations: (buckets: [Int], sumSeconds: Double) {
        (
            handshakeBuckets.map { $0.load(ordering: .relaxed) },
            Double(handshakeMicroseconds.load(ordering: .relaxed)) / 1e6
        )
    }

    /// Failed client handshakes for one reason.
    public func handshakeFailures(_ reason: HandshakeFailureReason) -> Int {
        failuresByReason[reason.rawValue].load(ordering: .relaxed)
    }

    func handshakeCompleted(after duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let index = Self.handshakeBucketBounds.firstIndex { seconds <= $0 } ?? Self.handshakeBucketBounds.count
        handshakeBuckets[index].wrappingIncrement(ordering: .relaxed)
        handshakeMicroseconds.wrappingIncrement(by: Int(seconds * 1e6), ordering: .relaxed)
    }

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

    func handshakeFailed(_ reason: HandshakeFailureReason) {
        failedHandshakes.wrappingIncrement(ordering: .relaxed)
        failuresByReason[reason.rawValue].wrappingIncrement(ordering: .relaxed)
    }
}
