import SidecarConfig
import SidecarProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// HAProxy's `show stat` CSV and `show servers state` for one running proxy: one FRONTEND row per frontend,
/// then for each backend one row per server and a BACKEND row.
///
/// Columns follow HAProxy 2.6's order and names up to `algo`; after it come sidecar's own (`option dbus`:
/// `dbus_reg_acc`, `dbus_reg_ref`, `dbus_err`, `dbus_fd_ref`, on FRONTEND rows of D-Bus frontends); a column that has no meaning in sidecar (HTTP,
/// queues, rates, agents) is left empty, as HAProxy leaves columns that do not apply to a row. Built on
/// demand from the live plan and the process-wide `TrafficStatistics`; nothing is cached. Session counts
/// (`scur`, `smax`, `stot`) and bytes come from `TrafficStatistics`, so they include connections that started
/// under an earlier configuration; states and weights come from the current plan's balancers.
struct StatTable {
    /// HAProxy's column names, in order.
    static let columns = [
        "pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq", "dresp", "ereq",
        "econ", "eresp", "wretr", "wredis", "status", "weight", "act", "bck", "chkfail", "chkdown", "lastchg",
        "downtime", "qlimit", "pid", "iid", "sid", "throttle", "lbtot", "tracked", "type", "rate", "rate_lim",
        "rate_max", "check_status", "check_code", "check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
        "hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt", "srv_abrt",
        "comp_in", "comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime", "rtime",
        "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc", "check_rise",
        "check_fall", "check_health", "agent_rise", "agent_fall", "agent_health", "addr", "cookie", "mode", "algo",
        "dbus_reg_acc", "dbus_reg_ref", "dbus_err", "dbus_fd_ref",
    ]

    /// One row: values by column name; absent means empty.
    typealias Row = [String: String]

    let rows: [Row]

    init(proxy: Proxy) {
        let statistics = proxy.registry.statistics
        let sessions = statistics.sessions
        let pid = "\(getpid())"
        var rows: [Row] = []
        for (number, frontend) in proxy.plan.frontends.enumerated() {
            let name = frontend.frontend.name
            let counters = statistics.frontend(name)
            let live = sessions.filter { $0.frontend == name }
            var row = Self.counterRow(counters, live: live)
            row["pxname"] = name
            row["svname"] = "FRONTEND"
            row["slim"] = frontend.frontend.maxconn.map(String.init) ?? ""
            row["status"] = "OPEN"
            row["pid"] = pid
            row["iid"] = "\(number + 1)"
            row["sid"] = "0"
            row["lbtot"] = nil
            row["type"] = "0"
            row["mode"] = "tcp"
            if frontend.frontend.dbus != nil {
                let dbus = counters.dbus
                row["dbus_reg_acc"] = "\(dbus.registrationsAccepted)"
                row["dbus_reg_ref"] = "\(dbus.registrationsRefused)"
                row["dbus_err"] = "\(dbus.protocolErrors)"
                row["dbus_fd_ref"] = "\(dbus.fdNegotiationsRefused)"
            }
            rows.append(row)
        }
        for (number, backend) in Self.backends(of: proxy.plan).enumerated() {
            let name = backend.backend.name
            let live = sessions.filter { $0.backend == name && $0.server != nil }
            var active = 0
            var backup = 0
            var weight = 0
            for server in backend.servers {
                let state = backend.serverState(of: server.index)
                let check = backend.checkReport(of: server.index)
                let serverLive = live.filter { $0.server == server.server.name }
                var row = Self.counterRow(statistics.server(name, server.server.name), live: serverLive)
                row["pxname"] = name
                row["svname"] = server.server.name
                row["slim"] = server.server.maxconn.map(String.init) ?? ""
                row["status"] = Self.status(state, check)
                row["weight"] = "\(state.weight)"
                row["act"] = server.server.backup ? "0" : "1"
                row["bck"] = server.server.backup ? "1" : "0"
                row["pid"] = pid
                row["iid"] = "\(number + 1)"
                row["sid"] = "\(server.index + 1)"
                row["type"] = "2"
                let history = backend.history(of: server.index)
                row["lastchg"] = "\(history.secondsSinceChange)"
                if check.checked {
                    row["chkfail"] = "\(check.failedChecks)"
                    row["chkdown"] = "\(history.downTransitions)"
                    row["downtime"] = "\(history.downtimeSeconds)"
                    row["check_duration"] = check.lastDurationMilliseconds.map { "\($0)" } ?? ""
                    row["check_status"] = Self.checkStatus(check, tls: server.tls != nil)
                    row["check_desc"] =
                        check.lastFailure ?? (server.tls != nil ? "Layer6 check passed" : "Layer4 check passed")
                    row["check_rise"] = "\(server.server.rise)"
                    row["check_fall"] = "\(server.server.fall)"
                }
                row["dreq"] = nil
                row["ereq"] = nil
                row["addr"] = "\(server.server.address)"
                row["mode"] = "tcp"
                rows.append(row)
                if Self.usable(state) {
                    if server.server.backup { backup += 1 } else { active += 1 }
                    if !server.server.backup { weight += state.weight }
                }
            }
            var row = Self.counterRow(statistics.backend(name), live: live)
            row["pxname"] = name
            row["svname"] = "BACKEND"
            row["status"] = active + backup > 0 ? "UP" : "DOWN"
            let history = backend.history(of: nil)
            row["chkdown"] = "\(history.downTransitions)"
            row["lastchg"] = "\(history.secondsSinceChange)"
            row["downtime"] = "\(history.downtimeSeconds)"
            row["weight"] = "\(weight)"
            row["act"] = "\(active)"
            row["bck"] = "\(backup)"
            row["pid"] = pid
            row["iid"] = "\(number + 1)"
            row["sid"] = "0"
            row["type"] = "1"
            row["mode"] = "tcp"
            row["algo"] = backend.backend.balance.rawValue
            rows.append(row)
        }
        self.rows = rows
    }

