import Foundation
import NIOConcurrencyHelpers
import SidecarConfig
import SidecarProxy
import SidecarTLS

/// Reload outcomes for `sidecar_reloads_total` and `sidecar_last_reload_timestamp_seconds`; recorded by the
/// daemon once per SIGHUP, so a lock is cheap here.
public final class ReloadHistory: Sendable {
    private struct State {
        var successes = 0
        var failures = 0
        var last: Date?
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Counts one reload and when it ended.
    public func record(success: Bool, at date: Date = Date()) {
        state.withLockedValue { state in
            if success { state.successes += 1 } else { state.failures += 1 }
            state.last = date
        }
    }

    var snapshot: (successes: Int, failures: Int, last: Date?) {
        state.withLockedValue { ($0.successes, $0.failures, $0.last) }
    }
}

/// The Prometheus text exposition (format 0.0.4) of one running proxy, and its `/health` verdict.
///
/// Written directly rather than through swift-metrics + swift-prometheus: every value already lives in
/// `TrafficStatistics` / `TrafficCounters`, the balancers and the plan, and is read at scrape time (the same
/// way `show stat` builds its CSV). Feeding them through swift-metrics would mean either counting every event
/// twice (a per-connection cost) or re-setting a registry's gauges from the counters at each scrape, which
/// adds two dependencies to produce the same text. Nothing here runs per connection or per message.
struct MetricsExposition {
    /// One metric family: HELP, TYPE, then its samples.
    private struct Family {
        let name: String
        let type: String
        let help: String
        var samples: [(labels: [(String, String)], value: String)] = []
        /// Histogram series: the family name plus `_bucket`, `_sum` or `_count`.
        var suffixed: [(suffix: String, labels: [(String, String)], value: String)] = []
    }

    private var families: [Family] = []

