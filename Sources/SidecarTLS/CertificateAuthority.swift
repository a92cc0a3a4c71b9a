import COpenSSL

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A certificate authority held in memory: its certificate (plus any certificates above it, as read from
/// its file) and its private key. It makes new CAs (`sidecar certs ca`) and signs leaves through
/// `CertificateIssuer`.
///
/// Not `Sendable`: it owns OpenSSL objects and is meant for one task at a time.
public final class CertificateAuthority {
    /// The CA's certificate first, then whatever followed it in its file (an intermediate's issuers).
    /// Each `X509` is owned by this object and freed in `deinit`.
    let certificates: [OpaquePointer]
    /// The CA's private key (`EVP_PKEY`), owned by this object and freed in `deinit`.
    let privateKey: OpaquePointer

    /// The CA certificate itself, borrowed from `certificates`.
    var certificate: OpaquePointer { certificates[0] }

    /// Takes ownership of `certificates` and `privateKey`.
    private init(certificates: [OpaquePointer], privateKey: OpaquePointer) {
        precondition(!certificates.isEmpty)
        self.certificates = certificates
        self.privateKey = privateKey
    }

    deinit {
        for certificate in certificates { X509_free(certificate) }
        EVP_PKEY_free(privateKey)
    }

    /// The CA's subject in RFC 2253 form, e.g. `CN=sidecar CA`.
    public var subject: String {
        CertificateBuilder.distinguishedName(X509_get_subject_name(certificate))
    }

    /// The end of the CA certificate's validity.
    public var notAfter: Date {
        CertificateBuilder.date(X509_get0_notAfter(certificate))
    }

    /// Reads a CA from PEM files and checks that they belong together.
    ///
    /// - Parameters:
    ///   - certificateFile: the CA certificate first; certificates after it (an intermediate's issuers) are
    ///     appended to every leaf's certificate file.
    ///   - keyFile: the CA's unencrypted private key (PKCS#8 or traditional PEM).
    /// - Throws: `CertificateToolError` naming the file: unreadable, not PEM, encrypted key, key and
    ///   certificate that do not match, or a certificate that is not a CA.
    public convenience init(certificateFile: URL, keyFile: URL) throws {
        let certificatePEM = try CertificatePEMFile.contents(of: certificateFile, role: "CA certificate")
        let keyPEM = try CertificatePEMFile.contents(of: keyFile, role: "CA key")
        let certificates = try CertificatePEMFile.certificates(
            fromPEM: certificatePEM, file: certificateFile, role: "CA certificate")
        let key: OpaquePointer
        do {
            key = try CertificatePEMFile.privateKey(fromPEM: keyPEM, file: keyFile, role: "CA key")
        } catch {
            for certificate in certificates { X509_free(certificate) }
            throw error
        }
        // From here `self` owns the certificates and the key: a throw below frees them in deinit.
        self.init(certificates: certificates, privateKey: key)

        ERR_clear_error()
        guard X509_check_private_key(certificate, privateKey) == 1 else {
            throw CertificateToolError.openSSL(
                .keyMismatch,
                "CA certificate \(certificateFile.path) and key \(keyFile.path) do not match"
            )
        }
        // X509_check_ca is 0 for a certificate that may not sign others (basicConstraints CA:FALSE,
        // or a keyUsage without keyCertSign).
        guard X509_check_ca(certificate) != 0 else {
            throw CertificateToolError(
                .notACertificateAuthority,
                "CA certificate \(certificateFile.path) (\(subject)) is not a CA certificate; it may not sign others"
            )
        }
        ERR_clear_error()
    }

    /// Makes a new self-signed root CA and writes `directory/ca.pem` (mode 0644) and `directory/ca.key`
    /// (mode 0600, unencrypted PKCS#8), creating `directory` if needed.
    ///
    /// The certificate has basicConstraints critical CA:TRUE, keyUsage critical keyCertSign and cRLSign,
    /// and subject and authority key identifiers.
    ///
    /// - Parameters:
    ///   - directory: where to write; created with its parents if missing.
    ///   - commonName: the subject CN.
    ///   - days: validity in days from now (1 to 36500).
    ///   - algorithm: the key type.
    ///   - force: replace existing files; without it an existing `ca.pem` or `ca.key` is an error and
    ///     nothing is written.
    /// - Returns: what was written.
    /// - Throws: `CertificateToolError`.
    @discardableResult
    public static func create(
        in directory: URL,
        commonName: String = "sidecar CA",
        days: Int = 3650,
        algorithm: KeyAlgorithm = .ecP256,
        force: Bool = false
    ) throws -> IssuedCertificate {
        try CertificateValidity.validateDays(days)
        try CertificateBuilder.checkCommonName(commonName)
        try CertificatePEMFile.checkOverwrite(files(named: "ca", in: directory), force: force)
        let authority = try generate(commonName: commonName, algorithm: algorithm, validity: .days(days))
        return try authority.write(to: directory, name: "ca", force: force)
    }

    /// Makes a new self-signed root CA in memory.
    ///
    /// - Parameter validity: an explicit window; tests use it to make expired or not-yet-valid CAs.
    package static func generate(
        commonName: String = "sidecar CA",
        algorithm: KeyAlgorithm = .ecP256,
        validity: CertificateValidity = .days(3650)
    ) throws -> CertificateAuthority {
        let key = try algorithm.generatePrivateKey()
        let certificate: OpaquePointer
        do {
            let builder = CertificateBuilder(
                commonName: commonName, role: .certificateAuthority(pathLength: nil), validity: validity)
            certificate = try builder.build(subjectKey: key, issuer: nil)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
        return CertificateAuthority(certificates: [certificate], privateKey: key)
    }

    /// Makes a new intermediate CA signed by this one, in memory. Its file (see `write(to:name:force:)`)
    /// holds only the intermediate; verifiers need this CA as the trust anchor.
    ///
    /// - Parameter pathLength: basicConstraints pathlen; 0 (the default) lets it sign only leaves.
    package func issueIntermediate(
        commonName: String = "sidecar intermediate CA",
        algorithm: KeyAlgorithm = .ecP256,
        validity: CertificateValidity = .days(1825),
        pathLength: Int? = 0
    ) throws -> CertificateAuthority {
        let key = try algorithm.generatePrivateKey()
        let intermediate: OpaquePointer
        do {
            let builder = CertificateBuilder(
                commonName: commonName, role: .certificateAuthority(pathLength: pathLength), validity: validity)
            intermediate = try builder.build(subjectKey: key, issuer: (certificate, privateKey))
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
        return CertificateAuthority(certificates: [intermediate], privateKey: key)
    }

    /// Writes `directory/NAME.pem` (the certificates, mode 0644) and `directory/NAME.key` (mode 0600).
    ///
    /// - Throws: `CertificateToolError`; without `force`, an existing file is an error and nothing is written.
    @discardableResult
    package func write(to directory: URL, name: String = "ca", force: Bool = false) throws -> IssuedCertificate {
        let files = Self.files(named: name, in: directory)
        try CertificatePEMFile.checkOverwrite(files, force: force)
        try CertificatePEMFile.createDirectory(directory)
        try CertificatePEMFile.writePair(
            certificatePEM: CertificatePEMFile.pem(certificates: certificates),
            keyPEM: CertificatePEMFile.pem(privateKey: privateKey),
            certificateFile: files[0],
            keyFile: files[1],
            force: force
        )
        return IssuedCertificate(
            certificate: certificate,
            certificateFile: files[0],
            keyFile: files[1],
            alternativeNames: []
        )
    }

    /// `directory/NAME.pem` and `directory/NAME.key`.
    static func files(named name: String, in directory: URL) -> [URL] {
        [directory.appendingPathComponent("\(name).pem"), directory.appendingPathComponent("\(name).key")]
    }
}
