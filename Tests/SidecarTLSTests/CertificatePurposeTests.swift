import Foundation
import SidecarConfig
import Testing

@testable import SidecarTLS

/// Each end requires the peer's certificate to be made for the peer's role: a listener takes client
/// certificates (extendedKeyUsage clientAuth), a client takes server certificates (serverAuth). Certificates
/// lacking the purpose are made by `openssl req`/`openssl x509 -extfile`, not by sidecar.
@Suite struct CertificatePurposeTests {
    let directory: URL
    let pki: TestPKI

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("eku-\(UUID().uuidString)")
        pki = try TestPKI.make(in: directory)
    }

    private var ca: (certificate: URL, key: URL) { (pki.caCertificate, pki.caKey) }

    @Test func aListenerRefusesAClientCertificateWithoutClientAuth() throws {
        let serverOnly = try OpenSSLCommand.leaf(
            "server-only-client", subject: "/CN=node1",
            extensions: ["extendedKeyUsage=serverAuth", "keyUsage=critical,digitalSignature"], signedBy: ca,
            in: directory)
        let pair = try TLSPair(pki: pki, clientCertificate: (serverOnly.certificate, serverOnly.key))
        try pair.interact()
        let refusal = try #require(pair.serverEvents.errors.first)
        #expect(refusal.code == TLSError.certificateRejected)
        #expect(refusal.reason.contains("not for a TLS client"), "\(refusal)")
        #expect(refusal.certificate?.commonNames == ["node1"])
        #expect(pair.serverEvents.handshake == nil)
    }

    @Test func aClientRefusesAServerCertificateWithoutServerAuth() throws {
        let clientOnly = try OpenSSLCommand.leaf(
            "client-only-server", subject: "/CN=manager",
            extensions: ["extendedKeyUsage=clientAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1"], signedBy: ca,
            in: directory)
        let pair = try TLSPair(pki: pki, serverCertificate: (clientOnly.certificate, clientOnly.key))
        try pair.interact()
        let refusal = try #require(pair.clientEvents.errors.first)
        #expect(refusal.code == TLSError.certificateRejected)
        #expect(refusal.reason.contains("not for a TLS server"), "\(refusal)")
        #expect(pair.clientEvents.handshake == nil)
    }

    /// The defect: every generated leaf carried serverAuth, so with a forward side that checks the chain but
    /// no name, any node's certificate could stand in for the controller's.
    @Test func aNodesLeafCannotImpersonateTheController() throws {
        let issuer = CertificateIssuer(
            authority: try CertificateAuthority(certificateFile: pki.caCertificate, keyFile: pki.caKey))
        let node = try issuer.issueLeaf(
            commonName: "node7", dnsNames: ["localhost"], validity: .days(1), in: directory)
        var client = pair(clientOf: pki)
        client.verifyHost = nil
        let pair = try TLSPair(
            clientContext: TLSContext(settings: client, role: .client),
            serverContext: TLSContext(
                settings: {
                    var settings = SidecarTLSTests.pair(serverOf: pki)
                    settings.certificateFiles = [node.certificateFile.path]
                    settings.keyFile = node.keyFile.path
                    return settings
                }(), role: .server))
        try pair.interact()
        let refusal = try #require(pair.clientEvents.errors.first, "a node's certificate served as the controller's")
        #expect(refusal.reason.contains("not for a TLS server"), "\(refusal)")
    }

    @Test func certificatesWithTheirPurposeOrWithoutExtendedKeyUsageAreAccepted() throws {
        let pair = try TLSPair(pki: pki)
        try pair.interact()
        #expect(pair.serverEvents.handshake != nil && pair.clientEvents.handshake != nil)
        let any = try OpenSSLCommand.leaf(
            "any-purpose", subject: "/CN=node2", extensions: ["basicConstraints=CA:FALSE"], signedBy: ca,
            in: directory)
        let anyPair = try TLSPair(pki: pki, clientCertificate: (any.certificate, any.key))
        try anyPair.interact()
        #expect(anyPair.serverEvents.handshake != nil, "\(anyPair.serverEvents.errors)")
    }
}
