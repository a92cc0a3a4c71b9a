import SidecarConfig

/// Configurations the in-process tests build again and again.
package enum TestConfigurations {
    /// A forward side: frontend and backend `fwd`, listening on the Unix socket `socket`, with one TLS server
    /// `server` at 127.0.0.1:`port`.
    package static func forward(
        socket: String, server: String, port: Int, tls: TLSSettings, retries: Int = 3
    ) -> Configuration {
        let location = SourceLocation.commandLine("test")
        return Configuration(
            frontends: [
                Frontend(
                    name: "fwd", binds: [Bind(address: .unix(path: socket), location: location)],
                    defaultBackend: "fwd", location: location)
            ],
            backends: [
                Backend(
                    name: "fwd",
                    servers: [
                        Server(name: server, address: .tcp(host: "127.0.0.1", port: port), tls: tls, location: location)
                    ],
                    retries: retries, location: location)
            ])
    }
}
