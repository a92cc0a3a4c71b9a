import SidecarConfig

/// The command-line form of a tunnel (`sidecar forward --listen ... --connect ...`), turned into the same
/// `Configuration` model a config file gives, so both run through one engine.
public struct TunnelFlags: Sendable {
    public var side: ProxyMode
    public var listen: String
    public var listenMode: String?
    public var connect: [String]
    public var cert: String
    public var key: String?
    public var ca: String
    public var serverName: String?
    public var handshakeTimeout: Duration?
    /// `--allow-cn`, `--allow-dns`, `--allow-uri`, `--allow-ip`: the peer certificates this tunnel accepts
    /// (reverse: clients, on the bind; forward: the servers), as the `allow-*` options of a config file.
    public var allowedPeers = PeerAllowList()
    /// `--no-ssl-reuse` (forward): a full handshake for every connection, as HAProxy's `no-ssl-reuse`.
    public var sessionReuse = true
    /// `--dbus`: the D-Bus-aware relay (`option dbus`) on the tunnel's frontend.
    public var dbus = false
    /// `--dbus-register-name cn|dns|uri` or `--dbus-register-map FILE` (stored as `map FILE`), reverse only;
    /// implies `--dbus`. The map file is read by `configuration()`, so each reload reads it again.
    public var dbusRegisterName: String?

    public init(
        side: ProxyMode, listen: String, listenMode: String? = nil, connect: [String], cert: String, key: String? = nil,
        ca: String, serverName: String? = nil
    ) {
        self.side = side
        self.listen = listen
        self.listenMode = listenMode
        self.connect = connect
        self.cert = cert
        self.key = key
        self.ca = ca
        self.serverName = serverName
    }

    /// The model: one frontend named after the side, one backend with a server per `--connect`.
    /// - Throws: `UsageError` naming the flag that is wrong.
    public func configuration() throws -> Configuration {
        guard !connect.isEmpty else { throw UsageError("--connect is required") }
        let tls = TLSSettings(
            certificateFiles: [cert], keyFile: key, caFile: ca, verify: .required, allowedPeers: allowedPeers)
        let listenAddress: ListenAddress
        var socketOptions = UnixSocketOptions()
        if let listenMode {
            guard let mode = UInt32(listenMode, radix: 8), mode <= 0o777 else {
                throw UsageError("--listen-mode '\(listenMode)' is not an octal file mode such as 0660")
            }
            socketOptions.mode = mode
        }
        var servers: [Server] = []
        switch side {
        case .forward:
            listenAddress = try Self.unixListen(listen)
            for (index, target) in connect.enumerated() {
                let (host, port) = try Self.hostPort(target, flag: "--connect")
                var serverTLS = tls
                // Secure by default: without --server-name the certificate must be for the host we dial.
                serverTLS.serverName = serverName ?? host
                serverTLS.verifyHost = serverName ?? host
                serverTLS.sessionReuse = sessionReuse
                servers.append(
                    Server(
                        name: "server\(index + 1)", address: .tcp(host: host, port: port), tls: serverTLS,
                        location: .commandLine("--connect \(target)")))
            }
        case .reverse:
            if listenMode != nil { throw UsageError("--listen-mode applies to a Unix socket; reverse listens on TCP") }
            if serverName != nil {
                throw UsageError("--server-name applies to forward, which checks the server's name")
            }
            if !sessionReuse {
                throw UsageError("--no-ssl-reuse applies to forward, whose connections resume TLS sessions")
            }
            if listen.hasPrefix("systemd:") {
                listenAddress = .systemd(name: String(listen.dropFirst(8)))
            } else {
                let (host, port) = try Self.hostPort(listen, flag: "--listen", hostOptional: true)
                listenAddress = .tcp(host: host, port: port)
            }
            for (index, target) in connect.enumerated() {
                guard target.hasPrefix("unix:") || target.hasPrefix("/") else {
                    throw UsageError(
                        "--connect '\(target)': reverse connects to a Unix socket, e.g. unix:/run/app.sock")
                }
                let path = target.hasPrefix("unix:") ? String(target.dropFirst(5)) : target
                guard path.hasPrefix("/") else {
                    throw UsageError(
                        "--connect '\(target)': give an absolute socket path, e.g. unix:/run/bluechi/bluechi.sock")
                }
                servers.append(
                    Server(
                        name: "server\(index + 1)", address: .unix(path: path),
                        location: .commandLine("--connect \(target)")))
            }
        }
        let name = side.rawValue
        let bind = Bind(
            address: listenAddress, tls: side == .reverse ? tls : nil, unixSocket: socketOptions,
            location: .commandLine("--listen \(listen)"))
        let frontend = Frontend(
            name: name, binds: [bind], defaultBackend: name, location: .commandLine("sidecar \(name)"),
            dbus: try dbusSettings())
        let backend = Backend(
            name: name, servers: servers, retries: max(servers.count - 1, 0) + 2, location: .commandLine("--connect"))
        return Configuration(frontends: [frontend], backends: [backend])
    }