    /// Builds every metric of `proxy` now.
    init(proxy: Proxy, reloads: ReloadHistory, version: String = "dev") {
        let table = StatTable(proxy: proxy)
        var accepted = Family(
            name: "sidecar_frontend_connections_total", type: "counter",
            help: "Client connections accepted by the frontend, including those refused after accepting.")
        var active = Family(
            name: "sidecar_frontend_connections_active", type: "gauge", help: "Client connections open now.")
        var refused = Family(
            name: "sidecar_frontend_connections_refused_total", type: "counter",
            help: "Client connections refused by the frontend, by reason (handshake: TLS handshake failed; "
                + "denied: refused by the frontend's rules or peer allow-list).")
        var frontendBytesIn = Family(
            name: "sidecar_frontend_bytes_in_total", type: "counter", help: "Bytes received from clients.")
        var frontendBytesOut = Family(
            name: "sidecar_frontend_bytes_out_total", type: "counter", help: "Bytes sent to clients.")
        var backendBytesIn = Family(
            name: "sidecar_backend_bytes_in_total", type: "counter",
            help: "Bytes received from clients of connections relayed to the backend.")
        var backendBytesOut = Family(
            name: "sidecar_backend_bytes_out_total", type: "counter",
            help: "Bytes sent to clients of connections relayed to the backend.")
        var backendConnections = Family(
            name: "sidecar_backend_connections_total", type: "counter",
            help: "Connections relayed to the backend.")
        var serverBytesIn = Family(
            name: "sidecar_server_bytes_in_total", type: "counter",
            help: "Bytes received from clients of connections relayed to the server.")
        var serverBytesOut = Family(
            name: "sidecar_server_bytes_out_total", type: "counter",
            help: "Bytes sent to clients of connections relayed to the server.")
        var serverConnections = Family(
            name: "sidecar_server_connections_total", type: "counter", help: "Connections relayed to the server.")
        var serverErrors = Family(
            name: "sidecar_server_connect_errors_total", type: "counter",
            help: "Failed connection attempts to the server.")
        var serverUp = Family(
            name: "sidecar_server_up", type: "gauge",
            help: "1 when the balancer may pick the server (check passing, state ready, weight > 0), else 0.")
        var checkFailing = Family(
            name: "sidecar_server_check_failing", type: "gauge",
            help: "1 while the server's health check fails, else 0; only for servers with check.")
        for row in table.rows {
            let name = row["pxname"] ?? ""
            switch row["type"] {
            case "0":
                let labels = [("frontend", name)]
                accepted.samples.append((labels, row["stot"] ?? "0"))
                active.samples.append((labels, row["scur"] ?? "0"))
                refused.samples.append(([("frontend", name), ("reason", "handshake")], row["ereq"] ?? "0"))
                refused.samples.append(([("frontend", name), ("reason", "denied")], row["dreq"] ?? "0"))
                frontendBytesIn.samples.append((labels, row["bin"] ?? "0"))
                frontendBytesOut.samples.append((labels, row["bout"] ?? "0"))
            case "1":
                let labels = [("backend", name)]
                backendConnections.samples.append((labels, row["stot"] ?? "0"))
                backendBytesIn.samples.append((labels, row["bin"] ?? "0"))
                backendBytesOut.samples.append((labels, row["bout"] ?? "0"))
            default:
                let labels = [("backend", name), ("server", row["svname"] ?? "")]
                serverConnections.samples.append((labels, row["stot"] ?? "0"))
                serverBytesIn.samples.append((labels, row["bin"] ?? "0"))
                serverBytesOut.samples.append((labels, row["bout"] ?? "0"))
                serverErrors.samples.append((labels, row["econ"] ?? "0"))
            }
        }
        for backend in StatTable.backends(of: proxy.plan) {
            for server in backend.servers {
                let labels = [("backend", backend.backend.name), ("server", server.server.name)]
                let usable = StatTable.usable(backend.serverState(of: server.index))
                serverUp.samples.append((labels, usable ? "1" : "0"))
                let check = backend.checkReport(of: server.index)
                if check.checked { checkFailing.samples.append((labels, check.up ? "0" : "1")) }
            }
        }
        let history = reloads.snapshot
        var reloadsTotal = Family(
            name: "sidecar_reloads_total", type: "counter", help: "Configuration reloads (SIGHUP) by result.")
        reloadsTotal.samples = [
            ([("result", "success")], "\(history.successes)"), ([("result", "failure")], "\(history.failures)"),
        ]
        var lastReload = Family(
            name: "sidecar_last_reload_timestamp_seconds", type: "gauge",
            help: "When the last reload ended (or the process started), seconds since the epoch.")
        let last = history.last ?? proxy.registry.statistics.started
        lastReload.samples = [([], Self.number(last.timeIntervalSince1970))]
        var notAfter = Family(
            name: "sidecar_certificate_not_after_timestamp_seconds", type: "gauge",
            help:
                "The earliest notAfter of the certificates in each configured crt or ca-file, seconds since the epoch.")
        var earliest: [String: Date] = [:]
        for expiry in proxy.plan.certificateExpiries {
            earliest[expiry.file] = min(earliest[expiry.file] ?? expiry.notAfter, expiry.notAfter)
        }
        for (file, date) in earliest.sorted(by: { $0.key < $1.key }) {
            notAfter.samples.append(([("file", file)], Self.number(date.timeIntervalSince1970)))
        }
        var handshakeDuration = Family(
            name: "sidecar_frontend_handshake_duration_seconds", type: "histogram",
            help: "Time from accept to the end of successful client TLS handshakes.")
        var handshakeFailures = Family(
            name: "sidecar_frontend_handshake_failures_total", type: "counter",
            help: "Failed client TLS handshakes, by reason (certificate, timeout, protocol).")
        for frontend in proxy.plan.frontends where frontend.binds.contains(where: { $0.tls != nil }) {
            let name = frontend.frontend.name
            let counters = proxy.registry.statistics.frontend(name)
            let (buckets, sum) = counters.handshakeDurations
            var cumulative = 0
            for (index, count) in buckets.enumerated() {
                cumulative += count
                let bound =
                    index < TrafficCounters.handshakeBucketBounds.count
                    ? Self.number(TrafficCounters.handshakeBucketBounds[index]) : "+Inf"
                handshakeDuration.suffixed.append(("_bucket", [("frontend", name), ("le", bound)], "\(cumulative)"))
            }
            handshakeDuration.suffixed.append(("_sum", [("frontend", name)], Self.number(sum)))
            handshakeDuration.suffixed.append(("_count", [("frontend", name)], "\(cumulative)"))
            for reason in TrafficCounters.HandshakeFailureReason.allCases {
                handshakeFailures.samples.append(
                    ([("frontend", name), ("reason", reason.label)], "\(counters.handshakeFailures(reason))"))
            }
        }
        var build = Family(name: "sidecar_build_info", type: "gauge", help: "Always 1; the build's version.")
        build.samples = [([("version", version)], "1")]
        families = [
            accepted, active, refused, frontendBytesIn, frontendBytesOut, backendConnections, backendBytesIn,
            backendBytesOut, serverConnections, serverBytesIn, serverBytesOut, serverErrors, serverUp, checkFailing,
            reloadsTotal, lastReload, notAfter, handshakeDuration, handshakeFailures, build,
        ]
    }

    /// The exposition text; every family has HELP and TYPE even when it has no sample.
    var text: String {
        var text = ""
        for family in families {
            text += "# HELP \(family.name) \(Self.escapeHelp(family.help))\n"
            text += "# TYPE \(family.name) \(family.type)\n"
            for sample in family.samples {
                text += family.name
                if !sample.labels.isEmpty {
                    text +=
                        "{" + sample.labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                text += " \(sample.value)\n"
            }
            for sample in family.suffixed {
                text += family.name + sample.suffix
                if !sample.labels.isEmpty {
                    text +=
                        "{" + sample.labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                text += " \(sample.value)\n"
            }
        }
        return text
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

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
    }

    private static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func escapeLabel(_ text: String) -> String {
        escapeHelp(text).replacingOccurrences(of: "\"", with: "\\\"")
    }

    private static func escapeJSON(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
