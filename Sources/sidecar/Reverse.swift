import ArgumentParser
import SidecarRuntime

/// `sidecar reverse`: TLS with a required client certificate in, plain Unix socket out.
struct Reverse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accept mutual-TLS connections on TCP and hand each to a local Unix socket.",
        discussion: """
            Example (manager node):
              sidecar reverse --listen :2021 --connect unix:/run/bluechi/bluechi.sock \\
                --cert /etc/sidecar/certs/manager.pem --key /etc/sidecar/certs/manager.key \\
                --ca /etc/sidecar/certs/ca.pem

            Every client must present a certificate that chains to --ca and is valid now; a client that does not
            is refused before any connection to the Unix socket is opened, and the log says why.
            """
    )

    @Option(
        name: [.customShort("f"), .customLong("config")],
        help: ArgumentHelp(
            "Configuration file or conf.d directory in HAProxy syntax; repeatable. Replaces the flags below.",
            valueName: "path"))
    var configPaths: [String] = []

    @Option(help: "TCP address to listen on: [HOST]:PORT, e.g. :2021, 0.0.0.0:2021, [::]:2021, 127.0.0.1:2021.")
    var listen: String?

    @Option(help: "Unix socket to hand connections to: unix:PATH. Repeat for failover.")
    var connect: [String] = []

    @Option(help: "Our certificate (PEM; may hold the chain, and the key if --key is not given).")
    var cert: String?

    @Option(help: "Our private key (PEM). Default: the key inside --cert, or --cert's path plus .key.")
    var key: String?

    @Option(help: "CA bundle (PEM) every client certificate must chain to.")
    var ca: String?

    @OptionGroup var allow: AllowOptions

    @OptionGroup var serve: ServeOptions

    func validate() throws {
        if configPaths.isEmpty {
            for (value, flag) in [(listen, "--listen"), (cert, "--cert"), (ca, "--ca")] where value == nil {
                throw ValidationError("\(flag) is required (or give a configuration with -f)")
            }
            if connect.isEmpty { throw ValidationError("--connect is required (or give a configuration with -f)") }
        } else if listen != nil || !connect.isEmpty || cert != nil || key != nil || ca != nil || !allow.isEmpty {
            throw ValidationError("-f replaces --listen, --connect, --cert, --key, --ca: give one or the other")
        }
    }

    func run() throws {
        let logger = serve.makeLogger()
        let source: ConfigurationSource
        if configPaths.isEmpty {
            var flags = TunnelFlags(side: .reverse, listen: listen!, connect: connect, cert: cert!, key: key, ca: ca!)
            try allow.apply(to: &flags)
            source = .flags(flags)
        } else {
            source = .files(configPaths)
        }
        runDaemon(logger: logger, threads: serve.threads, mode: .reverse, source: source)
    }
}
