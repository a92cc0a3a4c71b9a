import Foundation
import Testing

/// The built binary against OpenSSL's own client and server: each side of the tunnel interoperates with a
/// TLS implementation we did not write, and refuses the clients it must refuse.
@Suite struct RealPeerTests {
    @Test func reverseRelaysOpenSSLClientWithCertificateToBackendAndBack() async throws {
        try await withScenario { scenario in
            let openssl = try Harness.tool("openssl", package: "openssl")
            let pki = try await scenario.makePKI()
            let backend = try scenario.startEchoServer()
            let reverse = try await scenario.startReverse(pki: pki, backend: backend.path)

            // -quiet implies -ign_eof; -no_ign_eof after it makes EOF on stdin send close_notify and exit.
            let client = try scenario.start(
                "s_client",
                openssl,
                [
                    "s_client", "-connect", "127.0.0.1:\(reverse.port)", "-cert", pki.certificate("node1"),
                    "-key", pki.key("node1"), "-CAfile", pki.ca, "-verify_return_error", "-quiet", "-no_ign_eof",
                ],
                withStdin: true
            )
            let message = "hello through the reverse sidecar\n"
            try client.write(message)
            try await client.waitForOutput(message)
            #expect(backend.acceptedConnections == 1)

            client.closeStdin()
            try await client.waitForExit()
            let closed = try await reverse.process.waitForLine(containing: ["connection closed", "/CN=node1"])
            let length = message.utf8.count
            #expect(closed.contains("bytes_in=\(length)"), "\(closed)")
            #expect(closed.contains("bytes_out=\(length)"), "\(closed)")
            #expect(closed.contains("peer=127.0.0.1:"), "\(closed)")
        }
    }

    @Test func forwardPresentsClientCertificateToOpenSSLServerAndRelaysBothWays() async throws {
        try await withScenario { scenario in
            let openssl = try Harness.tool("openssl", package: "openssl")
            let pki = try await scenario.makePKI()
            let (server, port) = try await startOpenSSLServer(scenario, openssl: openssl, pki: pki)
            let forward = try await scenario.startForward(pki: pki, port: port)

            let client = try UnixSocketClient(path: forward.socketPath)
            try client.send("ping-from-forward\n")
            // s_server -rev answers each line reversed: proof the bytes crossed both ways.
            try await client.receive(until: "drawrof-morf-gnip")
            try await server.waitForOutput("Verification: OK", onStderr: true)
            #expect(server.stderr.contains("Peer certificate: CN = node1"), "\(server.transcript)")
            #expect(server.stderr.contains("CONNECTION ESTABLISHED"), "\(server.transcript)")
            client.close()
        }
    }

    @Test func reverseRefusesClientWithoutCertificateBeforeConnectingBackend() async throws {
        try await withScenario { scenario in
            let openssl = try Harness.tool("openssl", package: "openssl")
            let pki = try await scenario.makePKI()
            let backend = try scenario.startEchoServer()
            let reverse = try await scenario.startReverse(pki: pki, backend: backend.path)

            let client = try scenario.start(
                "s_client",
                openssl,
                ["s_client", "-connect", "127.0.0.1:\(reverse.port)", "-CAfile", pki.ca, "-quiet"],
                withStdin: true
            )
            let refused = try await reverse.process.waitForLine(containing: ["connection refused"])
            #expect(refused.contains("reason=\"no certificate presented\""), "\(refused)")
            #expect(refused.contains("peer=127.0.0.1:"), "\(refused)")
            #expect(try await client.waitForExit() != 0, "\(client.transcript)")
            #expect(backend.acceptedConnections == 0)
        }
    }

    @Test func reverseRefusesClientFromAnotherCAAndLogsItsSubject() async throws {
        try await withScenario { scenario in
            let openssl = try Harness.tool("openssl", package: "openssl")
            let pki = try await scenario.makePKI()
            let other = try await scenario.makePKI("other-pki", leaves: [("intruder", [])])
            let backend = try scenario.startEchoServer()
            let reverse = try await scenario.startReverse(pki: pki, backend: backend.path)

            let client = try scenario.start(
                "s_client",
                openssl,
                [
                    "s_client", "-connect", "127.0.0.1:\(reverse.port)", "-cert", other.certificate("intruder"),
                    "-key", other.key("intruder"), "-CAfile", pki.ca, "-quiet",
                ],
                withStdin: true
            )
            let refused = try await reverse.process.waitForLine(containing: ["connection refused"])
            #expect(refused.contains("subject=\"/CN=intruder\""), "\(refused)")
            #expect(refused.contains("unknown CA"), "\(refused)")
            #expect(try await client.waitForExit() != 0, "\(client.transcript)")
            #expect(backend.acceptedConnections == 0)
        }
    }

    /// Starts `openssl s_server` that requires a client certificate from `pki`'s CA, serves one connection
    /// in `-rev` mode, and prints the peer certificate; waits for its `ACCEPT` line.
    private func startOpenSSLServer(
        _ scenario: Scenario,
        openssl: URL,
        pki: PKI
    ) async throws -> (ChildProcess, UInt16) {
        for attempt in 1...3 {
            let port = try Harness.freePort()
            let server = try scenario.start(
                "s_server",
                openssl,
                [
                    "s_server", "-accept", "127.0.0.1:\(port)", "-naccept", "1", "-Verify", "1",
                    "-verify_return_error", "-CAfile", pki.ca, "-cert", pki.certificate("manager"),
                    "-key", pki.key("manager"), "-rev",
                ],
                withStdin: true
            )
            do {
                try await server.waitForOutput("ACCEPT")
                return (server, port)
            } catch  where attempt < 3 && !server.isRunning {
                continue  // most likely the port was taken in between
            }
        }
        throw HarnessError("unreachable")
    }
}
