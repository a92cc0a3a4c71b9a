import Prometheus
import SidecarProxy
import SidecarTLS

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension MetricsExporter {
    /// One scrape's copy of the proxy's state into the registry; see `MetricsExporter` for why.
    struct Scrape {
        private let registry: PrometheusCollectorRegistry
        private var previous: [String: Series]
        private var current: [String: Series] = [:]

        init(registry: PrometheusCollectorRegistry, previous: [String: Series]) {
            self.registry = registry
            self.previous = previous
        }

        /// Every state-derived series of `proxy`.
        mutating func collect(_ proxy: Proxy, version: String) {
            let table = StatTable(proxy: proxy)
            for row in table.rows {
                let name = row["pxname"] ?? ""
                func value(_ column: String) -> Int { Int(row[column] ?? "") ?? 0 }
                switch row["type"] {
                case "0":
                    let labels = [("frontend", name)]
                    count(
                        "sidecar_frontend_connections_total", labels, value("stot"),
                        "Client connections accepted by the frontend, including those refused after accepting.")
                    gauge(
                        "sidecar_frontend_connections_active", labels, Double(value("scur")),
                        "Client connections open now.")
                    let refused =
                        "Client connections refused by the frontend, by reason (handshake: TLS handshake failed; "
                        + "denied: refused by the frontend's rules or peer allow-list)."
                    count(
                        "sidecar_frontend_connections_refused_total", labels + [("reason", "handshake")], value("ereq"),
                        refused)
                    count(
                        "sidecar_frontend_connections_refused_total", labels + [("reason", "denied")], value("dreq"),
                        refused)
                    count("sidecar_frontend_bytes_in_total", labels, value("bin"), "Bytes received from clients.")
                    count("sidecar_frontend_bytes_out_total", labels, value("bout"), "Bytes sent to clients.")
                    if row["dbus_err"] != nil {
                        count(
                            "sidecar_dbus_registrations_accepted_total", labels, value("dbus_reg_acc"),
                            "Register calls whose name the client certificate allows (dbus-register-name).")
                        count(
                            "sidecar_dbus_registrations_refused_total", labels, value("dbus_reg_ref"),
                            "Register calls refused by dbus-register-name; each closed its connection.")
                        count(
                            "sidecar_dbus_protocol_errors_total", labels, value("dbus_err"),
                            "Connections closed for a malformed D-Bus stream, a limit, or a message declaring Unix "
                                + "fds.")
                        count(
                            "sidecar_dbus_unix_fd_negotiations_refused_total", labels, value("dbus_fd_ref"),
                            "NEGOTIATE_UNIX_FD requests answered with ERROR by sidecar instead of the server.")
                    }
                case "1":
                    relayed("backend", [("backend", name)], value)
                default:
                    let labels = [("backend", name), ("server", row["svname"] ?? "")]
                    relayed("server", labels, value)
                    count(
                        "sidecar_server_connect_errors_total", labels, value("econ"),
                        "Failed connection attempts to the server.")
                    if row["check_status"].map({ !$0.isEmpty }) == true {
                        // Health checks start again with a reload, so this count can start again from 0.
                        count(
                            "sidecar_server_check_failures_total", labels, value("chkfail"),
                            "Health checks that failed while the server was up (HAProxy's chkfail).", restarts: true)
                    }
                }
            }
            for backend in StatTable.backends(of: proxy.plan) {
                for server in backend.servers {
                    let labels = [("backend", backend.backend.name), ("server", server.server.name)]
                    let usable = StatTable.usable(backend.serverState(of: server.index))
                    gauge(
                        "sidecar_server_up", labels, usable ? 1 : 0,
                        "1 when the balancer may pick the server (check passing, state ready, weight > 0), else 0.")
                    let check = backend.checkReport(of: server.index)
                    if check.checked {
                        gauge(
                            "sidecar_server_check_failing", labels, check.up ? 0 : 1,
                            "1 while the server's health check fails, else 0; only for servers with check.")
                    }
                }
            }
            var earliest: [String: Date] = [:]
            for expiry in proxy.plan.certificateExpiries {
                earliest[expiry.file] = min(earliest[expiry.file] ?? expiry.notAfter, expiry.notAfter)
            }
            for (file, date) in earliest {
                gauge(
                    "sidecar_certificate_not_after_timestamp_seconds", [("file", file)], date.timeIntervalSince1970,
                    "The earliest notAfter of the certificates in each configured crt or ca-file, seconds since "
                        + "the epoch.")
            }
            // The handshake series of every TLS frontend exist from the start, at zero; those of frontends a
            // reload removed go.
            let tlsFrontends = proxy.plan.frontends.filter { $0.binds.contains { $0.tls != nil } }.map(\.frontend.name)
            proxy.registry.statistics.retireHandshakeMetrics(keeping: Set(tlsFrontends))
            for name in tlsFrontends { _ = proxy.registry.statistics.handshakeMetrics(name) }
            gauge(
                "sidecar_build_info", [("version", version), ("openssl", OpenSSLLibrary.version)], 1,
                "Always 1; the build's version and the OpenSSL library it runs with.")
        }

        /// The series to keep for the next scrape; those of this scrape's predecessor that did not come back
        /// (a reload removed their frontend, backend or server) leave the registry.
        func finish() -> [String: Series] {
            for (key, series) in previous where current[key] == nil {
                switch series {
                case .counter(let counter, _): registry.unregisterCounter(counter)
                case .gauge(let gauge): registry.unregisterGauge(gauge)
                }
            }
            return current
        }

        /// The connections and bytes relayed to a backend or a server (`kind`), from its `show stat` row.
        private mutating func relayed(_ kind: String, _ labels: [(String, String)], _ value: (String) -> Int) {
            count("sidecar_\(kind)_connections_total", labels, value("stot"), "Connections relayed to the \(kind).")
            count(
                "sidecar_\(kind)_bytes_in_total", labels, value("bin"),
                "Bytes received from clients of connections relayed to the \(kind).")
            count(
                "sidecar_\(kind)_bytes_out_total", labels, value("bout"),
                "Bytes sent to clients of connections relayed to the \(kind).")
        }

        private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }

        private static func key(_ name: String, _ labels: [(String, String)]) -> String {
            ([name] + labels.flatMap { [$0.0, $0.1] }).joined(separator: "\u{0}")
        }

        /// Advances counter `name{labels}` to `value`. A value below the last one is, for most sources, a
        /// closing session's bytes moving between two tables, caught up at a later scrape rather than going
        /// backwards; for a source that `restarts` (a count kept per configuration) it is a new count, and the
        /// series starts again from 0, which Prometheus reads as a counter reset.
        private mutating func count(
            _ name: String, _ labels: [(String, String)], _ value: Int, _ help: String, restarts: Bool = false
        ) {
            let key = Self.key(name, labels)
            var counter: Counter
            var exported = 0
            if case .counter(let existing, let last)? = previous[key] {
                (counter, exported) = (existing, last)
                if restarts && value < last {
                    registry.unregisterCounter(existing)
                    previous[key] = nil
                    counter = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
                    exported = 0
                }
            } else {
                counter = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
            }
            if value > exported {
                counter.increment(by: Int64(value - exported))
                exported = value
            }
            current[key] = .counter(counter, exported: exported)
        }

        private mutating func gauge(_ name: String, _ labels: [(String, String)], _ value: Double, _ help: String) {
            let key = Self.key(name, labels)
            let gauge: Gauge
            if case .gauge(let existing)? = previous[key] {
                gauge = existing
            } else {
                gauge = registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
            }
            gauge.set(to: value)
            current[key] = .gauge(gauge)
        }
    }
}
