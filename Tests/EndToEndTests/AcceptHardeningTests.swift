import Foundation
import Testing

/// What a client that is not yet (or never) authenticated can make the reverse side do: `tcp-request
/// connection` rules act before any TLS byte, and descriptors and handshakes are bounded.
@Suite struct AcceptHardeningTests {
    /// `reverse.d/manager.cfg` with extra `global` and `frontend` lines.
    static func writeConfig(
        _ scenario: Scenario, pki: PKI, port: UInt16, backend: String, global: [String] = [],
        frontend: [String] = [], server: String = ""
    ) throws -> String {
        let directory = scenario.path("reverse.d")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let globalSection = global.isEmpty ? "" : "global\n" + global.map { "    \($0)\n" }.joined()
        try """
        \(globalSection)frontend manager
            bind 127.0.0.1:\(port) ssl crt \(pki.certificate("manager")) verify required ca-file \(pki.ca)
        \(frontend.map { "    \($0)\n" }.joined())    default_backend local
        backend local
            server bus \(backend) \(server)

        """.write(toFile: directory + "/manager.cfg", atomically: true, encoding: .utf8)
        return directory
    }

    @Test func tcpRequestConnectionRejectSendsNoServerHello() async throws {
        try await withScenario { scenario in
            let openssl = try Harness.tool("openssl", package: "openssl")
            let pki = try await scenario.makePKI()
            let backend = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let config = try Self.writeConfig(
                scenario, pki: pki, port: port, backend: backend.path,
                frontend: ["tcp-request connection reject if { src 127.0.0.1 }"])
            let reverse = try scenario.start("reverse", try Harness.sidecarBinary(), ["reverse", "-f", config])
            try await reverse.waitForLine(containing: ["info ready"])

            let client = try await scenario.run(
                "s_client", openssl,
                [
                    "s_client", "-connect", "127.0.0.1:\(port)", "-cert", pki.certificate("node1"), "-key",
                    pki.key("node1"), "-CAfile", pki.ca,
                ])
            let refused = try await reverse.waitForLine(containing: ["connection refused"])
            #expect(refused.contains("source 127.0.0.1 not allowed"), "\(refused)")
            #expect(refused.contains("tcp-request connection reject"), "\(refused)")
            // s_client prints the server's certificate once a ServerHello and Certificate arrived.
            #expect(client.stdout.contains("no peer certificate available"), "\(client.transcript)")
            #expect(!client.stdout.contains("BEGIN CERTIFICATE"), "\(client.transcript)")
            #expect(!client.stdout.contains("Server certificate"), "\(client.transcript)")
            #expect(backend.acceptedConnections == 0)
        }
    }
}
