extension Parser {
    /// The `global` section while it is being parsed.
    struct GlobalDraft: Sendable {
        var global = Global()
        /// `ssl-server-verify`: the `verify` of a `server ... ssl` line that does not say.
        var sslServerVerify = TLSSettings.Verify.required
        /// `ssl-default-bind-*`.
        var bindTLS = TLSDefaults()
        /// `ssl-default-server-*`.
        var serverTLS = TLSDefaults()
    }

    /// `ssl-default-bind-*` or `ssl-default-server-*`: values for TLS lines that do not set their own.
    struct TLSDefaults: Sendable {
        var ciphers: String?
        var ciphersuites: String?
        var curves: String?
        var minVersion: TLSVersion?
        var maxVersion: TLSVersion?
        var sessionTickets = true
        /// `tune.ssl.cachesize` and `tune.ssl.lifetime` (bind side only).
        var sessionCacheSize: Int?
        var sessionLifetime: Duration?

        /// Fills what `settings` left unset.
        func apply(to settings: inout TLSSettings) {
            settings.ciphers = settings.ciphers ?? ciphers
            settings.ciphersuites = settings.ciphersuites ?? ciphersuites
            settings.curves = settings.curves ?? curves
            settings.minVersion = settings.minVersion ?? minVersion
            settings.maxVersion = settings.maxVersion ?? maxVersion
            if !sessionTickets { settings.sessionTickets = false }
            if let sessionCacheSize { settings.sessionCacheSize = sessionCacheSize }
            if let sessionLifetime { settings.sessionLifetime = sessionLifetime }
        }
    }

    static let globalKeywords = [
        "chroot", "unix-bind", "crt-base", "ca-base", "hard-stop-after", "maxconn", "ssl-default-bind-ciphers",
        "ssl-default-bind-ciphersuites", "ssl-default-bind-options", "ssl-default-bind-curves",
        "ssl-default-server-ciphers", "ssl-default-server-ciphersuites", "ssl-default-server-options",
        "ssl-default-server-curves", "ssl-server-verify", "log", "stats", "cert-expiry-warning",
        "metrics-bind", "nbthread", "tune.ssl.cachesize", "tune.ssl.lifetime", "tune.ssl.max-pending-handshakes",
    ]

    /// `KEYWORD N`: one integer in `range` and nothing after it; nil (with the error reported) otherwise.
    private mutating func soleInteger(
        _ words: [String], for keyword: String, in range: ClosedRange<Int>, at location: SourceLocation
    ) -> Int? {
        guard let value = integer(words, 1, for: keyword, in: range, at: location) else { return nil }
        expectEnd(words, after: 2, for: keyword, at: location)
        return value
    }

