extension Parser {
    /// Proxy keywords and the sections that accept them (HAProxy's "May be used in sections" line).
    static let proxyKeywords: [(keyword: String, frontend: Bool, backend: Bool, defaults: Bool)] = [
        ("bind", true, false, false),
        ("mode", true, true, true),
        ("timeout", true, true, true),
        ("maxconn", true, false, true),
        ("option", true, true, true),
        ("no", true, true, true),
        ("default_backend", true, false, true),
        ("use_backend", true, false, false),
        ("balance", false, true, true),
        ("retries", false, true, true),
        ("server", false, true, false),
        ("default-server", false, true, true),
        ("log", true, true, true),
        ("acl", true, false, false),
        ("tcp-request", true, false, false),
        ("dbus-max-message-size", true, false, true),
        ("dbus-register-name", true, false, false),
        ("dbus-register-method", true, false, false),
    ]

    static let timeoutNames = ["connect", "client", "server", "tunnel", "client-fin", "server-fin", "check"]
    static let httpTimeoutNames = ["http-request", "http-keep-alive"]
    static let optionNames = ["redispatch", "tcplog", "dontlognull", "dbus"]

    /// sidecar never retries a failed connection on the same server, so turning redispatch off cannot be
    /// honoured; said rather than silently ignored.
    static let alwaysRedispatches =
        "sidecar always retries a failed connection on another server; turning 'option redispatch' off has no effect"

