import CoreMetrics

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reload outcomes, recorded through swift-metrics once per SIGHUP: `sidecar_reloads_total{result}` and
/// `sidecar_last_reload_timestamp_seconds` (the process start until the first reload).
public final class ReloadHistory: Sendable {
    private let successes: CoreMetrics.Counter
    private let failures: CoreMetrics.Counter
    private let last: CoreMetrics.Gauge

    /// - Parameters:
    ///   - metrics: the daemon's metrics factory (`MetricsExporter.factory`); none by default.
    ///   - started: when the process started, the last reload time until there is one.
    public init(metrics: any MetricsFactory = NOOPMetricsHandler.instance, started: Date = Date()) {
        successes = CoreMetrics.Counter(
            label: "sidecar_reloads_total", dimensions: [("result", "success")], factory: metrics)
        failures = CoreMetrics.Counter(
            label: "sidecar_reloads_total", dimensions: [("result", "failure")], factory: metrics)
        last = CoreMetrics.Gauge(label: "sidecar_last_reload_timestamp_seconds", factory: metrics)
        last.record(started.timeIntervalSince1970)
    }

    /// Counts one reload and when it ended.
    public func record(success: Bool, at date: Date = Date()) {
        (success ? successes : failures).increment()
        last.record(date.timeIntervalSince1970)
    }
}
