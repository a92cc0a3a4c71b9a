import NIOConcurrencyHelpers
import Prometheus
import SidecarConfig
import SidecarProxy
import SidecarTLS

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `/metrics` and `/health` of one daemon: a swift-prometheus registry that renders the Prometheus text
/// format (0.0.4).
///
/// Two kinds of series feed it:
/// - event metrics, recorded through swift-metrics with `factory` as they happen: the client handshake
///   histogram and failures by reason (`HandshakeMetrics`), reloads (`ReloadHistory`);
/// - state that already lives in `TrafficStatistics`, the balancers and the plan (the numbers `show stat`
///   prints) is copied into the registry at each scrape: gauges are set, counters advance by what the source
///   counted since the previous scrape. Counting those events a second time on the data path would cost a
///   second set of atomic adds per connection and per read for the same number.
///
/// Series of frontends, backends and servers that a reload removed are unregistered at the next scrape.
/// Threading: scrapes may come from any event loop; they are serialised by a lock.
public final class MetricsExporter: Sendable {
    /// A series copied from the running proxy at scrape time, and the value it was last advanced to.
    enum Series {
        case counter(Counter, exported: Int)
        case gauge(Gauge)
    }

    private let registry = PrometheusCollectorRegistry()
    /// Where event metrics go; hand it to `ConnectionRegistry(metrics:)`.
    public let factory: PrometheusMetricsFactory
    /// The daemon's reload outcomes, recorded into this registry.
    public let reloads: ReloadHistory
    private let version: String
    private let series = NIOLockedValueBox([String: Series]())

    public init(version: String = BuildInfo.version, started: Date = Date()) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[HandshakeMetrics.durationLabel] = HandshakeMetrics.bucketBounds
        self.factory = factory
        self.version = version
        reloads = ReloadHistory(metrics: factory, started: started)
    }

    /// The exposition text of `proxy` now.
    func exposition(of proxy: Proxy) -> String {
        series.withLockedValue { series in
            var scrape = Scrape(registry: registry, previous: series)
            scrape.collect(proxy, version: version)
            series = scrape.finish()
        }
        return registry.emitToString()
    }

    /// What keeps `proxy` from being healthy: a backend with no usable server; empty when healthy. Frontends
    /// are all listening while the proxy runs (`Proxy.start` and `reload` bind every one or fail), so only a
    /// stopped proxy (`stopping`) fails that part.
    static func problems(proxy: Proxy, stopping: Bool) -> [String] {
        var problems: [String] = []
        if stopping { problems.append("frontends are not listening: stopping") }
        for backend in StatTable.backends(of: proxy.plan) {
            let usable = backend.servers.contains { StatTable.usable(backend.serverState(of: $0.index)) }
            if !usable { problems.append("backend '\(backend.backend.name)' has no server up") }
        }
        return problems
    }

    /// The `/health` body for `problems`.
    static func healthBody(_ problems: [String]) -> String {
        if problems.isEmpty { return "{\"status\":\"ok\"}\n" }
        let list = problems.map { "\"" + escapeJSON($0) + "\"" }.joined(separator: ",")
        return "{\"status\":\"unhealthy\",\"problems\":[\(list)]}\n"
    }

    private static func escapeJSON(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += "\\u" + TextFormat.hex4(scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
