import NIOConcurrencyHelpers
import SidecarConfig
import SidecarProxy
import SidecarTLS

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// HAProxy's runtime API (management.txt §9.3) for the commands that apply to sidecar, answering one command
/// line at a time with the text HAProxy would print.
///
/// Levels, as HAProxy: `user` may only look (`show info`, `show stat`, `show servers state`); `operator` also
/// sees sessions and certificates (`show sess`, `show ssl cert`); `admin` may also change servers (`disable`,
/// `enable`, `set server`, `shutdown sessions`). A command above the socket's level answers
/// `Permission denied`.
///
/// Reload: the API serves whichever `Proxy` the daemon last handed to `adopt`. Counters live in the
/// process-wide `TrafficStatistics` (by name), so they carry over. Server states and weights set here are
/// remembered by `backend/server` name and applied again to the new plan's servers of the same name at each
/// reload (what HAProxy does with `server-state-file`); they last until changed again or the process ends.
///
/// Thread-safe: the current proxy and the remembered states sit behind one lock; commands run on the stats
/// socket's event loop and only read the plan or call the balancer's own locked methods.
public final class RuntimeAPI: Sendable {
    /// A server setting changed at run time, to re-apply after a reload.
    private struct Override {
        var admin: ServerAdminState?
        var weight: Int?
    }

    private struct State {
        var proxy: Proxy
        var overrides: [String: Override] = [:]
    }

    private let state: NIOLockedValueBox<State>

    /// - Parameter proxy: the running proxy to report on and control.
    public init(proxy: Proxy) {
        state = NIOLockedValueBox(State(proxy: proxy))
    }

    /// Serves `proxy` from now on (after a reload), re-applying runtime server states and weights to the
    /// servers that still exist.
    public func adopt(_ proxy: Proxy) {
        let overrides = state.withLockedValue { state in
            state.proxy = proxy
            return state.overrides
        }
        for backend in StatTable.backends(of: proxy.plan) {
            for server in backend.servers {
                guard let override = overrides["\(backend.backend.name)/\(server.server.name)"] else { continue }
                if let weight = override.weight { backend.setWeight(of: server.index, to: weight) }
                if let admin = override.admin { backend.setAdministrativeState(of: server.index, to: admin) }
            }
            // Re-applied states are where the new configuration starts, not transitions (`chkdown`, `lastchg`).
            backend.restartHistory()
        }
    }

    /// The proxy served now (the last one adopted).
    var proxy: Proxy { state.withLockedValue { $0.proxy } }

    /// The commands, with the level each needs and its help line.
    static let commands: [(name: String, level: StatsSocket.Level, help: String)] = [
        ("help", .user, "help                                    : list the commands"),
        ("prompt", .user, "prompt                                  : toggle interactive mode with prompt"),
        ("quit", .user, "quit                                    : disconnect"),
        ("show info", .user, "show info                               : report information about the running process"),
        (
            "show stat", .user,
            "show stat                               : report counters for each proxy and server (CSV)"
        ),
        ("show servers state", .user, "show servers state [<backend>]          : dump volatile server information"),
        ("show sess", .operator, "show sess                               : report the list of current sessions"),
        ("show ssl cert", .operator, "show ssl cert [<crtfile>]               : display the SSL certificates used"),
        ("disable server", .admin, "disable server <bk>/<srv>               : disable a server for maintenance"),
        ("enable server", .admin, "enable server <bk>/<srv>                : enable a disabled server"),
        (
            "set server", .admin,
            "set server <bk>/<srv> state|weight <v>  : change a server's state (ready|drain|maint) or weight"
        ),
        ("shutdown sessions", .admin, "shutdown sessions server <bk>/<srv>     : kill sessions on a server"),
    ]

    /// The help text for `level`: the commands it may run.
    static func help(for level: StatsSocket.Level) -> String {
        "The following commands are valid at this level:\n"
            + commands.filter { rank($0.level) <= rank(level) }.map { "  \($0.help)\n" }.joined()
    }

