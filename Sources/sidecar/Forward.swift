import ArgumentParser
import SidecarRuntime

/// `sidecar forward`: plain Unix socket in, TLS with a client certificate out.
struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Listen on a local Unix socket and tunnel each connection to a reverse sidecar over mutual TLS.",
        discussion: """
            Example (agent node):
              sidecar forward --listen unix:/run/sidecar/agent.sock --listen-mode 0660 \\
                --connect manager.example.com:2021 --connect manager2.example.com:2021 \\
                --cert /etc/sidecar/certs/node1.pem --key /etc/sidecar/certs/node1.key \\
                --ca /etc/sidecar/certs/ca.pem --server-name manager.example.com

            Several --connect are tried round robin; one that refuses the connection or fails the TLS handshake
            is skipped. The server's certificate must chain to --ca and carry --server-name (default: the host of
            each --connect) as a DNS or IP subject alternative name (or, failing any, its common name).
            """
    )

    @Option(
        name: [.customShort("f"), .customLong("config")],
        help: ArgumentHelp(
            "Configuration file or conf.d directory in HAProxy syntax; repeatable. Replaces the flags below.",
            valueName: "path"))
    var configPaths: [String] = []

    @Option(help: "Unix socket to listen on: unix:PATH (e.g. unix:/run/sidecar/agent.sock).")
    var listen: String?

    @Option(help: "File mode of the listening socket, in octal (e.g. 0660). Default: from the umask.")
    var listenMode: String?

    @Option(help: "Reverse sidecar to connect to, HOST:PORT or [IPv6]:PORT. Repeat for failover.")
    var connect: [String] = []

    @Option(help: "Our certificate (PEM; may hold the chain, and the key if --key is not given).")
    var cert: String?

    @Option(help: "Our private key (PEM). Default: the key inside --cert, or --cert's path plus .key.")
    var key: String?

    @Option(help: "CA bundle (PEM) the server's certificate must chain to.")
    var ca: String?

    @Option(help: "Name the server's certificate must carry; also sent as SNI. Default: each --connect host.")
    var serverName: String?

    @Flag(help: "Resume no TLS session: a full handshake for every connection (HAProxy's no-ssl-reuse).")
    var noSslReuse = false

    @OptionGroup var allow: AllowOptions

    @Flag(help: "Follow the D-Bus stream (option dbus): refuse fd passing and malformed messages.")
    var dbus = false

    @OptionGroup var serve: ServeOptions

    func validate() throws {
        if configPaths.isEmpty {
            for (value, flag) in [(listen, "--listen"), (cert, "--cert"), (ca, "--ca")] where value == nil {
                throw ValidationError("\(flag) is required (or give a configuration with -f)")
            }
            if connect.isEmpty { throw ValidationError("--connect is required (or give a configuration with -f)") }
        } else if listen != nil || !connect.isEmpty || cert != nil || key != nil || ca != nil || serverName != nil
            || listenMode != nil || !allow.isEmpty || noSslReuse || dbus
        {
            throw ValidationError(
                "-f replaces --listen, --connect, --cert, --key, --ca, --server-name, --no-ssl-reuse, --dbus: give "
                    + "one or the other (in a file: no-ssl-reuse on the server line, option dbus in the frontend)")
        }
    }

    func run() throws {
        let logger = serve.makeLogger()
        let source: ConfigurationSource
        if configPaths.isEmpty {
            var flags = TunnelFlags(
                side: .forward, listen: listen!, listenMode: listenMode, connect: connect, cert: cert!, key: key,
                ca: ca!, serverName: serverName)
            flags.sessionReuse = !noSslReuse
            try allow.apply(to: &flags)
            flags.dbus = dbus
            source = .flags(flags)
        } else {
            source = .files(configPaths)
        }
        runDaemon(logger: logger, threads: serve.eventLoopThreads, mode: .forward, source: source)
    }
}
