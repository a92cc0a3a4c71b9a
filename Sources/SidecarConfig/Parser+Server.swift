extension Parser {
    /// `server`/`default-server` options and whether each takes a value. The `no-*` and `enabled` forms undo
    /// what a `default-server` line set, as in HAProxy.
    static let serverOptions: [String: Bool] = [
        "ssl": false, "no-ssl": false, "crt": true, "ca-file": true, "verify": true, "verifyhost": true,
        "no-verifyhost": false, "sni": true, "crl-file": true, "ssl-min-ver": true, "ssl-max-ver": true,
        "ciphers": true, "ciphersuites": true, "curves": true, "alpn": true, "no-tls-tickets": false,
        "check": false, "no-check": false, "inter": true, "rise": true, "fall": true, "weight": true,
        "backup": false, "no-backup": false, "disabled": false, "enabled": false, "maxconn": true,
        "allow-cn": true, "allow-dns": true, "allow-uri": true, "allow-ip": true, "no-ssl-reuse": false,
        "ssl-reuse": false,
    ]

    /// `server NAME ADDRESS [options]`.
    mutating func parseServer(_ words: [String], into draft: inout ProxyDraft, at location: SourceLocation) {
        guard words.count >= 3 else {
            error("'server' expects a name and an address (host:port, /path or unix@path)", at: location)
            return
        }
        let name = words[1]
        checkName(name, what: "server", at: location)
        if let other = draft.servers.first(where: { $0.name == name }) {
            error("server '\(draft.name)/\(name)' is already defined at \(other.location)", at: location)
            return
        }
        guard let address = serverAddress(words[2], at: location) else { return }
        var options = draft.defaultServer
        guard parseServerOptions(words, from: 3, into: &options, at: location) else { return }
        draft.servers.append(ProxyDraft.Server(name: name, address: address, options: options, location: location))
    }

    /// `host:port`, `[v6]:port`, `/path` or `unix@path`.
    private mutating func serverAddress(_ text: String, at location: SourceLocation) -> ServerAddress? {
        if text.hasPrefix("/") { return .unix(path: text) }
        if text.hasPrefix("unix@") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else {
                error("'unix@' needs a path", at: location)
                return nil
            }
            return .unix(path: path)
        }
        if let at = text.firstIndex(of: "@"), !text[..<at].contains(":"), !text.hasPrefix("[") {
            error(
                "server address prefix '\(text[...at])' is not supported (use host:port, /path or unix@path)",
                at: location
            )
            return nil
        }
        guard let (host, port) = hostAndPort(text, at: location) else { return nil }
        guard !host.isEmpty, host != "*" else {
            error("server address '\(text)' needs a host", at: location)
            return nil
        }
        return .tcp(host: host, port: port)
    }

    /// Parses options from `words[start...]` into `options`; false after an error.
    @discardableResult
    mutating func parseServerOptions(
        _ words: [String],
        from start: Int,
        into options: inout ProxyDraft.ServerOptions,
        at location: SourceLocation
    ) -> Bool {
        var index = start
        while index < words.count {
            let option = words[index]
            guard let takesValue = Self.serverOptions[option] else {
                error(
                    "unknown keyword '\(option)' in '\(words[0])' line",
                    at: location,
                    suggestion: EditDistance.suggestion(for: option, among: Self.serverOptions.keys.sorted())
                )
                return false
            }
            var value = ""
            if takesValue {
                guard index + 1 < words.count else {
                    error("'\(option)' on a '\(words[0])' line expects a value", at: location)
                    return false
                }
                value = words[index + 1]
            }
            guard applyServerOption(option, value, to: &options, at: location) else { return false }
            index += takesValue ? 2 : 1
        }
        return true
    }

    private mutating func applyServerOption(
        _ option: String,
        _ value: String,
        to options: inout ProxyDraft.ServerOptions,
        at location: SourceLocation
    ) -> Bool {
        switch option {
        case "ssl": options.ssl = true
        case "no-ssl": options.ssl = false
        case "check": options.check = true
        case "no-check": options.check = false
        case "backup": options.backup = true
        case "no-backup": options.backup = false
        case "no-ssl-reuse": options.tls.sessionReuse = false
        case "ssl-reuse": options.tls.sessionReuse = true
        case "disabled": options.disabled = true
        case "enabled": options.disabled = false
        case "crt":
            // A server presents one certificate; a later `crt` replaces the `default-server` one.
            options.tls.certificateFiles = [path(value, base: global.global.crtBase)]
        case "verify":
            guard let verify = verifyValue(value, at: location) else { return false }
            options.tls.verify = verify
            options.verifyGiven = true
        case "verifyhost":
            options.tls.verifyHost = value
            options.tls.noVerifyHost = false
        case "no-verifyhost":
            options.tls.noVerifyHost = true
        case "sni":
            guard let name = Self.sniString(value) else {
                error(
                    "'sni \(value)': only the sample expression str(NAME) is supported, e.g. "
                        + "'sni str(manager.example.com)'",
                    at: location
                )
                return false
            }
            options.tls.serverName = name
        case "inter":
            guard let inter = time([value], 0, for: "inter", at: location) else { return false }
            guard inter > .zero else {
                error("'inter' must be greater than zero", at: location)
                return false
            }
            options.inter = inter
        case "rise", "fall":
            guard let count = integer([value], 0, for: option, in: 1...Int(Int32.max), at: location) else {
                return false
            }
            if option == "rise" { options.rise = count } else { options.fall = count }
        case "weight":
            guard let weight = integer([value], 0, for: "weight", in: 0...256, at: location) else { return false }
            options.weight = weight
        case "maxconn":
            guard let maxconn = integer([value], 0, for: "maxconn", at: location) else { return false }
            options.maxconn = maxconn
        default:
            return applyCommonTLSOption(option, value, to: &options.tls, at: location)
        }
        return true
    }

    /// The NAME of `str(NAME)`, the one sample expression `sni` accepts here.
    static func sniString(_ expression: String) -> String? {
        guard expression.hasPrefix("str("), expression.hasSuffix(")") else { return nil }
        let name = expression.dropFirst(4).dropLast()
        guard !name.isEmpty, !name.contains(where: { $0 == "(" || $0 == ")" || $0 == "," }) else { return nil }
        return String(name)
    }
}
