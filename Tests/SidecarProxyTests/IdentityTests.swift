import Foundation
import Logging
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// A reverse proxy built from configuration text (so the real parser runs), an echo backend, and forward
/// proxies presenting whichever client certificate a test wants.
final class IdentityFixture {
    let workspace: Workspace
    let group: MultiThreadedEventLoopGroup
    let echo: EchoServer
    let reverseLogs = LogCapture()
    let forwardLogs = LogCapture()
    let issuer: CertificateIssuer

    init() async throws {
        workspace = try Workspace()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        echo = try await EchoServer.start(path: workspace.path("echo.sock"), group: group)
        issuer = try CertificateIssuer(caCertificateFile: workspace.pki.caCertificate, caKeyFile: workspace.pki.caKey)
    }

    /// A client certificate and key for `commonName` from the trusted CA.
    func client(_ commonName: String, uris: [String] = []) throws -> (certificate: String, key: String) {
        let issued = try issuer.issueLeaf(
            commonName: commonName, uris: uris, validity: .days(30), in: workspace.directory, force: true)
        return (issued.certificateFile.path, issued.keyFile.path)
    }

    /// The reverse side's configuration: `bindOptions` on the TLS bind line, `lines` in the frontend.
    func reverseConfiguration(bindOptions: String = "", lines: [String] = [], file: String? = nil) throws
        -> Configuration
    {
        let pki = workspace.pki
        // HAProxy's `crt` holds certificate and key in one PEM.
        let combined = workspace.path("server-with-key.pem")
        try Data(try Data(contentsOf: pki.serverCertificate) + Data(contentsOf: pki.serverKey))
            .write(to: URL(fileURLWithPath: combined))
        let text = """
            frontend rev
                bind 127.0.0.1:1 ssl crt \(combined) ca-file \(pki.caCertificate.path) verify required \(bindOptions)
            \(lines.map { "    " + $0 }.joined(separator: "\n"))
                default_backend rev
            backend rev
                server echo \(echo.path)

            """
        let path = file ?? workspace.path("rev.cfg")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        var configuration = try ConfigLoader(environment: [:]).load(paths: [path])
        configuration.frontends[0].binds[0].address = .tcp(host: "127.0.0.1", port: 0)
        return configuration
    }

    func startReverse(_ configuration: Configuration) async throws -> Proxy {
        try await Proxy.start(plan: ProxyPlan(configuration: configuration), group: group, logger: reverseLogs.logger)
    }

    /// A forward proxy on `name.sock` presenting `certificate` to the reverse proxy on `port`.
    func startForward(
        name: String, port: Int, certificate: (certificate: String, key: String),
        tweak: (inout TLSSettings) -> Void = { _ in }
    ) async throws -> Proxy {
        var tls = workspace.serverTLS
        tls.certificateFiles = [certificate.certificate]
        tls.keyFile = certificate.key
        tweak(&tls)
        let location = SourceLocation.commandLine("test")
        let configuration = Configuration(
            frontends: [
                Frontend(
                    name: "fwd",
                    binds: [Bind(address: .unix(path: workspace.path("\(name).sock")), location: location)],
                    defaultBackend: "fwd", location: location)
            ],
            backends: [
                Backend(
                    name: "fwd",
                    servers: [
                        Server(name: "rev", address: .tcp(host: "127.0.0.1", port: port), tls: tls, location: location)
                    ],
                    location: location)
            ])
        return try await Proxy.start(
            plan: ProxyPlan(configuration: configuration), group: group, logger: forwardLogs.logger)
    }

    /// Sends a line through the forward proxy `name` and reports whether it came back.
    func roundTrip(through name: String) async throws -> Bool {
        let client = try await CollectingClient.connect(unixPath: workspace.path("\(name).sock"), group: group)
        defer { Task { await client.close() } }
        // A refused tunnel may close the local connection before the write: that is a refusal too.
        try? await client.send(ByteBuffer(string: "ping\n"))
        try await eventually("echo or close") { client.received.readableBytes >= 5 || client.ended }
        return client.received.readableBytes >= 5
    }

    func shutdown(_ proxies: Proxy...) async {
        for proxy in proxies { await proxy.stopListening() }
        await echo.close()
        try? await group.shutdownGracefully()
    }
}

