import Foundation
import SidecarConfig
import Testing

@testable import SidecarTLS

/// `crl-file` holds CRLs of the configured CAs and nothing else: a CA certificate slipped into it used to
/// become a trust anchor (`X509_STORE_load_file` adds certificates too), letting that CA's clients in.
@Suite struct RevocationListTests {
    let directory: URL
    let pki: TestPKI

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("crl-\(UUID().uuidString)")
        pki = try TestPKI.make(in: directory)
    }

    /// A CRL of the rogue CA (revoking nothing), as PEM text.
    private func rogueRevocationList() throws -> Data {
        let rogue = try CertificateAuthority(certificateFile: pki.rogueCACertificate, keyFile: pki.rogueCAKey)
        let file = directory.appendingPathComponent("rogue-crl.pem")
        try rogue.writeRevocationList(revoking: [], to: file, force: true)
        return try Data(contentsOf: file)
    }

    private func client(_ certificate: URL, _ key: URL) -> TLSSettings {
        var settings = pair(clientOf: pki)
        settings.certificateFiles = [certificate.path]
        settings.keyFile = key.path
        return settings
    }

    private func listener(crlFile: URL) -> TLSSettings {
        var settings = pair(serverOf: pki)
        settings.crlFile = crlFile.path
        return settings
    }

    @Test func aCertificateInTheCRLFileIsALoadErrorNamingTheFile() throws {
        // The real CRL, then the rogue CA's certificate and its CRL: what an attacker (or a careless `cat`)
        // would put together. Before, the rogue CA became trusted and its client was let in.
        let mixed = directory.appendingPathComponent("mixed-crl.pem")
        try (Data(contentsOf: pki.revocationList) + Data(contentsOf: pki.rogueCACertificate) + rogueRevocationList())
            .write(to: mixed)
        let error = #expect(throws: TLSContextError.self) {
            try TLSContext(settings: listener(crlFile: mixed), role: .server)
        }
        #expect(error?.description.contains("CRL file \(mixed.path)") == true, "\(String(describing: error))")
        #expect(error?.description.contains("holds a certificate") == true, "\(String(describing: error))")
    }

    @Test func theRogueCAsClientDoesNotGetThroughAMixedCRLFile() throws {
        let mixed = directory.appendingPathComponent("mixed-crl.pem")
        try (Data(contentsOf: pki.revocationList) + Data(contentsOf: pki.rogueCACertificate) + rogueRevocationList())
            .write(to: mixed)
        // Whatever loading does, the rogue CA's client must not complete a handshake with this listener.
        guard let listener = try? TLSContext(settings: listener(crlFile: mixed), role: .server) else { return }
        let pair = try TLSPair(
            clientContext: TLSContext(settings: client(pki.rogueClientCertificate, pki.rogueClientKey), role: .client),
            serverContext: listener)
        try pair.interact()
        #expect(pair.serverEvents.handshake == nil, "a client of the CA slipped into crl-file got through")
    }

    @Test func theRealCRLAloneLoadsAndTheRogueClientIsUnknown() throws {
        let pair = try TLSPair(
            clientContext: TLSContext(settings: client(pki.rogueClientCertificate, pki.rogueClientKey), role: .client),
            serverContext: TLSContext(settings: listener(crlFile: pki.revocationList), role: .server))
        try pair.interact()
        let refusal = try #require(pair.serverEvents.errors.first)
        #expect(refusal.reason.contains("unknown CA"), "\(refusal)")
        #expect(pair.serverEvents.handshake == nil)
    }

    @Test func aCRLFromACAOutsideCAFileIsALoadErrorNamingTheIssuer() throws {
        let foreign = directory.appendingPathComponent("foreign-crl.pem")
        try (Data(contentsOf: pki.revocationList) + rogueRevocationList()).write(to: foreign)
        let error = #expect(throws: TLSContextError.self) {
            try TLSContext(settings: listener(crlFile: foreign), role: .server)
        }
        #expect(error?.description.contains("CRL file \(foreign.path)") == true, "\(String(describing: error))")
        #expect(error?.description.contains("issued by '/CN=rogue test CA'") == true, "\(String(describing: error))")
    }

    @Test func aFileWithoutACRLIsALoadError() throws {
        let empty = directory.appendingPathComponent("empty-crl.pem")
        try Data("not a CRL\n".utf8).write(to: empty)
        let error = #expect(throws: TLSContextError.self) {
            try TLSContext(settings: listener(crlFile: empty), role: .server)
        }
        #expect(error?.description.contains("holds no PEM CRL") == true, "\(String(describing: error))")
    }

    @Test func theRealCRLStillRevokes() throws {
        let pair = try TLSPair(
            clientContext: TLSContext(
                settings: client(pki.revokedClientCertificate, pki.revokedClientKey), role: .client),
            serverContext: TLSContext(settings: listener(crlFile: pki.revocationList), role: .server))
        try pair.interact()
        #expect(pair.serverEvents.errors.first?.reason == "certificate revoked")
    }
}
