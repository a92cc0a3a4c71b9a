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

    @Flag(help: "Follow the D-Bus stream (option dbus): refuse fd passing and malformed messages.")
    var dbus = false

    @Option(
        help: ArgumentHelp(
            "Check every node registration against the client certificate: its CN, a DNS SAN, or the last path "
                + "segment of a URI SAN. Implies --dbus.", valueName: "cn|dns|uri"))
    var dbusRegisterName: String?

    @Option(
        help: ArgumentHelp(
            "Check every node registration against a map file (one line per certificate CN: 'CN name...'). "
                + "Implies --dbus.", valueName: "file"))
    var dbusRegisterMap: String?

    @OptionGroup var serve: ServeOptions

    func validate() throws {
        if configPaths.isEmpty {
            for (value, flag) in [(listen, "--listen"), (cert, "--cert"), (ca, "--ca")] where value == nil {
                throw ValidationError("\(flag) is required (or give a configuration with -f)")
            }
            if connect.isEmpty { throw ValidationError("--connect is required (or give a configuration with -f)") }
        } else if listen != nil || !connect.isEmpty || cert != nil || key != nil || ca != nil || !allow.isEmpty
            || dbus || dbusRegisterName != nil || dbusRegisterMap != nil
        {
            throw ValidationError(
                "-f replaces --listen, --connect, --cert, --key, --ca, --dbus*: give one or the other (in a file: "
                    + "option dbus, dbus-register-name)")
        }
        if dbusRegisterName != nil && dbusRegisterMap != nil {
            throw ValidationError("give --dbus-register-name or --dbus-register-map, not both")
        }
        if let rule = dbusRegisterName, !["cn", "dns", "uri"].contains(rule) {
            throw ValidationError(
                "--dbus-register-name expects cn, dns or uri (or use --dbus-register-map FILE), not '\(rule)'")
        }
    }

    func run() throws {
        let logger = serve.makeLogger()
        let source: ConfigurationSource
        if configPaths.isEmpty {
            var flags = TunnelFlags(side: .reverse, listen: listen!, connect: connect, cert: cert!, key: key, ca: ca!)
            try allow.apply(to: &flags)
            flags.dbus = dbus || dbusRegisterName != nil || dbusRegisterMap != nil
            flags.dbusRegisterName = dbusRegisterName ?? dbusRegisterMap.map { "map \($0)" }
            source = .flags(flags)
        } else {
            source = .files(configPaths)
        }
        runDaemon(logger: logger, threads: serve.eventLoopThreads, mode: .reverse, source: source)
    }
}