    /// Answers one command (without its newline). The answer ends with an empty line, as HAProxy's do.
    /// `prompt` and `quit` are handled by the socket, not here.
    public func execute(_ line: String, level: StatsSocket.Level) -> String {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !words.isEmpty else { return "" }
        let joined = words.joined(separator: " ")
        guard let command = Self.commands.first(where: { joined == $0.name || joined.hasPrefix($0.name + " ") }) else {
            return "Unknown command: '\(joined)'\n" + Self.help(for: level) + "\n"
        }
        guard Self.rank(command.level) <= Self.rank(level) else { return "Permission denied\n\n" }
        let arguments = Array(words.dropFirst(command.name.split(separator: " ").count))
        switch command.name {
        case "help": return Self.help(for: level) + "\n"
        case "show info": return showInfo()
        case "show stat": return StatTable(proxy: proxy).csv + "\n"
        case "show servers state": return showServersState(backend: arguments.first)
        case "show sess": return showSessions()
        case "show ssl cert": return showCertificates(file: arguments.first)
        case "disable server": return withServer(arguments.first) { self.setAdmin(.maint, $0, $1) }
        case "enable server": return withServer(arguments.first) { self.setAdmin(.ready, $0, $1) }
        case "set server": return setServer(arguments)
        case "shutdown sessions":
            guard arguments.first == "server" else { return "Require 'server <backend>/<server>'.\n\n" }
            return withServer(arguments.dropFirst().first) { backend, server in
                let name = server.server.name
                for session in self.proxy.registry.statistics.sessions
                where session.backend == backend.backend.name && session.server == name {
                    session.shutdown()
                }
                return "\n"
            }
        default: return "Unknown command: '\(joined)'\n" + Self.help(for: level) + "\n"
        }
    }

    // MARK: show

    private func showInfo() -> String {
        let proxy = self.proxy
        let statistics = proxy.registry.statistics
        let uptime = Int(Date().timeIntervalSince(statistics.started))
        let total = proxy.plan.frontends.reduce(0) { $0 + statistics.frontend($1.frontend.name).sessionsTotal }
        let lines = [
            "Name: sidecar", "Version: \(Self.version)", "Pid: \(getpid())",
            "Uptime: \(uptime / 86_400)d \(uptime % 86_400 / 3600)h\(TextFormat.twoDigits(uptime % 3600 / 60))m"
                + TextFormat.twoDigits(uptime % 60) + "s",
            "Uptime_sec: \(uptime)",
            "Maxconn: \(proxy.plan.configuration.global.maxconn ?? 0)",
            "CurrConns: \(proxy.registry.count)", "CumConns: \(total)",
            "Nbfrontends: \(proxy.plan.frontends.count)",
            "Nbbackends: \(StatTable.backends(of: proxy.plan).count)",
        ]
        return lines.joined(separator: "\n") + "\n\n"
    }

    /// The version shown by `show info`.
    static let version = BuildInfo.version

    /// `show servers state` format 1, the columns of HAProxy 2.6 that apply; `-` where none does.
    private func showServersState(backend filter: String?) -> String {
        let backends = StatTable.backends(of: proxy.plan)
        if let filter, !backends.contains(where: { $0.backend.name == filter }) {
            return "Can't find backend.\n\n"
        }
        var text =
            "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
            + "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
            + "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
            + "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
        for (number, backend) in backends.enumerated() where filter == nil || backend.backend.name == filter {
            for server in backend.servers {
                let state = backend.serverState(of: server.index)
                let check = backend.checkReport(of: server.index)
                // srv_op_state: 0 stopped, 2 running. srv_admin_state: 0x01 forced maintenance, 0x04 maintenance
                // from the configuration, 0x08 forced drain.
                var admin = 0
                switch state.admin {
                case .maint: admin = server.server.disabled && state.admin == .maint ? 0x04 : 0x01
                case .drain: admin = 0x08
                case .ready: admin = 0
                }
                let (address, port): (String, String)
                switch server.server.address {
                case .tcp(let host, let tcpPort): (address, port) = (host, "\(tcpPort)")
                case .unix(let path): (address, port) = (path, "0")
                }
                let fields = [
                    "\(number + 1)", backend.backend.name, "\(server.index + 1)", server.server.name, address,
                    state.up ? "2" : "0", "\(admin)", "\(state.weight)", "\(server.server.weight)", "0",
                    check.checked ? "6" : "0", check.checked ? (check.up ? "3" : "1") : "0",
                    check.checked ? (check.up ? "\(server.server.fall)" : "0") : "0", check.checked ? "6" : "0",
                    "0", "0", "0", "-", port, "-", server.tls == nil ? "0" : "1", "0", "-", "-", "0",
                ]
                text += fields.joined(separator: " ") + "\n"
            }
        }
        return text + "\n"
    }

    /// One line per open connection: HAProxy's `show sess` shape plus peer subject and bytes.
    private func showSessions() -> String {
        let now = Date()
        var text = ""
        for session in proxy.registry.statistics.sessions {
            let age = Int(now.timeIntervalSince(session.started))
            let bytes = session.bytes
            let proto = session.peer.hasPrefix("unix:") ? "unix_stream" : "tcpv4"
            text +=
                "0x\(String(session.id, radix: 16)): proto=\(proto) src=\(session.peer) fe=\(session.frontend) "
                + "be=\(session.backend) srv=\(session.server ?? "<none>") age=\(Self.age(age)) "
                + "bin=\(bytes.in) bout=\(bytes.out)"
                + (session.subject.map { " subject=\"\(Self.insideQuotes($0))\"" } ?? "") + "\n"
        }
        return text + "\n"
    }