    mutating func parseProxy(_ statement: Lexer.Statement, into draft: inout ProxyDraft) {
        let words = statement.words
        let location = statement.location
        let keyword = words[0]
        let kind = draft.kind
        if let ignored = IgnoredKeyword.match(words, inGlobal: false) {
            warning("'\(ignored.keyword)' ignored: \(ignored.reason)", at: location)
            return
        }
        guard let entry = Self.proxyKeywords.first(where: { $0.keyword == keyword }) else {
            if let reason = RejectedKeyword.reason(forProxyKeyword: keyword) {
                error(reason, at: location)
            } else {
                let candidates = Self.proxyKeywords.filter { allowed($0, in: kind) }.map(\.keyword)
                unknown(keyword, in: kind.rawValue, candidates: candidates, at: location)
            }
            return
        }
        guard allowed(entry, in: kind) else {
            let places = [
                entry.frontend ? "frontend" : nil, entry.backend ? "backend" : nil, "listen",
                entry.defaults ? "defaults" : nil,
            ]
            let allowedIn = places.compactMap { $0 }.joined(separator: ", ")
            error("'\(keyword)' is not allowed in a '\(kind.rawValue)' section (only in \(allowedIn))", at: location)
            return
        }
        switch keyword {
        case "bind":
            parseBind(words, into: &draft, at: location)
        case "mode":
            guard let mode = argument(words, 1, for: keyword, what: "'tcp'", at: location) else { return }
            if mode == "tcp" {
                expectEnd(words, after: 2, for: keyword, at: location)
            } else if mode == "http" || mode == "health" {
                error(RejectedKeyword.reason(forMode: mode), at: location)
            } else {
                error("unknown mode '\(mode)'", at: location, suggestion: "tcp")
            }
        case "timeout":
            parseTimeout(words, into: &draft, at: location)
        case "maxconn":
            if let value = integer(words, 1, for: keyword, at: location) {
                draft.maxconn = value
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "option", "no":
            parseOption(words, into: &draft, at: location)
        case "default_backend":
            if let name = argument(words, 1, for: keyword, what: "a backend name", at: location) {
                draft.defaultBackend = (name, location)
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "use_backend":
            guard let name = argument(words, 1, for: keyword, what: "a backend name", at: location) else { return }
            if words.count > 2 {
                error(
                    "conditions on 'use_backend' are not supported yet; write 'use_backend \(name)' alone or use "
                        + "'default_backend'",
                    at: location
                )
                return
            }
            if name.contains("%[") {
                error("dynamic backend names in 'use_backend' are not supported", at: location)
                return
            }
            if draft.useBackend == nil { draft.useBackend = (name, location) }
        case "balance":
            guard let name = argument(words, 1, for: keyword, what: "an algorithm", at: location) else { return }
            guard let balance = Backend.Balance(rawValue: name) else {
                error(
                    "'balance \(name)' is not supported (supported: roundrobin, static-rr, leastconn, first)",
                    at: location,
                    suggestion: EditDistance.suggestion(
                        for: name,
                        among: ["roundrobin", "static-rr", "leastconn", "first"]
                    )
                )
                return
            }
            draft.balance = balance
            expectEnd(words, after: 2, for: keyword, at: location)
        case "retries":
            if let value = integer(words, 1, for: keyword, at: location) {
                draft.retries = value
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "server":
            parseServer(words, into: &draft, at: location)
        case "default-server":
            var options = draft.defaultServer
            parseServerOptions(words, from: 1, into: &options, at: location)
            draft.defaultServer = options
        case "acl":
            parseACL(words, into: &draft, at: location)
        case "tcp-request":
            parseTCPRequest(words, into: &draft, at: location)
        case "dbus-max-message-size", "dbus-register-name", "dbus-register-method":
            parseDBus(words, into: &draft, at: location)
        case "log":
            error(
                "per-proxy 'log' targets are not supported; write 'log global' and set targets in 'global'",
                at: location
            )
        default:
            unknown(keyword, in: kind.rawValue, candidates: [], at: location)
        }
    }

    private func allowed(
        _ entry: (keyword: String, frontend: Bool, backend: Bool, defaults: Bool),
        in kind: SectionKind
    ) -> Bool {
        switch kind {
        case .defaults: return entry.defaults
        case .frontend: return entry.frontend
        case .backend: return entry.backend
        case .listen: return entry.frontend || entry.backend
        case .global: return false
        }
    }

    private mutating func parseTimeout(_ words: [String], into draft: inout ProxyDraft, at location: SourceLocation) {
        guard words.count >= 2 else {
            error("'timeout' expects one of \(Self.timeoutNames.joined(separator: ", ")) and a time", at: location)
            return
        }
        let name = words[1]
        if Self.httpTimeoutNames.contains(name) {
            error("'timeout \(name)' is HTTP-only; sidecar is a TCP-only proxy", at: location)
            return
        }
        guard Self.timeoutNames.contains(name) else {
            error(
                "unknown timeout '\(name)' (supported: \(Self.timeoutNames.joined(separator: ", ")))",
                at: location,
                suggestion: EditDistance.suggestion(for: name, among: Self.timeoutNames)
            )
            return
        }
        guard let value = time(words, 2, for: "timeout \(name)", at: location) else { return }
        expectEnd(words, after: 3, for: "timeout \(name)", at: location)
        switch name {
        case "connect": draft.timeouts.connect = value
        case "client": draft.timeouts.client = value
        case "server": draft.timeouts.server = value
        case "tunnel": draft.timeouts.tunnel = value
        case "client-fin": draft.timeouts.clientFin = value
        case "server-fin": draft.timeouts.serverFin = value
        default: draft.timeouts.check = value
        }
    }

    /// `option NAME [args]` and `no option NAME`.
    private mutating func parseOption(_ words: [String], into draft: inout ProxyDraft, at location: SourceLocation) {
        let negated = words[0] == "no"
        let optionIndex = negated ? 2 : 1
        if negated && (words.count < 2 || words[1] != "option") {
            error("'no' must be followed by 'option'", at: location)
            return
        }
        guard optionIndex < words.count else {
            error("'option' expects a name", at: location)
            return
        }
        let name = words[optionIndex]
        if let reason = RejectedKeyword.reason(forOption: name) {
            error(reason, at: location)
            return
        }
        switch name {
        case "redispatch":
            guard draft.kind.hasBackend else {
                error("'option redispatch' is not allowed in a 'frontend' section", at: location)
                return
            }
            if negated {
                draft.redispatch = false
                expectEnd(words, after: 3, for: "no option redispatch", at: location)
                warning(Self.alwaysRedispatches, at: location)
            } else if words.count > 2 {
                // `option redispatch <interval>`: 0 disables it; any other value keeps it on.
                guard let interval = Int(words[2]) else {
                    error("'option redispatch' expects an optional number, not '\(words[2])'", at: location)
                    return
                }
                draft.redispatch = interval != 0
                expectEnd(words, after: 3, for: "option redispatch", at: location)
                if interval == 0 { warning(Self.alwaysRedispatches, at: location) }
            } else {
                draft.redispatch = true
            }
        case "tcplog":
            guard draft.kind.hasFrontend else {
                error("'option tcplog' is not allowed in a 'backend' section", at: location)
                return
            }
            draft.tcplog = !negated
            expectEnd(words, after: optionIndex + 1, for: "option tcplog", at: location)
        case "dbus":
            guard draft.kind.hasFrontend else {
                error(
                    "'option dbus' is not allowed in a 'backend' section (only in frontend, listen, defaults)",
                    at: location)
                return
            }
            draft.dbus = !negated
            expectEnd(words, after: optionIndex + 1, for: negated ? "no option dbus" : "option dbus", at: location)
        case "dontlognull":
            warning("'no option dontlognull' ignored: sidecar logs every connection", at: location)
        default:
            error(
                "unsupported option '\(name)'",
                at: location,
                suggestion: EditDistance.suggestion(for: name, among: Self.optionNames)
            )
        }
    }
}