/// Who may connect: rules, allow-lists, revocation, TLS policy, resumption and expiry, in process.
@Suite(.serialized) struct IdentityTests {
    /// One row per rule form: the reverse configuration, a CN it must let through, one it must refuse.
    static let ruleForms: [(bindOptions: String, lines: [String], allowed: String, refused: String)] = [
        ("allow-cn node1,node2", [], "node1", "node7"),
        (
            "",
            [
                "tcp-request session reject unless { ssl_c_used } { ssl_c_verify 0 } { ssl_c_s_dn(CN) -m str node1 node2 }"
            ], "node2", "node7"
        ),
        ("", ["acl ok ssl_c_s_dn(CN) -m reg ^node[0-3]$", "tcp-request session reject unless ok"], "node3", "node7"),
        ("", ["acl ok ssl_c_s_dn(CN) -m beg agent-", "tcp-request session reject unless ok"], "agent-9", "node7"),
        ("", ["acl ok ssl_c_s_dn(CN) -i -f cns.lst", "tcp-request session reject unless ok"], "node1", "node7"),
        (
            "",
            [
                "acl bad ssl_c_s_dn(CN) node7 node8", "acl old ssl_c_s_dn(CN) legacy",
                "tcp-request session reject if bad || old",
            ], "node1", "node7"
        ),
        ("", ["acl node ssl_c_s_dn(CN) -m beg node", "tcp-request session reject if !node"], "node1", "client"),
        (
            "", ["tcp-request session accept if { ssl_c_s_dn(CN) node1 }", "tcp-request session reject"], "node1",
            "node7"
        ),
    ]

    @Test(arguments: ruleForms.indices)
    func allowedCNPassesOtherCNIsRefusedBeforeTheBackend(index: Int) async throws {
        let form = Self.ruleForms[index]
        let fixture = try await IdentityFixture()
        try Data("# upper case on purpose: -i\nNODE1\n".utf8).write(
            to: URL(fileURLWithPath: fixture.workspace.path("cns.lst")))
        let reverse = try await fixture.startReverse(
            try fixture.reverseConfiguration(bindOptions: form.bindOptions, lines: form.lines))
        let port = reverse.boundAddresses[0].port!
        let refusedForward = try await fixture.startForward(
            name: "refused", port: port, certificate: try fixture.client(form.refused))
        #expect(try await !fixture.roundTrip(through: "refused"))
        try await fixture.reverseLogs.waitFor(
            "connection refused", "CN '\(form.refused)' not allowed on frontend 'rev'")
        #expect(fixture.echo.accepted == 0)
        let allowedForward = try await fixture.startForward(
            name: "allowed", port: port, certificate: try fixture.client(form.allowed))
        #expect(try await fixture.roundTrip(through: "allowed"))
        #expect(fixture.echo.accepted == 1)
        await fixture.shutdown(reverse, refusedForward, allowedForward)
    }