    /// A subject (its `\`, separators and control characters already written `\5C`, `\2F`, `\0A`...) with
    /// `"` written `\22` the same way, so that the quoted value ends where the subject does.
    private static func insideQuotes(_ subject: String) -> String {
        subject.contains("\"")
            ? subject.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\\22") : subject
    }

    private static func age(_ seconds: Int) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        if seconds < 86_400 { return "\(seconds / 3600)h\(seconds % 3600 / 60)m" }
        return "\(seconds / 86_400)d\(seconds % 86_400 / 3600)h"
    }

    /// Without a file: the `crt` files in use. With one: its first certificate, as HAProxy prints it.
    private func showCertificates(file: String?) -> String {
        let expiries = proxy.plan.certificateExpiries
        let files = Self.unique(expiries.filter { $0.role == .certificate }.map(\.file))
        guard let file else {
            return "# filename\n" + files.map { "\($0)\n" }.joined() + "\n"
        }
        guard Self.unique(expiries.map(\.file)).contains(file) else {
            return "Can't display the certificate: Not found or the certificate is a bundle!\n\n"
        }
        let certificate: PeerCertificate
        do {
            certificate = try PeerCertificate(pemFile: URL(fileURLWithPath: file))
        } catch {
            return "Can't display the certificate: \(error)\n\n"
        }
        var sans = certificate.dnsNames.map { "DNS:\($0)" } + certificate.ipAddresses.map { "IP Address:\($0)" }
        sans += certificate.uris.map { "URI:\($0)" }
        var lines = [
            "Filename: \(file)", "Status: Used", "Serial: \(certificate.serialHex)",
            "notAfter: \(certificate.notAfterText ?? "-")",
        ]
        if let notAfter = certificate.notAfter {
            lines.append("Days left: \(Int((Double(notAfter) - Date().timeIntervalSince1970) / 86_400))")
        }
        if !sans.isEmpty { lines.append("Subject Alternative Name: \(sans.joined(separator: ", "))") }
        lines += [
            "SHA1 FingerPrint: \(certificate.sha1Hex)", "Subject: \(certificate.subject)",
            "Issuer: \(certificate.issuer)",
        ]
        return lines.joined(separator: "\n") + "\n\n"
    }

    private static func unique(_ files: [String]) -> [String] {
        var seen = Set<String>()
        return files.filter { seen.insert($0).inserted }
    }

    // MARK: changing servers

    /// Finds `backend/server` and runs `body`; HAProxy's messages when either is missing.
    private func withServer(_ argument: String?, _ body: (BackendPlan, ServerPlan) -> String) -> String {
        guard let argument, let slash = argument.firstIndex(of: "/") else {
            return "Require 'backend/server'.\n\n"
        }
        let backendName = String(argument[..<slash])
        let serverName = String(argument[argument.index(after: slash)...])
        guard let backend = StatTable.backends(of: proxy.plan).first(where: { $0.backend.name == backendName }) else {
            return "No such backend.\n\n"
        }
        guard let server = backend.servers.first(where: { $0.server.name == serverName }) else {
            return "No such server.\n\n"
        }
        return body(backend, server)
    }

    private func setServer(_ arguments: [String]) -> String {
        guard arguments.count == 3 else {
            return "'set server <srv>' only supports 'state' and 'weight' (state: ready, drain, maint).\n\n"
        }
        return withServer(arguments[0]) { backend, server in
            switch arguments[1] {
            case "state":
                guard let admin = ServerAdminState(rawValue: arguments[2]) else {
                    return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
                }
                return self.setAdmin(admin, backend, server)
            case "weight":
                let text = arguments[2]
                guard let weight = Int(text.hasSuffix("%") ? String(text.dropLast()) : text), (0...256).contains(weight)
                else {
                    return "Integer value between 0 and 256 expected.\n\n"
                }
                let absolute = text.hasSuffix("%") ? server.server.weight * weight / 100 : weight
                backend.setWeight(of: server.index, to: absolute)
                self.remember(backend, server) { $0.weight = absolute }
                return "\n"
            default:
                return "'set server <srv>' only supports 'state' and 'weight' (state: ready, drain, maint).\n\n"
            }
        }
    }

    private func setAdmin(_ admin: ServerAdminState, _ backend: BackendPlan, _ server: ServerPlan) -> String {
        backend.setAdministrativeState(of: server.index, to: admin)
        remember(backend, server) { $0.admin = admin }
        return "\n"
    }

    private func remember(_ backend: BackendPlan, _ server: ServerPlan, _ change: (inout Override) -> Void) {
        state.withLockedValue {
            change(&$0.overrides["\(backend.backend.name)/\(server.server.name)", default: Override()])
        }
    }

    private static func rank(_ level: StatsSocket.Level) -> Int {
        switch level {
        case .user: return 0
        case .operator: return 1
        case .admin: return 2
        }
    }
}
