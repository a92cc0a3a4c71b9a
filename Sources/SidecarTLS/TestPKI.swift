#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A complete throwaway PKI for tests, made in one call: `try TestPKI.make(in: temporaryDirectory)`.
///
/// All keys are EC P-256 (fast to make). Server leaves have extendedKeyUsage serverAuth, client leaves
/// clientAuth, as `sidecar certs leaf --server` and `sidecar certs leaf` make them. Every certificate file
/// holds the leaf followed by its CA;
/// every key is unencrypted PKCS#8 with mode 0600. Layout under `directory`:
/// ```
/// ca.pem ca.key                      the trusted CA ("sidecar test CA")
/// server.pem server.key              CN=server, SAN DNS:localhost, IP:127.0.0.1, IP:::1
/// client.pem client.key              CN=client, SAN URI:spiffe://sidecar.test/node/client
/// expired-client.pem/.key            CN=client, expired yesterday (valid from 30 days ago)
/// revoked-client.pem/.key            CN=revoked-client, listed in crl.pem
/// crl.pem                            CRL of ca.pem revoking revoked-client; nextUpdate in 30 days
/// rogue/ca.pem rogue/ca.key          an unrelated CA ("rogue test CA") that nothing trusts
/// rogue/client.pem rogue/client.key  CN=client signed by the rogue CA
/// rogue/server.pem rogue/server.key  CN=server, SAN DNS:localhost, IP:127.0.0.1, IP:::1, by the rogue CA
/// ```
package struct TestPKI: Sendable {
    /// The directory holding everything.
    package let directory: URL

    /// The trusted CA certificate: what `ca-file` points at on both sides.
    package let caCertificate: URL
    /// The trusted CA's private key, for tests that issue more certificates.
    package let caKey: URL

    /// Server leaf (CN=server; SAN DNS:localhost, IP:127.0.0.1, IP:::1), followed by the CA certificate.
    package let serverCertificate: URL
    /// The server leaf's key.
    package let serverKey: URL

    /// Client leaf (CN=client; SAN URI:spiffe://sidecar.test/node/client), followed by the CA certificate.
    package let clientCertificate: URL
    /// The client leaf's key.
    package let clientKey: URL

    /// A client leaf (CN=client) from the trusted CA whose validity ended one day ago.
    package let expiredClientCertificate: URL
    /// The expired client leaf's key.
    package let expiredClientKey: URL

    /// A client leaf (CN=revoked-client) from the trusted CA, listed in `revocationList`.
    package let revokedClientCertificate: URL
    /// The revoked client leaf's key.
    package let revokedClientKey: URL
    /// A CRL signed by the trusted CA that revokes `revokedClientCertificate` (and nothing else).
    package let revocationList: URL

    /// An unrelated CA that the sidecars under test do not trust.
    package let rogueCACertificate: URL
    /// The rogue CA's key.
    package let rogueCAKey: URL
    /// A client leaf (CN=client) signed by the rogue CA: must be refused by a reverse sidecar.
    package let rogueClientCertificate: URL
    /// The rogue client leaf's key.
    package let rogueClientKey: URL
    /// A server leaf (CN=server, same SANs as `serverCertificate`) signed by the rogue CA: must be refused
    /// by a forward sidecar.
    package let rogueServerCertificate: URL
    /// The rogue server leaf's key.
    package let rogueServerKey: URL

    /// The SPIFFE ID in `clientCertificate`'s URI SAN.
    package static let clientSPIFFEID = "spiffe://sidecar.test/node/client"

    /// Makes the whole PKI under `directory` (created if missing; existing files are replaced).
    ///
    /// - Throws: `CertificateToolError` if OpenSSL or the file system fails.
    package static func make(in directory: URL) throws -> TestPKI {
        let now = Date()
        let day: TimeInterval = 86_400
        let rogueDirectory = directory.appendingPathComponent("rogue")
        let serverNames = (dns: ["localhost"], ip: ["127.0.0.1", "::1"])

        let authority = try CertificateAuthority.generate(commonName: "sidecar test CA")
        let ca = try authority.write(to: directory, name: "ca", force: true)
        let issuer = CertificateIssuer(authority: authority)
        let server = try issuer.issueLeaf(
            commonName: "server", dnsNames: serverNames.dns, ipAddresses: serverNames.ip, validity: .days(30),
            purpose: .server, in: directory, force: true)
        let client = try issuer.issueLeaf(
            commonName: "client", uris: [clientSPIFFEID], validity: .days(30), in: directory, force: true)
        let expired = try issuer.issueLeaf(
            commonName: "client",
            validity: CertificateValidity(notBefore: now - 30 * day, notAfter: now - day),
            fileName: "expired-client", in: directory, force: true)
        let revoked = try issuer.issueLeaf(
            commonName: "revoked-client", validity: .days(30), in: directory, force: true)
        let revocationList = directory.appendingPathComponent("crl.pem")
        try authority.writeRevocationList(revoking: [revoked.serialNumber], to: revocationList, force: true)

        let rogueAuthority = try CertificateAuthority.generate(commonName: "rogue test CA")
        let rogueCA = try rogueAuthority.write(to: rogueDirectory, name: "ca", force: true)
        let rogueIssuer = CertificateIssuer(authority: rogueAuthority)
        let rogueClient = try rogueIssuer.issueLeaf(
            commonName: "client", validity: .days(30), in: rogueDirectory, force: true)
        let rogueServer = try rogueIssuer.issueLeaf(
            commonName: "server", dnsNames: serverNames.dns, ipAddresses: serverNames.ip, validity: .days(30),
            purpose: .server, in: rogueDirectory, force: true)

        return TestPKI(
            directory: directory,
            caCertificate: ca.certificateFile,
            caKey: ca.keyFile,
            serverCertificate: server.certificateFile,
            serverKey: server.keyFile,
            clientCertificate: client.certificateFile,
            clientKey: client.keyFile,
            expiredClientCertificate: expired.certificateFile,
            expiredClientKey: expired.keyFile,
            revokedClientCertificate: revoked.certificateFile,
            revokedClientKey: revoked.keyFile,
            revocationList: revocationList,
            rogueCACertificate: rogueCA.certificateFile,
            rogueCAKey: rogueCA.keyFile,
            rogueClientCertificate: rogueClient.certificateFile,
            rogueClientKey: rogueClient.keyFile,
            rogueServerCertificate: rogueServer.certificateFile,
            rogueServerKey: rogueServer.keyFile
        )
    }
}
