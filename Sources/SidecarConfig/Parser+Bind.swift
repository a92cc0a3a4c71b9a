extension Parser {
    /// `bind` options and whether each takes a value.
    static let bindOptions: [String: Bool] = [
        "ssl": false, "crt": true, "ca-file": true, "verify": true, "crl-file": true, "ssl-min-ver": true,
        "ssl-max-ver": true, "ciphers": true, "ciphersuites": true, "curves": true, "alpn": true,
        "no-tls-tickets": false, "allow-cn": true, "allow-dns": true, "allow-uri": true, "allow-ip": true,
        "mode": true, "user": true, "group": true, "uid": true, "gid": true,
        "maxconn": true, "name": true, "handshake-timeout": true,
    ]

    /// `bind ADDR[,ADDR...] [options]`: one `Bind` per address, all with the same options.
    mutating func parseBind(_ words: [String], into draft: inout ProxyDraft, at location: SourceLocation) {
        guard words.count >= 2 else {
            error("'bind' expects an address such as '*:2021', '/run/x.sock', 'fd@3' or 'systemd@NAME'", at: location)
            return
        }
        var addresses: [ListenAddress] = []
        for text in words[1].split(separator: ",", omittingEmptySubsequences: false) {
            guard let address = listenAddress(String(text), at: location) else { return }
            addresses.append(address)
        }
        var bind = ProxyDraft.Bind(address: addresses[0], location: location)
        var index = 2
        while index < words.count {
            let option = words[index]
            guard let takesValue = Self.bindOptions[option] else {
                error(
                    "unknown keyword '\(option)' in 'bind' line",
                    at: location,
                    suggestion: EditDistance.suggestion(for: option, among: Self.bindOptions.keys.sorted())
                )
                return
            }
            var value = ""
            if takesValue {
                guard index + 1 < words.count else {
                    error("'\(option)' on a 'bind' line expects a value", at: location)
                    return
                }
                value = words[index + 1]
            }
            guard applyBindOption(option, value, to: &bind, at: location) else { return }
            index += takesValue ? 2 : 1
        }
        for address in addresses {
            bind.address = address
            draft.binds.append(bind)
        }
    }

    /// Applies one option; false after an error.
    private mutating func applyBindOption(
        _ option: String,
        _ value: String,
        to bind: inout ProxyDraft.Bind,
        at location: SourceLocation
    ) -> Bool {
        let isTLSOption = !["ssl", "mode", "user", "group", "uid", "gid", "maxconn", "name"].contains(option)
        if isTLSOption && bind.tlsOptionWithoutSSL == nil { bind.tlsOptionWithoutSSL = option }
        switch option {
        case "ssl": bind.ssl = true
        case "mode":
            guard let mode = UInt32(value, radix: 8), mode <= 0o7777 else {
                error("'mode' on a 'bind' line expects an octal mode such as 660, not '\(value)'", at: location)
                return false
            }
            bind.unixSocket.mode = mode
        case "user": bind.unixSocket.user = value
        case "group": bind.unixSocket.group = value
        case "uid", "gid":
            guard let id = UInt32(value) else {
                error("'\(option)' on a 'bind' line expects a number, not '\(value)'", at: location)
                return false
            }
            if option == "uid" { bind.unixSocket.uid = id } else { bind.unixSocket.gid = id }
        case "maxconn":
            guard let maxconn = Int(value), maxconn >= 0 else {
                error("'maxconn' on a 'bind' line expects a number, not '\(value)'", at: location)
                return false
            }
            bind.maxconn = maxconn
        case "name": bind.name = value
        case "handshake-timeout":
            guard let timeout = time([value], 0, for: "handshake-timeout", at: location) else { return false }
            guard timeout > .zero else {
                error("'handshake-timeout' must be greater than zero", at: location)
                return false
            }
            bind.handshakeTimeout = timeout
        case "crt": bind.tls.certificateFiles.append(path(value, base: global.global.crtBase))
        case "verify":
            guard let verify = verifyValue(value, at: location) else { return false }
            bind.tls.verify = verify
            bind.verifyGiven = true
        default:
            return applyCommonTLSOption(option, value, to: &bind.tls, at: location)
        }
        return true
    }

    /// TLS options with the same spelling and meaning on `bind` and `server` lines.
    mutating func applyCommonTLSOption(
        _ option: String,
        _ value: String,
        to tls: inout TLSSettings,
        at location: SourceLocation
    ) -> Bool {
        switch option {
        case "ca-file": tls.caFile = value.hasPrefix("@") ? value : path(value, base: global.global.caBase)
        case "crl-file": tls.crlFile = path(value, base: global.global.caBase)
        case "ssl-min-ver", "ssl-max-ver":
            guard let version = tlsVersion([value], 0, for: option, at: location) else { return false }
            if option == "ssl-min-ver" { tls.minVersion = version } else { tls.maxVersion = version }
        case "ciphers": tls.ciphers = value
        case "ciphersuites": tls.ciphersuites = value
        case "curves": tls.curves = value
        case "alpn":
            let protocols = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !protocols.contains(where: { $0.isEmpty || $0.utf8.count > 255 }) else {
                error(
                    "'alpn' expects comma-separated protocol names such as 'h2,http/1.1', not '\(value)'",
                    at: location
                )
                return false
            }
            tls.alpn = protocols
        case "no-tls-tickets": tls.sessionTickets = false
        case "allow-cn", "allow-dns", "allow-uri", "allow-ip":
            if let problem = tls.allowedPeers.add(option, list: value) {
                error(problem, at: location)
                return false
            }
        default:
            preconditionFailure("option '\(option)' is in an option table but has no handler")
        }
        return true
    }

    mutating func verifyValue(_ value: String, at location: SourceLocation) -> TLSSettings.Verify? {
        guard let verify = TLSSettings.Verify(rawValue: value) else {
            error(
                "'verify' expects none, optional or required, not '\(value)'",
                at: location,
                suggestion: EditDistance.suggestion(for: value, among: ["none", "optional", "required"])
            )
            return nil
        }
        return verify
    }

    /// HAProxy's `crt-base`/`ca-base` rule: a relative path is taken under the base directory.
    func path(_ value: String, base: String?) -> String {
        guard let base, !value.hasPrefix("/") else { return value }
        return base.hasSuffix("/") ? base + value : base + "/" + value
    }

    /// `*:port`, `:port`, `addr:port`, `[v6]:port`, `/path`, `unix@path`, `fd@N`, `systemd@NAME`.
    private mutating func listenAddress(_ text: String, at location: SourceLocation) -> ListenAddress? {
        if text.hasPrefix("/") { return .unix(path: text) }
        if text.hasPrefix("unix@") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else {
                error("'unix@' needs a path", at: location)
                return nil
            }
            return .unix(path: path)
        }
        if text.hasPrefix("fd@") {
            guard let fd = Int32(text.dropFirst(3)), fd >= 0 else {
                error("'fd@' expects a file descriptor number, not '\(text)'", at: location)
                return nil
            }
            return .inheritedFD(fd)
        }
        if text.hasPrefix("systemd@") {
            let name = String(text.dropFirst(8))
            guard !name.isEmpty, name.utf8.count <= 255, !name.contains(":") else {
                error("'systemd@' expects the FileDescriptorName= of a socket unit, not '\(text)'", at: location)
                return nil
            }
            return .systemd(name: name)
        }
        if let at = text.firstIndex(of: "@"), !text[..<at].contains(":"), !text.hasPrefix("[") {
            error(
                "address prefix '\(text[...at])' is not supported (use host:port, /path, unix@, fd@ or systemd@)",
                at: location
            )
            return nil
        }
        guard let (host, port) = hostAndPort(text, at: location) else { return nil }
        return .tcp(host: host == "*" ? "" : host, port: port)
    }

    /// Splits `host:port` or `[v6]:port`; the port must be 1...65535.
    mutating func hostAndPort(_ text: String, at location: SourceLocation) -> (String, Int)? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else {
                error("'\(text)': an IPv6 address needs the form '[address]:port'", at: location)
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                error("'\(text)' has no port (expected host:port, or a path starting with '/')", at: location)
                return nil
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        if portText.contains("-") {
            error("port ranges such as '\(portText)' are not supported", at: location)
            return nil
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            error("invalid port '\(portText)' in '\(text)' (expected 1...65535)", at: location)
            return nil
        }
        if host.contains(where: { $0 == " " || $0 == "/" || $0 == "[" || $0 == "]" }) {
            error("invalid host '\(host)' in '\(text)'", at: location)
            return nil
        }
        return (String(host), port)
    }
}