    /// The CSV as HAProxy prints it: a `# `-prefixed header, every line ending with a comma, then an empty line.
    var csv: String {
        var text = "# " + Self.columns.joined(separator: ",") + ",\n"
        for row in rows {
            text += Self.columns.map { Self.escape(row[$0] ?? "") }.joined(separator: ",") + ",\n"
        }
        return text
    }

    /// Every distinct backend a frontend of `plan` uses, in first-use order.
    static func backends(of plan: ProxyPlan) -> [BackendPlan] {
        var seen = Set<String>()
        var result: [BackendPlan] = []
        for frontend in plan.frontends where seen.insert(frontend.backend.backend.name).inserted {
            result.append(frontend.backend)
        }
        return result
    }

    /// Whether the balancer may pick the server: up, ready, weighted.
    static func usable(_ state: ServerRuntimeState) -> Bool {
        state.up && state.admin == .ready && state.weight > 0
    }

    /// HAProxy's `status` for a server row.
    static func status(_ state: ServerRuntimeState, _ check: BackendPlan.CheckReport) -> String {
        switch state.admin {
        case .maint: return "MAINT"
        case .drain: return state.up ? "DRAIN" : "DOWN"
        case .ready:
            if !state.up { return "DOWN" }
            if !check.checked { return "no check" }
            return state.weight == 0 ? "NOLB" : "UP"
        }
    }

    /// HAProxy's short check result: L4OK/L6OK, L4TOUT, L4CON, L6RSP.
    static func checkStatus(_ check: BackendPlan.CheckReport, tls: Bool) -> String {
        guard let failure = check.lastFailure else { return tls ? "L6OK" : "L4OK" }
        if failure.hasPrefix("Layer4 timeout") { return "L4TOUT" }
        if failure.hasPrefix("Layer4") { return "L4CON" }
        if failure.contains("timeout") { return "L6TOUT" }
        return "L6RSP"
    }

    private static func counterRow(_ counters: TrafficCounters, live: [LiveSession]) -> Row {
        var bytesIn = counters.closedBytes.in
        var bytesOut = counters.closedBytes.out
        for session in live {
            let bytes = session.bytes
            bytesIn += bytes.in
            bytesOut += bytes.out
        }
        return [
            "scur": "\(counters.sessionsCurrent)", "smax": "\(counters.sessionsMaximum)",
            "stot": "\(counters.sessionsTotal)", "bin": "\(bytesIn)", "bout": "\(bytesOut)",
            "econ": "\(counters.connectionErrors)", "lbtot": "\(counters.sessionsTotal)",
            "dreq": "\(counters.deniedRequests)", "ereq": "\(counters.requestErrors)",
        ]
    }

    /// CSV fields never hold commas or newlines in HAProxy's output; replace them rather than quote.
    private static func escape(_ value: String) -> String {
        String(value.map { $0 == "," || $0 == "\n" ? " " : $0 })
    }
}
