import COpenSSL

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Issues leaf certificates signed by a `CertificateAuthority` (`sidecar certs leaf`).
///
/// A leaf is for one role: extendedKeyUsage clientAuth (a node, the default) or serverAuth (the controller),
/// see `LeafPurpose`; besides, basicConstraints CA:FALSE, keyUsage digitalSignature (and keyEncipherment for
/// RSA), subject and authority key identifiers, a random 128-bit serial number, signed with SHA-256.
public struct CertificateIssuer {
    /// The CA that signs.
    public let authority: CertificateAuthority

    /// An issuer signing with `authority`.
    public init(authority: CertificateAuthority) {
        self.authority = authority
    }

    /// An issuer signing with the CA read from `caCertificateFile` and `caKeyFile`.
    ///
    /// - Throws: `CertificateToolError` naming the file: unreadable, not PEM, mismatched, not a CA.
    public init(caCertificateFile: URL, caKeyFile: URL) throws {
        self.authority = try CertificateAuthority(certificateFile: caCertificateFile, keyFile: caKeyFile)
    }

    /// Issues a leaf and writes `directory/NAME.pem` (the leaf, then any intermediate CA certificates but not
    /// the self-signed root, which every peer already holds in its `ca-file`; mode 0644) and
    /// `directory/NAME.key` (unencrypted PKCS#8, mode 0600), creating `directory` if needed.
    ///
    /// - Parameters:
    ///   - commonName: the subject CN (1 to 64 characters).
    ///   - dnsNames: subjectAltName DNS entries, e.g. `localhost`, `*.example.org`.
    ///   - ipAddresses: subjectAltName IP entries, IPv4 or IPv6, e.g. `127.0.0.1`, `::1`.
    ///   - uris: subjectAltName URI entries, e.g. the SPIFFE ID `spiffe://example.org/node/a`.
    ///   - days: validity in days from now (1 to 36500).
    ///   - algorithm: the key type of the leaf; independent of the CA's.
    ///   - purpose: client (a node's certificate) or server (the controller's).
    ///   - fileName: NAME; by default the common name, which must then be a safe file name.
    ///   - directory: where to write.
    ///   - force: replace existing files; without it an existing file is an error and nothing is written.
    /// - Returns: what was written.
    /// - Throws: `CertificateToolError`.
    @discardableResult
    public func issueLeaf(
        commonName: String,
        dnsNames: [String] = [],
        ipAddresses: [String] = [],
        uris: [String] = [],
        days: Int = 825,
        algorithm: KeyAlgorithm = .ecP256,
        purpose: LeafPurpose = .client,
        fileName: String? = nil,
        in directory: URL,
        force: Bool = false
    ) throws -> IssuedCertificate {
        try CertificateValidity.validateDays(days)
        return try issueLeaf(
            commonName: commonName,
            dnsNames: dnsNames,
            ipAddresses: ipAddresses,
            uris: uris,
            validity: .days(days),
            algorithm: algorithm,
            purpose: purpose,
            fileName: fileName,
            in: directory,
            force: force
        )
    }

    /// Issues a leaf with an explicit validity window, e.g. one that ended yesterday (an expired
    /// certificate) or starts tomorrow (not yet valid). Otherwise as `issueLeaf(commonName:...days:...)`.
    @discardableResult
    package func issueLeaf(
        commonName: String,
        dnsNames: [String] = [],
        ipAddresses: [String] = [],
        uris: [String] = [],
        validity: CertificateValidity,
        algorithm: KeyAlgorithm = .ecP256,
        purpose: LeafPurpose = .client,
        fileName: String? = nil,
        in directory: URL,
        force: Bool = false
    ) throws -> IssuedCertificate {
        try CertificateBuilder.checkCommonName(commonName)
        let name = try Self.fileStem(fileName: fileName, commonName: commonName)
        let alternativeNames =
            try dnsNames.map(CertificateBuilder.AlternativeName.dns(checking:))
            + ipAddresses.map(CertificateBuilder.AlternativeName.ip(checking:))
            + uris.map(CertificateBuilder.AlternativeName.uri(checking:))
        try validity.validate()
        let files = CertificateAuthority.files(named: name, in: directory)
        try CertificatePEMFile.checkOverwrite(files, force: force)

        // The leaf key and certificate are ours until the deferred frees; the authority's are borrowed.
        let key = try algorithm.generatePrivateKey()
        defer { EVP_PKEY_free(key) }
        let builder = CertificateBuilder(
            commonName: commonName, role: .leaf(algorithm, purpose), validity: validity,
            alternativeNames: alternativeNames)
        let leaf = try builder.build(subjectKey: key, issuer: (authority.certificate, authority.privateKey))
        defer { X509_free(leaf) }

        try CertificatePEMFile.createDirectory(directory)
        try CertificatePEMFile.writePair(
            certificatePEM: CertificatePEMFile.pem(
                certificates: [leaf] + authority.certificates.filter { X509_check_issued($0, $0) != X509_V_OK }),
            keyPEM: CertificatePEMFile.pem(privateKey: key),
            certificateFile: files[0],
            keyFile: files[1],
            force: force
        )
        return IssuedCertificate(
            certificate: leaf, certificateFile: files[0], keyFile: files[1], alternativeNames: alternativeNames)
    }

    /// NAME for `NAME.pem` and `NAME.key`: the explicit name, else the common name, if it is a safe file name
    /// (letters, digits, `.`, `_`, `-`; not starting with `.` or `-`; at most 128 characters).
    static func fileStem(fileName: String?, commonName: String) throws -> String {
        let name = fileName ?? commonName
        let isSafe =
            !name.isEmpty && name.count <= 128 && !name.hasPrefix(".") && !name.hasPrefix("-")
            && name.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII
                    && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                        || "._-".unicodeScalars.contains(scalar))
            }
        guard isSafe else {
            if fileName == nil {
                throw CertificateToolError(
                    .invalidArgument,
                    "common name '\(commonName)' is not a safe file name; give one with --name (letters, digits, . _ -)"
                )
            }
            throw CertificateToolError(
                .invalidArgument,
                "'\(name)' is not a safe file name: use letters, digits, . _ - and do not start with . or -"
            )
        }
        return name
    }
}