    mutating func parseGlobal(_ statement: Lexer.Statement) {
        let words = statement.words
        let location = statement.location
        let keyword = words[0]
        if let ignored = IgnoredKeyword.match(words, inGlobal: true) {
            warning("'\(ignored.keyword)' ignored: \(ignored.reason)", at: location)
            return
        }
        switch keyword {
        case "chroot":
            if let path = argument(words, 1, for: keyword, what: "a directory", at: location) {
                global.global.chroot = path
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "crt-base":
            if let path = argument(words, 1, for: keyword, what: "a directory", at: location) {
                global.global.crtBase = path
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "ca-base":
            if let path = argument(words, 1, for: keyword, what: "a directory", at: location) {
                global.global.caBase = path
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "hard-stop-after":
            if let value = time(words, 1, for: keyword, at: location) {
                global.global.hardStopAfter = value
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "maxconn":
            if let value = soleInteger(words, for: keyword, in: 1...Int(Int32.max), at: location) {
                global.global.maxconn = value
            }
        case "tune.ssl.max-pending-handshakes":
            if let value = soleInteger(words, for: keyword, in: 1...1_000_000, at: location) {
                global.global.maxPendingHandshakes = value
            }
        case "tune.ssl.cachesize":
            if let value = soleInteger(words, for: keyword, in: 0...10_000_000, at: location) {
                global.bindTLS.sessionCacheSize = value
            }
        case "tune.ssl.lifetime":
            // HAProxy reads a bare number here as seconds, not milliseconds.
            var value: Duration?
            if words.count > 1, let seconds = Int(words[1]) {
                value = .seconds(seconds)
            } else {
                value = time(words, 1, for: keyword, at: location)
            }
            if let value {
                if value < .seconds(1) {
                    error("'tune.ssl.lifetime' must be at least 1s", at: location)
                } else {
                    global.bindTLS.sessionLifetime = value
                    expectEnd(words, after: 2, for: keyword, at: location)
                }
            }
        case "nbthread":
            if let value = soleInteger(words, for: keyword, in: 1...1024, at: location) {
                global.global.nbthread = value
            }
        case "unix-bind":
            parseUnixBind(words, at: location)
        case "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-curves",
            "ssl-default-server-ciphers", "ssl-default-server-ciphersuites", "ssl-default-server-curves":
            guard let value = argument(words, 1, for: keyword, what: "an OpenSSL list", at: location) else { return }
            expectEnd(words, after: 2, for: keyword, at: location)
            var defaults = keyword.contains("-bind-") ? global.bindTLS : global.serverTLS
            if keyword.hasSuffix("-ciphers") {
                defaults.ciphers = value
            } else if keyword.hasSuffix("-ciphersuites") {
                defaults.ciphersuites = value
            } else {
                defaults.curves = value
            }
            if keyword.contains("-bind-") { global.bindTLS = defaults } else { global.serverTLS = defaults }
        case "ssl-default-bind-options", "ssl-default-server-options":
            var defaults = keyword.contains("-bind-") ? global.bindTLS : global.serverTLS
            parseSSLDefaultOptions(words, into: &defaults, at: location)
            if keyword.contains("-bind-") { global.bindTLS = defaults } else { global.serverTLS = defaults }
        case "ssl-server-verify":
            switch words.count > 1 ? words[1] : "" {
            case "required": global.sslServerVerify = .required
            case "none": global.sslServerVerify = .none
            default: error("'ssl-server-verify' expects 'required' or 'none'", at: location)
            }
            expectEnd(words, after: 2, for: keyword, at: location)
        case "cert-expiry-warning":
            if let days = integer(words, 1, for: keyword, in: 0...3650, at: location) {
                global.global.certExpiryWarningDays = days
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "metrics-bind":
            if let text = argument(words, 1, for: keyword, what: "an address such as 127.0.0.1:9100", at: location) {
                guard let address = Self.metricsAddress(text) else {
                    error(
                        "'metrics-bind' expects ADDR:PORT such as 127.0.0.1:9100 or [::1]:9100, not '\(text)'",
                        at: location)
                    return
                }
                global.global.metricsBind = address
                global.global.metricsBindLocation = location
                expectEnd(words, after: 2, for: keyword, at: location)
            }
        case "log":
            parseLog(words, at: location)
        case "stats":
            parseStats(words, at: location)
        default:
            if let reason = RejectedKeyword.reason(forProxyKeyword: keyword), keyword != "stats" {
                error(reason, at: location)
                return
            }
            let candidates = Self.globalKeywords + IgnoredKeyword.all.filter(\.inGlobal).map(\.keyword)
            unknown(keyword, in: "global", candidates: candidates, at: location)
        }
    }

    /// `metrics-bind`'s `ADDR:PORT`, `[V6]:PORT` or `*:PORT` (IPv4 any); nil when malformed. The port is 1-65535.
    static func metricsAddress(_ text: String) -> ListenAddress? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") || host.contains("[") || host.contains("]") {
            return nil
        }
        if host == "*" { host = "" }
        if !host.isEmpty, host.contains(where: { $0.isWhitespace || $0 == "/" }) { return nil }
        return .tcp(host: host, port: port)
    }

    /// `unix-bind [prefix P] [mode M] [user U] [uid N] [group G] [gid N]`.
    private mutating func parseUnixBind(_ words: [String], at location: SourceLocation) {
        var index = 1
        if words.count == 1 { error("'unix-bind' expects options: prefix, mode, user, uid, group, gid", at: location) }
        while index < words.count {
            let option = words[index]
            guard index + 1 < words.count else {
                error("'unix-bind \(option)' expects a value", at: location)
                return
            }
            let value = words[index + 1]
            switch option {
            case "prefix": global.global.unixBindPrefix = value
            case "mode":
                guard let mode = UInt32(value, radix: 8), mode <= 0o7777 else {
                    error("'unix-bind mode' expects an octal mode such as 660, not '\(value)'", at: location)
                    return
                }
                global.global.unixBind.mode = mode
            case "user": global.global.unixBind.user = value
            case "group": global.global.unixBind.group = value
            case "uid", "gid":
                guard let id = UInt32(value) else {
                    error("'unix-bind \(option)' expects a number, not '\(value)'", at: location)
                    return
                }
                if option == "uid" { global.global.unixBind.uid = id } else { global.global.unixBind.gid = id }
            default:
                error(
                    "unknown 'unix-bind' option '\(option)'",
                    at: location,
                    suggestion: EditDistance.suggestion(
                        for: option,
                        among: ["prefix", "mode", "user", "uid", "group", "gid"]
                    )
                )
                return
            }
            index += 2
        }
    }

    /// `ssl-default-{bind,server}-options`: only the options that set versions and tickets.
    /// `no-sslv3`, `no-tlsv10` and `no-tlsv11` raise the minimum version; they can never lower it below
    /// sidecar's TLS 1.2 floor.
    private mutating func parseSSLDefaultOptions(
        _ words: [String],
        into defaults: inout TLSDefaults,
        at location: SourceLocation
    ) {
        var index = 1
        while index < words.count {
            let option = words[index]
            switch option {
            case "ssl-min-ver", "ssl-max-ver":
                guard let version = tlsVersion(words, index + 1, for: option, at: location) else { return }
                if option == "ssl-min-ver" { defaults.minVersion = version } else { defaults.maxVersion = version }
                index += 2
                continue
            case "no-tls-tickets":
                defaults.sessionTickets = false
            case "no-sslv3", "no-tlsv10", "no-tlsv11":
                let floor: TLSVersion = option == "no-sslv3" ? .tls10 : option == "no-tlsv10" ? .tls11 : .tls12
                defaults.minVersion = max(defaults.minVersion ?? .tls12, floor)
            default:
                error(
                    "unsupported TLS option '\(option)' in '\(words[0])' (supported: ssl-min-ver, ssl-max-ver, "
                        + "no-tls-tickets, no-sslv3, no-tlsv10, no-tlsv11)",
                    at: location,
                    suggestion: EditDistance.suggestion(
                        for: option,
                        among: ["ssl-min-ver", "ssl-max-ver", "no-tls-tickets", "no-sslv3", "no-tlsv10", "no-tlsv11"]
                    )
                )
            }
            index += 1
        }
    }

    /// `ssl-min-ver`/`ssl-max-ver` values as HAProxy spells them.
    mutating func tlsVersion(_ words: [String], _ index: Int, for keyword: String, at location: SourceLocation)
        -> TLSVersion?
    {
        let names = TLSVersion.allCases.map(\.rawValue)
        guard index < words.count else {
            error("'\(keyword)' expects one of \(names.joined(separator: ", "))", at: location)
            return nil
        }
        guard let version = TLSVersion(rawValue: words[index]) else {
            error(
                "'\(keyword)' expects one of \(names.joined(separator: ", ")), not '\(words[index])'",
                at: location,
                suggestion: EditDistance.suggestion(for: words[index], among: names)
            )
            return nil
        }
        return version
    }

    /// `log <target> [len N] [format F] [sample R:S] <facility> [<level> [<minlevel>]]`: local targets only.
    private mutating func parseLog(_ words: [String], at location: SourceLocation) {
        guard words.count >= 2 else {
            error("'log' expects a target (stderr, stdout or /dev/log) and a facility", at: location)
            return
        }
        let destination: LogTarget.Destination
        switch words[1] {
        case "stderr", "fd@2": destination = .stderr
        case "stdout", "fd@1": destination = .stdout
        case "global":
            error("'log global' belongs in a proxy section; in 'global', name a target such as stderr", at: location)
            return
        case let path where path == "/dev/log" || path.hasPrefix("/run/systemd/journal/"):
            destination = .syslogSocket(path: path)
        default:
            error(
                "log target '\(words[1])' is not supported: use 'stderr', 'stdout', '/dev/log' or journald's "
                    + "'/run/systemd/journal/dev-log'",
                at: location
            )
            return
        }
        var index = 2
        var format: String?
        while index + 1 < words.count, ["len", "format", "sample"].contains(words[index]) {
            if words[index] == "format" { format = words[index + 1] }
            index += 2
        }
        guard index < words.count else {
            error("'log \(words[1])' expects a syslog facility such as 'local0' or 'daemon'", at: location)
            return
        }
        let facility = words[index]
        guard Self.syslogFacilities.contains(facility) else {
            error(
                "unknown syslog facility '\(facility)'",
                at: location,
                suggestion: EditDistance.suggestion(for: facility, among: Self.syslogFacilities)
            )
            return
        }
        var level: String?
        for word in words.dropFirst(index + 1).prefix(2) {
            guard Self.syslogLevels.contains(word) else {
                error(
                    "unknown syslog level '\(word)'",
                    at: location,
                    suggestion: EditDistance.suggestion(for: word, among: Self.syslogLevels)
                )
                return
            }
            level = level ?? word
        }
        expectEnd(words, after: min(words.count, index + 3), for: "log", at: location)
        global.global.logs.append(
            LogTarget(destination: destination, facility: facility, level: level, format: format, location: location)
        )
    }

    static let syslogFacilities = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp",
        "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ]
    static let syslogLevels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    /// `stats socket PATH [mode M] [level L]`; `stats timeout` is in `IgnoredKeyword`.
    private mutating func parseStats(_ words: [String], at location: SourceLocation) {
        guard words.count >= 2, words[1] == "socket" else {
            error(
                "only 'stats socket' is supported in 'global'",
                at: location,
                suggestion: words.count >= 2
                    ? EditDistance.suggestion(for: words[1], among: ["socket", "timeout"]) : nil
            )
            return
        }
        guard words.count >= 3 else {
            error("'stats socket' expects a path", at: location)
            return
        }
        let address: ListenAddress
        if words[2].hasPrefix("/") {
            address = .unix(path: words[2])
        } else if words[2].hasPrefix("unix@") {
            address = .unix(path: String(words[2].dropFirst(5)))
        } else {
            error("'stats socket' must be a Unix socket path, not '\(words[2])'", at: location)
            return
        }
        var socket = StatsSocket(address: address, location: location)
        var index = 3
        while index < words.count {
            let option = words[index]
            guard index + 1 < words.count else {
                error("'stats socket' option '\(option)' expects a value", at: location)
                return
            }
            let value = words[index + 1]
            switch option {
            case "mode":
                guard let mode = UInt32(value, radix: 8), mode <= 0o7777 else {
                    error("'stats socket mode' expects an octal mode such as 600, not '\(value)'", at: location)
                    return
                }
                socket.mode = mode
            case "level":
                guard let level = StatsSocket.Level(rawValue: value) else {
                    error("'stats socket level' expects user, operator or admin, not '\(value)'", at: location)
                    return
                }
                socket.level = level
            default:
                error(
                    "unsupported 'stats socket' option '\(option)' (supported: mode, level)",
                    at: location,
                    suggestion: EditDistance.suggestion(for: option, among: ["mode", "level"])
                )
                return
            }
            index += 2
        }
        global.global.statsSockets.append(socket)
    }
}
