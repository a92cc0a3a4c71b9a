import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore

/// Every client channel being served, across event loops and configuration generations: what a
/// graceful stop waits for and what a hard stop closes.
///
/// Shared by all connections, so guarded by a lock; touched twice per connection (open and close).
public final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])
    /// Traffic counters and live sessions for the runtime API; shared by every generation, like the registry.
    public let statistics: TrafficStatistics

    /// - Parameter metrics: where event metrics go (the daemon's Prometheus registry); none by default.
    public init(metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        statistics = TrafficStatistics(metrics: metrics)
    }

    func register(_ channel: Channel) {
        channels.withLockedValue { $0[ObjectIdentifier(channel)] = channel }
    }

    func unregister(_ channel: Channel) {
        channels.withLockedValue { $0[ObjectIdentifier(channel)] = nil }
    }

    /// How many client connections are open now.
    public var count: Int { channels.withLockedValue { $0.count } }

    /// Closes every open client connection (hard stop); their server sides follow.
    public func closeAll() {
        for channel in channels.withLockedValue({ Array($0.values) }) { channel.close(promise: nil) }
    }
}
