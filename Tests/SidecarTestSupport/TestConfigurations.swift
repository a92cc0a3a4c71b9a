import SidecarConfig

/// Configurations the in-process tests build again and again.
package enum TestConfigurations {
    /// A forward side: frontend and backend `name`, listening on the Unix socket `socket`, with one TLS server
    /// `server` at 127.0.0.1:`port`.
    package static func forward(
        name: String = "fwd", socket: String, server: String, port: Int, tls: TLSSettings, retries: Int = 3
    ) -> Configuration {
        let location = SourceLocation.commandLine("test")
        return Configuration(
            frontends: [
                Frontend(
                    name: name, binds: [Bind(address: .unix(path: socket), location: location)],
                    defaultBackend: name, location: location)
            ],
            backends: [
                Backend(
                    name: name,
                    servers: [
                        Server(name: server, address: .tcp(host: "127.0.0.1", port: port), tls: tls, location: location)
                    ],
                    retries: retries, location: location)
            ])
    }

    /// A reverse side: frontend and backend `rev`, a TLS listener on 127.0.0.1 (a port of the system's
    /// choosing), relaying to the Unix socket `backend` as server `server`.
    package static func reverse(
        tls: TLSSettings, backend: String, server: String = "echo", bindName: String? = nil,
        handshakeTimeout: Duration? = nil, tcplog: Bool = false
    ) -> Configuration {
        let location = SourceLocation.commandLine("test")
        return Configuration(
            frontends: [
                Frontend(
                    name: "rev",
                    binds: [
                        Bind(
                            address: .tcp(host: "127.0.0.1", port: 0), tls: tls, name: bindName,
                            handshakeTimeout: handshakeTimeout, location: location)
                    ],
                    defaultBackend: "rev", tcplog: tcplog, location: location)
            ],
            backends: [
                Backend(
                    name: "rev", servers: [Server(name: server, address: .unix(path: backend), location: location)],
                    location: location)
            ])
    }
}
