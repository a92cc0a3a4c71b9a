/// Checks on a whole model: references between sections, things that parse but would not work, and the
/// shape each `ProxyMode` needs.
package enum Validation {
    /// Findings about a parsed configuration, independent of the mode it will run in.
    ///
    /// - Parameter end: where findings about the configuration as a whole are reported (its last line).
    package static func diagnostics(for configuration: Configuration, end: SourceLocation) -> [ConfigDiagnostic] {
        var diagnostics: [ConfigDiagnostic] = []
        let backendNames = configuration.backends.map(\.name)
        var bound: [ListenAddress: SourceLocation] = [:]

        for target in configuration.global.logs {
            if case .stderr = target.destination { continue }
            diagnostics.append(
                ConfigDiagnostic(
                    .warning,
                    "sidecar writes its log to stderr (the journal, under systemd); log target '\(target.destination)' "
                        + "is served as stderr",
                    at: target.location))
        }

        for frontend in configuration.frontends {
            if frontend.binds.isEmpty {
                diagnostics.append(
                    ConfigDiagnostic(
                        .warning,
                        "frontend '\(frontend.name)' has no 'bind' line: it accepts nothing",
                        at: frontend.location
                    )
                )
            }
            for bind in frontend.binds {
                if let tls = bind.tls, tls.caFile == "@system-ca", tls.verify != .none,
                    tls.allowedPeers.isEmpty, !restrictsIdentity(frontend)
                {
                    diagnostics.append(
                        ConfigDiagnostic(
                            .error,
                            "bind '\(bind.address)' verifies clients against '@system-ca' with no identity rule: "
                                + "anyone who can get a certificate from any public CA would get in; use your own "
                                + "CA in 'ca-file', or restrict who may connect ('allow-cn'/'allow-dns'/'allow-uri'/"
                                + "'allow-ip', or a 'tcp-request session reject unless { ssl_c_s_dn(CN) ... }' rule)",
                            at: bind.location
                        )
                    )
                }
                if let other = bound[bind.address] {
                    diagnostics.append(
                        ConfigDiagnostic(
                            .error,
                            "address '\(bind.address)' is already bound at \(other)",
                            at: bind.location
                        )
                    )
                } else {
                    bound[bind.address] = bind.location
                }
            }
            if let name = frontend.defaultBackend {
                if !backendNames.contains(name) {
                    diagnostics.append(
                        ConfigDiagnostic(
                            .error,
                            "frontend '\(frontend.name)' uses backend '\(name)', which does not exist",
                            at: frontend.defaultBackendLocation ?? frontend.location,
                            suggestion: EditDistance.suggestion(for: name, among: backendNames)
                        )
                    )
                }
            } else {
                diagnostics.append(
                    ConfigDiagnostic(
                        .warning,
                        "frontend '\(frontend.name)' has no 'default_backend': its connections will be closed",
                        at: frontend.location
                    )
                )
            }
            let timeouts = frontend.timeouts
            if timeouts == Timeouts() {
                diagnostics.append(
                    ConfigDiagnostic(
                        .warning,
                        "missing timeouts for frontend '\(frontend.name)': no 'timeout' is set, so nothing bounds "
                            + "a stuck connection (D-Bus links may stay idle for days, but set at least "
                            + "'timeout connect' in 'defaults')",
                        at: frontend.location
                    )
                )
            }
        }
        if !configuration.frontends.contains(where: { !$0.binds.isEmpty }) {
            diagnostics.append(
                ConfigDiagnostic(
                    .error,
                    "no frontend with a 'bind' line: sidecar would not listen on anything",
                    at: end
                )
            )
        }

        for backend in configuration.backends {
            if backend.servers.isEmpty {
                diagnostics.append(
                    ConfigDiagnostic(
                        .warning,
                        "backend '\(backend.name)' has no server: its connections will be closed",
                        at: backend.location
                    )
                )
            }
            if backend.timeouts.connect == nil {
                diagnostics.append(
                    ConfigDiagnostic(
                        .warning,
                        "missing timeouts for backend '\(backend.name)': no 'timeout connect', so a connection "
                            + "attempt waits as long as the kernel does",
                        at: backend.location
                    )
                )
            }
            for server in backend.servers {
                guard let tls = server.tls else { continue }
                let name = "\(backend.name)/\(server.name)"
                if tls.verify == .none {
                    diagnostics.append(
                        ConfigDiagnostic(
                            .warning,
                            "server '\(name)' has 'verify none': its certificate is not checked, anyone on the path "
                                + "can impersonate it",
                            at: server.location
                        )
                    )
                } else if tls.expectedPeerName == nil && !tls.noVerifyHost {
                    diagnostics.append(
                        ConfigDiagnostic(
                            .warning,
                            "server '\(name)': certificate chain verified, peer name not checked (add "
                                + "'verifyhost NAME' or 'sni str(NAME)')",
                            at: server.location
                        )
                    )
                }
            }
        }
        return diagnostics
    }

    /// Whether `frontend` has a `tcp-request` rule that looks at the client certificate's identity (subject,
    /// issuer, serial or fingerprint), so that not every certificate that verifies gets in.
    static func restrictsIdentity(_ frontend: Frontend) -> Bool {
        (frontend.connectionRules + frontend.sessionRules).contains { rule in
            rule.condition?.allACLs.contains { acl in
                switch acl.fetch {
                case .subjectDN, .issuerDN, .serial, .sha1: return true
                default: return false
                }
            } ?? false
        }
    }

    /// Errors for a configuration whose shape does not fit `mode`.
    ///
    /// Forward: every listener is plain and every server of a used backend has `ssl`. Reverse: every
    /// listener has `ssl` with `verify required`, and every server of a used backend is plain.
    package static func diagnostics(for configuration: Configuration, mode: ProxyMode) -> [ConfigDiagnostic] {
        var diagnostics: [ConfigDiagnostic] = []
        func fail(_ message: String, _ location: SourceLocation) {
            diagnostics.append(ConfigDiagnostic(.error, message, at: location))
        }
        let usedBackends = Set(configuration.frontends.compactMap(\.defaultBackend))
        for frontend in configuration.frontends {
            for bind in frontend.binds {
                switch (mode, bind.tls) {
                case (.forward, .some):
                    fail(
                        "forward mode needs plain listeners: bind '\(bind.address)' has 'ssl' (a forward sidecar "
                            + "accepts local clients in clear and encrypts toward the server)",
                        bind.location
                    )
                case (.reverse, .none):
                    fail(
                        "reverse mode needs 'ssl' on bind '\(bind.address)' (a reverse sidecar terminates TLS from "
                            + "remote peers)",
                        bind.location
                    )
                case (.reverse, .some(let tls)) where tls.verify != .required:
                    fail(
                        "reverse mode needs 'verify required' on TLS bind '\(bind.address)' (a reverse sidecar "
                            + "without client verification would let anyone reach the backend)",
                        bind.location
                    )
                default:
                    break
                }
            }
        }
        for backend in configuration.backends where usedBackends.contains(backend.name) {
            for server in backend.servers {
                let name = "\(backend.name)/\(server.name)"
                if mode == .forward && server.tls == nil {
                    fail(
                        "forward mode needs 'ssl' on server '\(name)' (without it the traffic would leave this host "
                            + "in clear)",
                        server.location
                    )
                } else if mode == .reverse && server.tls != nil {
                    fail(
                        "reverse mode needs plain servers: server '\(name)' has 'ssl' (a reverse sidecar hands "
                            + "decrypted traffic to a local service)",
                        server.location
                    )
                }
            }
        }
        return diagnostics
    }
}