    @Test func refusalLogNamesPeerSubjectIssuerAndSerial() async throws {
        let fixture = try await IdentityFixture()
        let reverse = try await fixture.startReverse(try fixture.reverseConfiguration(bindOptions: "allow-cn node1"))
        let forward = try await fixture.startForward(
            name: "f", port: reverse.boundAddresses[0].port!, certificate: try fixture.client("node7"))
        #expect(try await !fixture.roundTrip(through: "f"))
        let line = try await fixture.reverseLogs.waitFor("connection refused")
        #expect(line.contains("peer=127.0.0.1"))
        #expect(
            line.contains("subject=/CN=node7") && line.contains("issuer=/CN=sidecar test CA")
                && line.contains("serial="))
        #expect(line.contains("(allow-cn node1)"))
        await fixture.shutdown(reverse, forward)
    }

    @Test func spiffeAllowListWithWildcardSegment() async throws {
        let fixture = try await IdentityFixture()
        let reverse = try await fixture.startReverse(
            try fixture.reverseConfiguration(bindOptions: "allow-uri spiffe://sidecar.test/node/*"))
        let port = reverse.boundAddresses[0].port!
        let other = try await fixture.startForward(
            name: "other", port: port, certificate: try fixture.client("x", uris: ["spiffe://sidecar.test/admin/x"]))
        #expect(try await !fixture.roundTrip(through: "other"))
        #expect(fixture.echo.accepted == 0)
        let node = try await fixture.startForward(
            name: "node", port: port, certificate: try fixture.client("y", uris: ["spiffe://sidecar.test/node/y"]))
        #expect(try await fixture.roundTrip(through: "node"))
        await fixture.shutdown(reverse, other, node)
    }

    @Test func forwardRefusesServerOutsideItsAllowList() async throws {
        let fixture = try await IdentityFixture()
        let reverse = try await fixture.startReverse(try fixture.reverseConfiguration())
        let forward = try await fixture.startForward(
            name: "f", port: reverse.boundAddresses[0].port!, certificate: try fixture.client("node1"),
            tweak: { $0.allowedPeers = PeerAllowList(commonNames: ["manager"]) })
        #expect(try await !fixture.roundTrip(through: "f"))
        try await fixture.forwardLogs.waitFor(
            "server refused by identity rules", "CN 'server' not allowed on server 'rev'")
        // The reverse side accepted the forward proxy (its rules allow it), so its echo backend may have seen
        // connections; what matters is that the forward side never relayed the client's bytes.
        #expect(!fixture.forwardLogs.all.contains { $0.contains("TLS handshake with server done") })
        await fixture.shutdown(reverse, forward)
    }

    @Test func revokedClientIsRefusedThenAcceptedAfterRebuildWithNewCRL() async throws {
        let fixture = try await IdentityFixture()
        let pki = fixture.workspace.pki
        let crl = fixture.workspace.path("current-crl.pem")
        try FileManager.default.copyItem(atPath: pki.revocationList.path, toPath: crl)
        let configuration = try fixture.reverseConfiguration(bindOptions: "crl-file \(crl)")
        let first = try await fixture.startReverse(configuration)
        let revoked = (pki.revokedClientCertificate.path, pki.revokedClientKey.path)
        let before = try await fixture.startForward(
            name: "before", port: first.boundAddresses[0].port!, certificate: revoked)
        #expect(try await !fixture.roundTrip(through: "before"))
        try await fixture.reverseLogs.waitFor("connection refused", "certificate revoked", "serial=")
        #expect(fixture.echo.accepted == 0)
        await first.stopListening()

        // What SIGHUP does: a new CRL on disk, then a new plan (new TLS contexts read the files again).
        let authority = try CertificateAuthority(certificateFile: pki.caCertificate, keyFile: pki.caKey)
        try authority.writeRevocationList(revoking: [], to: URL(fileURLWithPath: crl), crlNumber: 2, force: true)
        let second = try await fixture.startReverse(configuration)
        let after = try await fixture.startForward(
            name: "after", port: second.boundAddresses[0].port!, certificate: revoked)
        #expect(try await fixture.roundTrip(through: "after"))
        await fixture.shutdown(second, before, after)
    }

    @Test func minimumTLS13RefusesOpenSSLClientOfferingTLS12() async throws {
        let fixture = try await IdentityFixture()
        let reverse = try await fixture.startReverse(
            try fixture.reverseConfiguration(bindOptions: "ssl-min-ver TLSv1.3"))
        let port = reverse.boundAddresses[0].port!
        let pki = fixture.workspace.pki
        func sClient(_ version: String) throws -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = [
                "s_client", "-connect", "127.0.0.1:\(port)", version, "-cert", pki.clientCertificate.path, "-key",
                pki.clientKey.path, "-CAfile", pki.caCertificate.path, "-brief",
            ]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let old = try sClient("-tls1_2")
        #expect(old.status != 0, "\(old.output)")
        try await fixture.reverseLogs.waitFor(
            "connection refused", "TLS 1.2 (offered by the client) below ssl-min-ver TLSv1.3")
        let current = try sClient("-tls1_3")
        #expect(current.output.contains("TLSv1.3"), "\(current.output)")
        #expect(fixture.echo.accepted <= 1)
        await fixture.shutdown(reverse)
    }

    @Test func listenerSendsTheCrtFileAsItIsWithoutAddingTheRootCA() async throws {
        let fixture = try await IdentityFixture()
        let reverse = try await fixture.startReverse(try fixture.reverseConfiguration())
        let pki = fixture.workspace.pki
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "s_client", "-connect", "127.0.0.1:\(reverse.boundAddresses[0].port!)", "-showcerts", "-cert",
            pki.clientCertificate.path, "-key", pki.clientKey.path, "-CAfile", pki.caCertificate.path,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let sent = text.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1
        let inFile =
            try String(contentsOf: pki.serverCertificate, encoding: .utf8)
            .components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1
        #expect(text.contains("Verify return code: 0"), "\(text)")
        // OpenSSL would otherwise complete the chain from the CA file and send the root as well.
        #expect(sent == inFile, "\(text)")
        await fixture.shutdown(reverse)
    }

    @Test func cipherStringWithoutUsableCipherIsAConfigErrorNamingTheLine() async throws {
        let fixture = try await IdentityFixture()
        let configuration = try fixture.reverseConfiguration(bindOptions: "ciphers NO-SUCH-CIPHER")
        #expect {
            _ = try ProxyPlan(configuration: configuration)
        } throws: { error in
            "\(error)".contains("rev.cfg:2") && "\(error)".contains("ciphers 'NO-SUCH-CIPHER'")
        }
        await fixture.shutdown()
    }

    /// Who turns resumption off, for `forwardResumesUnlessItsServerLineSaysNo`.
    enum ResumptionSetting: String, CaseIterable, Sendable {
        case defaults
        /// HAProxy's meaning: no stateless tickets; the listener's stateful ones still resume.
        case noTLSTicketsOnTheBind
        case noTLSTicketsOnTheServerLine
        case noSSLReuseOnTheServerLine
    }

    @Test(arguments: ResumptionSetting.allCases)
    func forwardResumesUnlessItsServerLineSaysNo(_ setting: ResumptionSetting) async throws {
        let fixture = try await IdentityFixture()
        let reverse = try await fixture.startReverse(
            try fixture.reverseConfiguration(bindOptions: setting == .noTLSTicketsOnTheBind ? "no-tls-tickets" : ""))
        let forward = try await fixture.startForward(
            name: "f", port: reverse.boundAddresses[0].port!, certificate: try fixture.client("node1"),
            tweak: {
                if setting == .noTLSTicketsOnTheServerLine { $0.sessionTickets = false }
                if setting == .noSSLReuseOnTheServerLine { $0.sessionReuse = false }
            })
        for _ in 0..<3 { #expect(try await fixture.roundTrip(through: "f")) }
        try await fixture.eventuallyCount(fixture.forwardLogs, "TLS handshake with server done", 3)
        let resumed = fixture.forwardLogs.all.filter {
            $0.contains("TLS handshake with server done") && $0.contains("resumed=true")
        }
        let serverLineSaysNo = setting == .noTLSTicketsOnTheServerLine || setting == .noSSLReuseOnTheServerLine
        #expect(resumed.count == (serverLineSaysNo ? 0 : 2), "\(fixture.forwardLogs.all)")
        await fixture.shutdown(reverse, forward)
    }

    @Test func expiringAndExpiredCertificatesAreReportedAtPlanBuild() async throws {
        let fixture = try await IdentityFixture()
        let directory = fixture.workspace.directory
        let soon = try fixture.issuer.issueLeaf(
            commonName: "soon", validity: .days(10), purpose: .server, in: directory, force: true)
        let expired = fixture.workspace.pki.expiredClientCertificate
        var configuration = try fixture.reverseConfiguration()
        configuration.frontends[0].binds[0].tls?.certificateFiles = [soon.certificateFile.path]
        configuration.frontends[0].binds[0].tls?.keyFile = soon.keyFile.path
        let plan = try ProxyPlan(configuration: configuration)
        let findings = plan.certificateFindings()
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.severity == .warning)
        #expect(findings.first?.message.contains("certificate '/CN=soon'") == true)
        #expect(findings.first?.message.contains("expires on") == true)
        #expect(
            plan.certificateExpiries.contains {
                $0.subject == "/CN=sidecar test CA" && $0.role == .certificateAuthority
            })

        configuration.frontends[0].binds[0].tls?.certificateFiles = [expired.path]
        configuration.frontends[0].binds[0].tls?.keyFile = fixture.workspace.pki.expiredClientKey.path
        let expiredFindings = try ProxyPlan(configuration: configuration).certificateFindings()
        #expect(
            expiredFindings.contains { $0.severity == .error && $0.message.contains("expired on") },
            "\(expiredFindings)")
        configuration.global.certExpiryWarningDays = 5
        configuration.frontends[0].binds[0].tls?.certificateFiles = [soon.certificateFile.path]
        configuration.frontends[0].binds[0].tls?.keyFile = soon.keyFile.path
        #expect(try ProxyPlan(configuration: configuration).certificateFindings().isEmpty)
        await fixture.shutdown()
    }
}

extension IdentityFixture {
    /// Waits until `logs` holds `count` lines containing `fragment`.
    func eventuallyCount(_ logs: LogCapture, _ fragment: String, _ count: Int) async throws {
        try await eventually("\(count) lines with '\(fragment)'") { logs.all.count { $0.contains(fragment) } >= count }
    }
}
