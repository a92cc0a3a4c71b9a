import COpenSSL

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the certificate tooling wrote: the files and the facts an operator wants to see about them.
public struct IssuedCertificate: Sendable, Hashable {
    /// The PEM certificate file: for a leaf, the leaf followed by its CA certificate(s).
    public let certificateFile: URL
    /// The PKCS#8 PEM private key, unencrypted, mode 0600.
    public let keyFile: URL
    /// The subject in RFC 2253 form, e.g. `CN=client`.
    public let subject: String
    /// The issuer in RFC 2253 form; equal to `subject` for a root CA.
    public let issuer: String
    /// The subjectAltName entries as `DNS:name`, `IP:address` or `URI:uri`, in the order given.
    public let subjectAlternativeNames: [String]
    /// The serial number in upper-case hex, as `openssl x509 -serial` prints it; what a CRL lists.
    public let serialNumber: String
    /// The first moment the certificate is valid.
    public let notBefore: Date
    /// The last moment the certificate is valid.
    public let notAfter: Date
    /// The key type and size, e.g. `EC P-256` or `RSA 3072`.
    public let keyType: String

    /// Reads the facts from `certificate` (borrowed).
    init(
        certificate: OpaquePointer,
        certificateFile: URL,
        keyFile: URL,
        alternativeNames: [CertificateBuilder.AlternativeName]
    ) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.subject = CertificateBuilder.distinguishedName(X509_get_subject_name(certificate))
        self.issuer = CertificateBuilder.distinguishedName(X509_get_issuer_name(certificate))
        self.subjectAlternativeNames = alternativeNames.map(\.description)
        self.serialNumber = CertificateBuilder.serialNumber(of: certificate)
        self.notBefore = CertificateBuilder.date(X509_get0_notBefore(certificate))
        self.notAfter = CertificateBuilder.date(X509_get0_notAfter(certificate))
        self.keyType = Self.keyType(X509_get0_pubkey(certificate))
        // The readers above report failure as "?" rather than throwing; leave no entries behind for the next caller.
        ERR_clear_error()
    }

    /// `key` (borrowed from its certificate) described as `RSA 3072`, `EC P-256` and the like.
    private static func keyType(_ key: OpaquePointer?) -> String {
        guard let key else { return "unknown" }
        let bits = EVP_PKEY_get_bits(key)
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA:
            return "RSA \(bits)"
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1 else { return "EC \(bits)-bit" }
            let group = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let nistNames = ["prime256v1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"]
            return "EC \(nistNames[group] ?? group)"
        case let id:
            return "\(String(cString: OBJ_nid2sn(id))) \(bits)-bit"
        }
    }
}
