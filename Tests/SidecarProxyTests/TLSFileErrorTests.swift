import Foundation
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// TLS files that must not load are configuration errors naming the line (what start, reload and
/// `sidecar check` print), and the reverse proxy is never built from them.
@Suite struct TLSFileErrorTests {
    @Test func aCertificateInCRLFileIsAnErrorNamingTheLineAndTheFile() async throws {
        let fixture = try await IdentityFixture()
        let pki = fixture.workspace.pki
        let mixed = fixture.workspace.path("mixed-crl.pem")
        try (Data(contentsOf: pki.revocationList) + Data(contentsOf: pki.rogueCACertificate))
            .write(to: URL(fileURLWithPath: mixed))
        let configuration = try fixture.reverseConfiguration(bindOptions: "crl-file \(mixed)")
        #expect {
            _ = try ProxyPlan(configuration: configuration)
        } throws: { error in
            "\(error)".contains("rev.cfg:2") && "\(error)".contains("CRL file \(mixed): holds a certificate")
        }
        await fixture.shutdown()
    }

    @Test func anEncryptedKeyIsAnErrorNamingTheLineAndTheFix() async throws {
        let fixture = try await IdentityFixture()
        let pki = fixture.workspace.pki
        let encrypted = fixture.workspace.path("encrypted.key")
        try OpenSSLTool.run([
            "pkey", "-in", pki.serverKey.path, "-aes256", "-passout", "pass:secret", "-out", encrypted,
        ])
        var configuration = try fixture.reverseConfiguration()
        configuration.frontends[0].binds[0].tls?.certificateFiles = [pki.serverCertificate.path]
        configuration.frontends[0].binds[0].tls?.keyFile = encrypted
        #expect {
            _ = try ProxyPlan(configuration: configuration)
        } throws: { error in
            "\(error)".contains("rev.cfg:2") && "\(error)".contains("private key \(encrypted): is encrypted")
                && "\(error)".contains("openssl pkey -in \(encrypted)")
        }
        await fixture.shutdown()
    }
}
