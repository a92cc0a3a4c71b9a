import Foundation
import Testing

/// Expiry awareness at start and in `sidecar check`: a certificate that expires within
/// `cert-expiry-warning` days is a warning.
@Suite struct CertificateExpiryTests {
    @Test func soonExpiringCertificateIsAWarningAtStartAndInCheck() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI(leaves: [
                ("manager", ["--server", "--dns", "localhost", "--days", "10"]), ("node1", []),
            ])
            let echo = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let reverseDirectory = try scenario.writeReverseConfig(pki: pki, port: port, backend: echo.path)
            let check = try await scenario.runSidecar(["check", "-f", reverseDirectory, "--mode", "reverse"])
            #expect(check.exitStatus == 0, "\(check.transcript)")
            #expect(check.stdout.contains("manager.cfg:2: warning:"), "\(check.transcript)")
            #expect(check.stdout.contains("expires on"), "\(check.transcript)")
            let reverse = try scenario.start(
                "reverse", try Harness.sidecarBinary(), ["reverse", "-f", reverseDirectory, "--threads", "1"])
            try await reverse.waitForLine(containing: ["warning", "manager.pem", "expires on"])
            try await reverse.waitForLine(containing: ["info ready"])
        }
    }
}