    /// The frontend's `option dbus` settings from `--dbus`, `--dbus-register-name` and `--dbus-register-map`.
    /// - Throws: `UsageError` naming the flag, or the map file's errors with FILE:line.
    private func dbusSettings() throws -> DBusSettings? {
        guard let register = dbusRegisterName else { return dbus ? DBusSettings() : nil }
        guard side == .reverse else {
            throw UsageError("--dbus-register-name applies to reverse, which sees the client certificate")
        }
        let rule: DBusRegisterName.Rule
        let flag: String
        switch register {
        case "cn": (rule, flag) = (.cn, "--dbus-register-name cn")
        case "dns": (rule, flag) = (.dns, "--dbus-register-name dns")
        case "uri": (rule, flag) = (.uri, "--dbus-register-name uri")
        case let text where text.hasPrefix("map "):
            let file = String(text.dropFirst(4))
            switch DBusNameMap.load(path: file) {
            case .success(let names): (rule, flag) = (.map(file: file, names: names), "--dbus-register-map \(file)")
            case .failure(let failure):
                throw UsageError("--dbus-register-map: " + failure.errors.map(\.description).joined(separator: "; "))
            }
        default:
            throw UsageError(
                "--dbus-register-name expects cn, dns or uri (or use --dbus-register-map FILE), not "
                    + "'\(register)'")
        }
        return DBusSettings(registerName: DBusRegisterName(rule: rule, location: .commandLine(flag)))
    }

    /// Adds the values of `--allow-cn` etc.; each value is a comma-separated list, as in a config file.
    /// - Throws: `UsageError` naming the flag and the bad value.
    public mutating func allow(cn: [String], dns: [String], uri: [String], ip: [String]) throws {
        for (option, values) in [("allow-cn", cn), ("allow-dns", dns), ("allow-uri", uri), ("allow-ip", ip)] {
            for value in values {
                if let problem = allowedPeers.add(option, list: value) { throw UsageError("--\(option): \(problem)") }
            }
        }
    }

    private static func unixListen(_ value: String) throws -> ListenAddress {
        if value.hasPrefix("unix:") {
            let path = String(value.dropFirst(5))
            guard path.hasPrefix("/") else {
                throw UsageError("--listen '\(value)': give an absolute socket path, e.g. unix:/run/sidecar/agent.sock")
            }
            return .unix(path: path)
        }
        if value.hasPrefix("/") { return .unix(path: value) }
        if value.hasPrefix("systemd:") { return .systemd(name: String(value.dropFirst(8))) }
        throw UsageError("--listen '\(value)': forward listens on a Unix socket, e.g. unix:/run/sidecar/agent.sock")
    }

    /// `host:port`, `[v6]:port`, and with `hostOptional` also `:port` and `*:port` (any IPv4 address).
    static func hostPort(_ value: String, flag: String, hostOptional: Bool = false) throws -> (String, Int) {
        var host: Substring
        var portText: Substring
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]"), value[value.index(after: close)...].hasPrefix(":") else {
                throw UsageError("\(flag) '\(value)' is not [IPv6]:PORT")
            }
            host = value[value.index(after: value.startIndex)..<close]
            portText = value[value.index(close, offsetBy: 2)...]
        } else {
            guard let colon = value.lastIndex(of: ":") else {
                throw UsageError("\(flag) '\(value)' needs a port, as HOST:PORT")
            }
            host = value[..<colon]
            portText = value[value.index(after: colon)...]
        }
        if host == "*" { host = "" }
        guard let port = Int(portText), (1...65535).contains(port) || (hostOptional && port == 0) else {
            throw UsageError("\(flag) '\(value)': '\(portText)' is not a port number (1-65535)")
        }
        if host.isEmpty && !hostOptional { throw UsageError("\(flag) '\(value)' needs a host, as HOST:PORT") }
        return (String(host), port)
    }
}

/// A command-line flag that cannot be used as given; the message names the flag.
public struct UsageError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
