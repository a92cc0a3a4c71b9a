import COpenSSL

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PeerCertificate {
    /// The first certificate of a PEM file, as a peer would present it: for tests and tooling that need a
    /// `PeerCertificate` without a handshake.
    ///
    /// - Throws: `CertificateToolError` when the file cannot be read or holds no certificate.
    package init(pemFile: URL) throws {
        let pem = try CertificatePEMFile.contents(of: pemFile, role: "certificate")
        let certificates = try CertificatePEMFile.certificates(fromPEM: pem, file: pemFile, role: "certificate")
        // The X509s are ours; the fields are copied out before they are freed.
        defer { certificates.forEach { X509_free($0) } }
        self.init(borrowing: certificates[0])
    }
}
