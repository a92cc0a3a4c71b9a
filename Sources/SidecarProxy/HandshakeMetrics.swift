import CoreMetrics

/// The client-handshake metrics of one TLS frontend, recorded through swift-metrics as each handshake ends:
/// `sidecar_frontend_handshake_duration_seconds` (a timer; the Prometheus backend makes it a histogram with
/// `bucketBounds`) and `sidecar_frontend_handshake_failures_total{reason}`.
///
/// The metrics factory is injected rather than the global `MetricsSystem` so that several proxies in one
/// process (the tests) keep separate registries. Created once per frontend name by `TrafficStatistics` and
/// kept for the life of the process, like the other counters.
public final class HandshakeMetrics: Sendable {
    /// Why a client handshake failed, as the metrics label it.
    public enum FailureReason: Int, CaseIterable, Sendable {
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

    /// The metric names, for a backend's configuration (histogram buckets) and the README.
    public static let durationLabel = "sidecar_frontend_handshake_duration_seconds"
    public static let failuresLabel = "sidecar_frontend_handshake_failures_total"

    /// Upper bounds of the duration histogram's buckets; +Inf follows.
    public static let bucketBounds: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private let duration: CoreMetrics.Timer
    private let failures: [CoreMetrics.Counter]

    init(frontend: String, factory: any MetricsFactory) {
        duration = CoreMetrics.Timer(label: Self.durationLabel, dimensions: [("frontend", frontend)], factory: factory)
        failures = FailureReason.allCases.map {
            CoreMetrics.Counter(
                label: Self.failuresLabel, dimensions: [("frontend", frontend), ("reason", $0.label)], factory: factory)
        }
    }

    func completed(after elapsed: Duration) {
        let (seconds, attoseconds) = elapsed.components
        duration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    func failed(_ reason: FailureReason) {
        failures[reason.rawValue].increment()
    }

    /// Takes the series out of the metrics backend (the frontend is gone).
    func destroy() {
        duration.destroy()
        for counter in failures { counter.destroy() }
    }
}
