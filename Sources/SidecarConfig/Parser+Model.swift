extension Parser {
    /// Builds the model from everything parsed, applies the global settings that HAProxy applies after
    /// parsing, and validates the result.
    ///
    /// - Returns: the model (meaningful only when `diagnostics` holds no error) and every diagnostic.
    package mutating func finish() -> (configuration: Configuration, diagnostics: [ConfigDiagnostic]) {
        closeSection()
        var frontends: [Frontend] = []
        var backends: [Backend] = []
        for proxy in proxies {
            if proxy.kind.hasFrontend && !(proxy.kind == .listen && proxy.binds.isEmpty) {
                frontends.append(frontend(from: proxy))
            } else if proxy.kind == .listen {
                warning(
                    "listen '\(proxy.name)' has no 'bind' line; it only serves as a backend",
                    at: proxy.location
                )
            }
            if proxy.kind.hasBackend {
                backends.append(backend(from: proxy))
            }
        }
        var configuration = Configuration(global: global.global, frontends: frontends, backends: backends)
        if !isFull {
            let end = endLocation ?? SourceLocation(file: "configuration", line: 1)
            for diagnostic in Validation.diagnostics(for: configuration, end: end) { record(diagnostic) }
        }
        configuration.warnings = diagnostics.filter { $0.severity == .warning }
        return (configuration, diagnostics)
    }

    private mutating func frontend(from proxy: ProxyDraft) -> Frontend {
        var backend = proxy.useBackend ?? proxy.defaultBackend
        // A `listen` is its own backend unless a rule names another.
        if backend == nil && proxy.kind == .listen { backend = (proxy.name, proxy.location) }
        let binds = proxy.binds.map { self.bind(from: $0) }
        return Frontend(
            name: proxy.name,
            binds: binds,
            defaultBackend: backend?.name,
            timeouts: proxy.timeouts,
            maxconn: proxy.maxconn,
            tcplog: proxy.tcplog,
            location: proxy.location,
            defaultBackendLocation: backend?.location,
            sessionRules: proxy.sessionRules,
            connectionRules: proxy.connectionRules,
            dbus: dbusSettings(from: proxy, binds: binds)
        )
    }

    private mutating func backend(from proxy: ProxyDraft) -> Backend {
        Backend(
            name: proxy.name,
            balance: proxy.balance,
            servers: proxy.servers.map { self.server(from: $0, backend: proxy.name) },
            timeouts: proxy.timeouts,
            retries: proxy.retries,
            redispatch: proxy.redispatch,
            location: proxy.location
        )
    }

    /// Applies `unix-bind` and `ssl-default-bind-*`, and checks the TLS settings.
    ///
    /// A TLS bind that does not say `verify` gets HAProxy's default, `none`: the model keeps HAProxy's
    /// meaning, and `validate(for: .reverse)` refuses such a bind.
    private mutating func bind(from draft: ProxyDraft.Bind) -> Bind {
        var address = draft.address
        var unixSocket = draft.unixSocket
        if case .unix(let path) = address {
            // HAProxy prepends the prefix as a plain string when it binds the socket.
            if let prefix = global.global.unixBindPrefix { address = .unix(path: prefix + path) }
            let defaults = global.global.unixBind
            unixSocket.mode = unixSocket.mode ?? defaults.mode
            unixSocket.user = unixSocket.user ?? defaults.user
            unixSocket.uid = unixSocket.uid ?? defaults.uid
            unixSocket.group = unixSocket.group ?? defaults.group
            unixSocket.gid = unixSocket.gid ?? defaults.gid
        }
        var tls: TLSSettings?
        if draft.ssl {
            var settings = draft.tls
            global.bindTLS.apply(to: &settings)
            if !draft.verifyGiven { settings.verify = .none }
            if settings.certificateFiles.isEmpty {
                error(
                    "no certificate for TLS bind '\(address)': add 'crt FILE' (the PEM with certificate and key)",
                    at: draft.location
                )
            }
            if settings.verify != .none && settings.caFile == nil {
                error(
                    "'verify \(settings.verify.rawValue)' is set but no CA file is specified for bind '\(address)': "
                        + "add 'ca-file FILE' with the CAs client certificates must chain to",
                    at: draft.location
                )
            }
            checkVersions(settings, at: draft.location)
            tls = settings
        } else if let option = draft.tlsOptionWithoutSSL {
            warning(
                "'\(option)' has no effect on bind '\(address)' without 'ssl': the listener is plain TCP",
                at: draft.location
            )
        }
        return Bind(
            address: address,
            tls: tls,
            unixSocket: unixSocket,
            maxconn: draft.maxconn,
            name: draft.name,
            handshakeTimeout: draft.handshakeTimeout,
            location: draft.location
        )
    }

    /// Applies `chroot`, `ssl-server-verify` and `ssl-default-server-*`, and checks the TLS settings.
    ///
    /// Under `chroot`, HAProxy connects Unix servers after chrooting, so `server x /x.sock` with
    /// `chroot /var/lib/haproxy` reaches `/var/lib/haproxy/x.sock`; the model holds that full path, since
    /// sidecar does not chroot.
    private mutating func server(from draft: ProxyDraft.Server, backend: String) -> Server {
        var address = draft.address
        if case .unix(let path) = address, let chroot = global.global.chroot, chroot != "/" {
            let root = chroot.hasSuffix("/") ? String(chroot.dropLast()) : chroot
            address = .unix(path: path.hasPrefix("/") ? root + path : root + "/" + path)
        }
        let options = draft.options
        var tls: TLSSettings?
        if options.ssl {
            var settings = options.tls
            global.serverTLS.apply(to: &settings)
            if !options.verifyGiven { settings.verify = global.sslServerVerify }
            if settings.verify != .none && settings.caFile == nil {
                error(
                    "server '\(backend)/\(draft.name)': verify is enabled by default but no CA file specified; "
                        + "add 'ca-file FILE', or if you are certain to trust the server's certificate, set an "
                        + "explicit 'verify none' on the 'server' line",
                    at: draft.location
                )
            }
            checkVersions(settings, at: draft.location)
            tls = settings
        }
        return Server(
            name: draft.name,
            address: address,
            tls: tls,
            check: options.check,
            inter: options.inter,
            rise: options.rise,
            fall: options.fall,
            weight: options.weight,
            backup: options.backup,
            disabled: options.disabled,
            maxconn: options.maxconn,
            location: draft.location
        )
    }

    private mutating func checkVersions(_ settings: TLSSettings, at location: SourceLocation) {
        if let min = settings.minVersion, let max = settings.maxVersion, min > max {
            error("'ssl-min-ver \(min.rawValue)' is above 'ssl-max-ver \(max.rawValue)'", at: location)
        }
    }
}
