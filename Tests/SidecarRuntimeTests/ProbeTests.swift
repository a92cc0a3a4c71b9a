import Foundation
import NIOCore
import NIOPosix
import SidecarTLS
import Testing

@testable import SidecarRuntime

/// `sidecar probe` against reverse and forward sidecars running in this process.
@Suite(.serialized)
struct ProbeTests {
    @Test func probeReportsProtocolChainNameAndAcceptanceAgainstAGoodReverseSidecar() async throws {
        let workspace = try ProbeWorkspace()
        let reverse = try await ReverseFixture(
            workspace: workspace, certificate: workspace.pki.serverCertificate, key: workspace.pki.serverKey)
        defer { Task { await reverse.shutdown() } }

        let (failure, output) = await probe(try workspace.request(port: reverse.port, serverName: "localhost"))

        #expect(failure == nil, "\(failure?.reason ?? "")\n\(output.text)")
        let text = output.text
        #expect(text.contains("TLS handshake in"))
        #expect(text.contains("TLSv1.3"))
        #expect(text.contains("[0] subject:  /CN=server"))
        #expect(text.contains("issuer:   /CN=sidecar test CA"))
        #expect(text.contains("SANs:     DNS:localhost, IP:127.0.0.1"))
        #expect(text.contains("notAfter:"))
        #expect(text.contains("chain verified against --ca up to: /CN=sidecar test CA"))
        #expect(text.contains("server name: 'localhost' matches the certificate"))
        #expect(text.contains("our certificate: accepted"))
        #expect(text.contains("round trip: TCP connect"))
        #expect(
            output.lines.last
                == "OK: mutual TLS with 127.0.0.1:2021 works".replacingOccurrences(
                    of: "2021", with: "\(reverse.port)"))
    }

    @Test func probeRefusesAReverseSidecarWithAnExpiredCertificate() async throws {
        let workspace = try ProbeWorkspace()
        let reverse = try await ReverseFixture(
            workspace: workspace, certificate: workspace.expiredServer.certificateFile,
            key: workspace.expiredServer.keyFile)
        defer { Task { await reverse.shutdown() } }

        let (failure, output) = await probe(try workspace.request(port: reverse.port, serverName: "localhost"))

        let refusal = try #require(failure, "\(output.text)")
        #expect(refusal.code == ProbeFailure.serverCertificateRefused)
        #expect(refusal.exitCode == 3)
        #expect(refusal.reason.contains("we refused the server's certificate: certificate has expired"))
        #expect(refusal.reason.contains("renew the server's certificate"))
        // The chain is shown even though it did not verify, so the operator sees the date.
        #expect(output.text.contains("EXPIRED 1 days ago"))
    }

    @Test func probeRefusesAReverseSidecarFromAnotherCA() async throws {
        let workspace = try ProbeWorkspace()
        let reverse = try await ReverseFixture(
            workspace: workspace, certificate: workspace.pki.rogueServerCertificate,
            key: workspace.pki.rogueServerKey)
        defer { Task { await reverse.shutdown() } }

        let (failure, output) = await probe(try workspace.request(port: reverse.port, serverName: "localhost"))

        let refusal = try #require(failure, "\(output.text)")
        #expect(refusal.code == ProbeFailure.serverCertificateRefused)
        #expect(refusal.exitCode == 3)
        #expect(refusal.reason.contains("unknown CA"))
        #expect(refusal.reason.contains("--ca must hold the CA"))
        #expect(output.text.contains("issuer:   /CN=rogue test CA"))
    }

    @Test func probeRefusesAServerWhoseCertificateIsForAnotherName() async throws {
        let workspace = try ProbeWorkspace()
        let reverse = try await ReverseFixture(
            workspace: workspace, certificate: workspace.pki.serverCertificate, key: workspace.pki.serverKey)
        defer { Task { await reverse.shutdown() } }

        let (failure, output) = await probe(
            try workspace.request(port: reverse.port, serverName: "manager.example.com"))

        let refusal = try #require(failure, "\(output.text)")
        #expect(refusal.exitCode == 3)
        #expect(refusal.reason.contains("certificate name mismatch: expected 'manager.example.com'"))
    }

    @Test func probeReportsAClosedPort() async throws {
        let workspace = try ProbeWorkspace()
        let port = try await closedPort()

        let (failure, output) = await probe(try workspace.request(port: port))

        let refusal = try #require(failure, "\(output.text)")
        #expect(refusal.code == ProbeFailure.unreachable)
        #expect(refusal.exitCode == 2)
        #expect(refusal.reason.contains("cannot connect to 127.0.0.1:\(port): Connection refused"))
    }

    /// The reverse sidecar refuses these client certificates; under TLS 1.3 its alert arrives after our
    /// side of the handshake completed.
    @Test(arguments: [
        ("expired", "it says our certificate has expired"),
        ("rogue", "it does not trust the CA that issued our certificate"),
        ("server", "it does not accept our certificate's type or usage (a client certificate needs extendedKeyUsage"),
    ])
    func probeReportsThatTheServerRefusedOurCertificate(client: String, expected: String) async throws {
        let workspace = try ProbeWorkspace()
        let reverse = try await ReverseFixture(
            workspace: workspace, certificate: workspace.pki.serverCertificate, key: workspace.pki.serverKey)
        defer { Task { await reverse.shutdown() } }
        let pki = workspace.pki
        let (certificate, key) =
            switch client {
            case "expired": (pki.expiredClientCertificate, pki.expiredClientKey)
            // The server's own certificate (extendedKeyUsage serverAuth only) presented as a client's.
            case "server": (pki.serverCertificate, pki.serverKey)
            default: (pki.rogueClientCertificate, pki.rogueClientKey)
            }

        let (failure, output) = await probe(
            try workspace.request(port: reverse.port, certificate: certificate, key: key, serverName: "localhost"))

        let refusal = try #require(failure, "\(output.text)")
        #expect(refusal.code == ProbeFailure.clientCertificateRefused)
        #expect(refusal.exitCode == 4)
        #expect(refusal.reason.contains("the server refused our certificate: \(expected)"), "\(refusal.reason)")
        // Our side of the handshake had completed: the server's chain and name were fine.
        #expect(output.text.contains("server name: 'localhost' matches the certificate"))
    }

    @Test func probeReportsAnUnreadableCertificateAsSetupError() async throws {
        let workspace = try ProbeWorkspace()
        let request = try ProbeRequest(
            target: .tls(host: "127.0.0.1", port: 2021), certificateFile: workspace.path("missing.pem"),
            caFile: workspace.pki.caCertificate.path)

        let (failure, _) = await probe(request)

        let refusal = try #require(failure)
        #expect(refusal.exitCode == 1)
        #expect(refusal.reason.contains("missing.pem"))
    }

    @Test func unixProbeGetsTheDBusServersAnswerThroughBothSidecars() async throws {
        let workspace = try ProbeWorkspace()
        let reverse = try await ReverseFixture(
            workspace: workspace, certificate: workspace.pki.serverCertificate, key: workspace.pki.serverKey)
        let forward = try await ForwardFixture(workspace: workspace, reversePort: reverse.port)
        defer {
            Task {
                await forward.shutdown()
                await reverse.shutdown()
            }
        }

        let (failure, output) = await probe(try ProbeRequest(target: .unix(path: forward.socketPath)))

        #expect(failure == nil, "\(failure?.reason ?? "")\n\(output.text)")
        #expect(output.text.contains("REJECTED EXTERNAL ANONYMOUS"))
        #expect(output.lines.last?.hasPrefix("OK: the tunnel works end to end") == true)
    }

    @Test func unixProbeReportsATunnelWhoseManagerIsDown() async throws {
        let workspace = try ProbeWorkspace()
        let forward = try await ForwardFixture(workspace: workspace, reversePort: try await closedPort())
        defer { Task { await forward.shutdown() } }

        let (failure, output) = await probe(try ProbeRequest(target: .unix(path: forward.socketPath)))

        let refusal = try #require(failure, "\(output.text)")
        #expect(refusal.code == ProbeFailure.tunnelFailed)
        #expect(refusal.exitCode == 6)
        #expect(refusal.reason.contains("the tunnel closed after"))
    }

    @Test func unixProbeReportsAMissingSocket() async throws {
        let workspace = try ProbeWorkspace()

        let (failure, _) = await probe(try ProbeRequest(target: .unix(path: workspace.path("none.sock"))))

        let refusal = try #require(failure)
        #expect(refusal.exitCode == 2)
        #expect(refusal.reason.contains("No such file or directory (is sidecar.socket or sidecar running?)"))
    }

    @Test(arguments: [
        ("manager.example.com:2021", ProbeRequest.Target.tls(host: "manager.example.com", port: 2021)),
        ("[::1]:2021", .tls(host: "::1", port: 2021)),
        ("unix:/run/sidecar/agent.sock", .unix(path: "/run/sidecar/agent.sock")),
        ("/run/sidecar/agent.sock", .unix(path: "/run/sidecar/agent.sock")),
    ])
    func targetParses(text: String, expected: ProbeRequest.Target) throws {
        #expect(try ProbeRequest.Target(parsing: text) == expected)
    }

    @Test func tlsTargetNeedsCertificateAndCA() {
        #expect(throws: UsageError.self) { try ProbeRequest(target: .tls(host: "h", port: 1), caFile: "ca.pem") }
        #expect(throws: UsageError.self) { try ProbeRequest(target: .tls(host: "h", port: 1), certificateFile: "c") }
        #expect(throws: UsageError.self) { try ProbeRequest(target: .unix(path: "/s"), caFile: "ca.pem") }
    }
}
