import Foundation
import SidecarConfig
import Testing

@testable import SidecarRuntime
@testable import SidecarTLS

/// `sidecar check` reports configured certificates that expire soon (warning) or have expired (error).
@Suite struct CertificateExpiryCheckTests {
    private func check(certificate: URL, key: URL, pki: TestPKI, in directory: URL) throws -> ConfigCheck {
        let combined = directory.appendingPathComponent("own.pem")
        try (Data(contentsOf: certificate) + Data(contentsOf: key)).write(to: combined)
        let text = """
            frontend rev
                bind 127.0.0.1:2021 ssl crt \(combined.path) ca-file \(pki.caCertificate.path) verify required
                default_backend rev
            backend rev
                timeout connect 1s
                server echo /tmp/nowhere.sock

            """
        let file = directory.appendingPathComponent("rev.cfg")
        try Data(text.utf8).write(to: file)
        return CheckRunner.check(paths: [file.path], mode: .reverse, loadFiles: true)
    }

    @Test func expiringCertificateIsAWarningAndExpiredOneAnError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("exp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pki = try TestPKI.make(in: directory)
        let issuer = try CertificateIssuer(caCertificateFile: pki.caCertificate, caKeyFile: pki.caKey)
        let soon = try issuer.issueLeaf(commonName: "soon", validity: .days(10), in: directory)

        let warned = try check(certificate: soon.certificateFile, key: soon.keyFile, pki: pki, in: directory)
        #expect(warned.isValid, "\(warned.lines)")
        #expect(warned.lines.contains { $0.contains("warning: certificate '/CN=soon'") && $0.contains("expires on") })

        let failed = try check(
            certificate: pki.expiredClientCertificate, key: pki.expiredClientKey, pki: pki, in: directory)
        #expect(!failed.isValid)
        #expect(
            failed.lines.contains {
                $0.contains("rev.cfg:2: error: certificate '/CN=client'") && $0.contains("expired on")
            },
            "\(failed.lines)")
    }
}
