import ArgumentParser
import SidecarRuntime

/// `sidecar probe`: one mutual-TLS handshake with a reverse sidecar, or one connection through a local
/// forward sidecar, with a report an operator can act on.
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test a tunnel: one mTLS handshake with HOST:PORT, or a D-Bus hello through unix:PATH.",
        discussion: """
            HOST:PORT (a reverse sidecar, from an agent node): connects, performs one TLS handshake with our \
            certificate, and prints the protocol and cipher, the server's certificate chain (subject, issuer, \
            SANs, notAfter), whether its name matched, whether it accepted our certificate, and the timings. \
            Nothing is sent after the handshake, so the controller behind it sees at most a connection that \
            opens and closes.

              sidecar probe manager.example.com:2021 --cert /etc/sidecar/certs/node1.pem \\
                --key /etc/sidecar/certs/node1.key --ca /etc/sidecar/certs/ca.pem

            unix:PATH (a forward sidecar's socket, on an agent node): connects and sends the start of a D-Bus \
            authentication ("\\0AUTH\\r\\n"); every D-Bus server answers "REJECTED <mechanisms>" and creates no \
            session. That answer proves every hop: the forward sidecar accepted, reached the manager, both \
            certificates were accepted, the reverse sidecar reached the controller's socket, and the controller \
            answered.

              sudo sidecar probe unix:/run/sidecar/agent.sock

            Exit status: 0 success; 1 our certificate, key or CA file cannot be used; 2 no connection (name, \
            refused, timeout, no socket); 3 we refused the server's certificate (expired, unknown CA, wrong \
            name); 4 the server refused our certificate; 5 other TLS failure; 6 connected but the tunnel closed \
            or stayed silent.
            """
    )

    @Argument(
        help: ArgumentHelp(
            "HOST:PORT of a reverse sidecar (e.g. manager.example.com:2021, [2001:db8::1]:2021), or unix:PATH of a "
                + "forward sidecar's socket (e.g. unix:/run/sidecar/agent.sock).",
            valueName: "target"))
    var target: String

    @Option(
        help: ArgumentHelp(
            "Our certificate (PEM; may hold the chain, and the key if --key is not given), e.g. "
                + "/etc/sidecar/certs/node1.pem. Required for HOST:PORT.",
            valueName: "file"))
    var cert: String?

    @Option(
        help: ArgumentHelp(
            "Our private key (PEM), e.g. /etc/sidecar/certs/node1.key. Default: the key inside --cert, or --cert's "
                + "path plus .key.",
            valueName: "file"))
    var key: String?

    @Option(
        help: ArgumentHelp(
            "CA bundle (PEM) the server's certificate must chain to, e.g. /etc/sidecar/certs/ca.pem. Required for "
                + "HOST:PORT.",
            valueName: "file"))
    var ca: String?

    @Option(
        help: ArgumentHelp(
            "Name the server's certificate must carry (SAN DNS or IP, then CN), also sent as SNI, e.g. "
                + "--server-name manager.example.com when probing by IP address. Default: the HOST of the target.",
            valueName: "name"))
    var serverName: String?

    @Option(
        help: ArgumentHelp(
            "Seconds allowed for the connect, the handshake, and (unix:) the answer, e.g. --timeout 2.5.",
            valueName: "seconds"))
    var timeout: Double = 5

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "unix:PATH only: send the D-Bus hello and wait for the answer (default). With --no-dbus, send nothing "
                + "and only check that the tunnel stays open for --timeout (for a protocol other than D-Bus)."))
    var dbus = true

    func run() throws {
        let request: ProbeRequest
        do {
            guard timeout.isFinite, timeout > 0, timeout <= 3600 else {
                throw UsageError("--timeout must be between 0 and 3600 seconds")
            }
            request = try ProbeRequest(
                target: ProbeRequest.Target(parsing: target), certificateFile: cert, keyFile: key, caFile: ca,
                serverName: serverName, timeout: .milliseconds(Int64(timeout * 1000)), dbusHello: dbus)
        } catch let error as UsageError {
            throw ValidationError(error.description)
        }
        do {
            try EventLoopTask.wait { try await ProbeRunner.run(request) { print($0) } }
        } catch let failure as ProbeFailure {
            print("FAILED: \(failure.reason)")
            throw ExitCode(failure.exitCode)
        }
    }
}
