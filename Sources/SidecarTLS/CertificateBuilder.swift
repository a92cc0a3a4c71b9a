import COpenSSL
import COpenSSLShims

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Builds and signs one X.509 v3 certificate: a CA (root or intermediate), or a leaf for a TLS client or a
/// TLS server (`LeafPurpose`).
struct CertificateBuilder {
    /// What the certificate may do; decides basicConstraints, keyUsage and extendedKeyUsage.
    enum Role {
        /// May sign certificates and CRLs; `pathLength` limits the CAs below it (nil: no limit).
        case certificateAuthority(pathLength: Int?)
        /// An end entity; `algorithm` decides the key usage bits, `purpose` the extendedKeyUsage.
        case leaf(KeyAlgorithm, LeafPurpose)
    }

    /// One subjectAltName entry, checked when it is made.
    enum AlternativeName: Hashable, CustomStringConvertible {
        case dns(String)
        case ip(String)
        case uri(String)

        var description: String {
            switch self {
            case .dns(let name): "DNS:\(name)"
            case .ip(let address): "IP:\(address)"
            case .uri(let uri): "URI:\(uri)"
            }
        }

        /// A DNS name: letters, digits, hyphens, dots; a `*.` wildcard only as the first label.
        static func dns(checking name: String) throws -> AlternativeName {
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            let isValid =
                !name.isEmpty && name.utf8.count <= 253
                && labels.enumerated().allSatisfy { index, label in
                    if index == 0 && label == "*" && labels.count > 2 { return true }
                    return !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                        && label.unicodeScalars.allSatisfy { $0.isASCII && (isAlphanumeric($0) || $0 == "-") }
                }
            if ipAddressBytes(name) != nil {
                throw CertificateToolError(.invalidArgument, "'\(name)' is an IP address; give it with --ip, not --dns")
            }
            guard isValid else {
                throw CertificateToolError(.invalidArgument, "'\(name)' is not a valid DNS name")
            }
            return .dns(name)
        }

        /// An IPv4 or IPv6 address in its usual text form.
        static func ip(checking address: String) throws -> AlternativeName {
            guard ipAddressBytes(address) != nil else {
                throw CertificateToolError(.invalidArgument, "'\(address)' is not an IPv4 or IPv6 address")
            }
            return .ip(address)
        }

        /// An absolute URI (`scheme:rest`) of printable ASCII, such as a SPIFFE ID
        /// `spiffe://example.org/node/a`.
        static func uri(checking uri: String) throws -> AlternativeName {
            let scalars = Array(uri.unicodeScalars)
            let colon = scalars.firstIndex(of: ":")
            let isValid =
                scalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
                && colon.map { colon in
                    colon > 0 && colon < scalars.count - 1 && isLetter(scalars[0])
                        && scalars[..<colon].allSatisfy { isAlphanumeric($0) || "+-.".unicodeScalars.contains($0) }
                } ?? false
            guard isValid else {
                throw CertificateToolError(
                    .invalidArgument,
                    "'\(uri)' is not an absolute URI (e.g. spiffe://example.org/node/a)"
                )
            }
            return .uri(uri)
        }

        /// The 4 or 16 network-order bytes of an IP address, or nil if `text` is not one.
        static func ipAddressBytes(_ text: String) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: 16)
            if inet_pton(AF_INET, text, &bytes) == 1 {
                return Array(bytes[..<4])
            }
            if inet_pton(AF_INET6, text, &bytes) == 1 {
                return bytes
            }
            return nil
        }

        private static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
        }

        private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
            isLetter(scalar) || ("0"..."9").contains(scalar)
        }
    }

    var commonName: String
    var role: Role
    var validity: CertificateValidity
    var alternativeNames: [AlternativeName] = []

    /// Checks a subject common name: 1 to 64 characters (the X.520 upper bound), no control characters.
    static func checkCommonName(_ commonName: String) throws {
        guard !commonName.isEmpty, commonName.count <= 64 else {
            throw CertificateToolError(.invalidArgument, "common name must have 1 to 64 characters: '\(commonName)'")
        }
        guard !commonName.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CertificateToolError(.invalidArgument, "common name must not contain control characters")
        }
    }

    /// Makes the certificate for `subjectKey` and signs it with `issuer`'s key, or with `subjectKey` itself
    /// when `issuer` is nil (a self-signed root CA).
    ///
    /// - Parameters:
    ///   - subjectKey: an `EVP_PKEY` with its private half; borrowed, `X509_set_pubkey` takes its own reference.
    ///   - issuer: the signing CA's certificate and key, borrowed.
    /// - Returns: a new `X509` that the caller owns and frees with `X509_free`.
    func build(
        subjectKey: OpaquePointer,
        issuer: (certificate: OpaquePointer, key: OpaquePointer)?
    ) throws -> OpaquePointer {
        try Self.checkCommonName(commonName)
        try validity.validate()
        ERR_clear_error()
        guard let certificate = X509_new() else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot allocate a certificate")
        }
        var handedOver = false
        defer {
            if !handedOver { X509_free(certificate) }
        }
        func check(_ succeeded: Bool, _ step: String) throws {
            guard succeeded else {
                throw CertificateToolError.openSSL(.openSSLFailure, "cannot make certificate '\(commonName)': \(step)")
            }
        }

        try check(X509_set_version(certificate, Int(X509_VERSION_3)) == 1, "version")
        try check(Self.setRandomSerialNumber(certificate), "serial number")

        // The name is ours until X509_NAME_free; X509_set_subject_name/X509_set_issuer_name store copies.
        guard let subjectName = X509_NAME_new() else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot allocate a certificate name")
        }
        defer { X509_NAME_free(subjectName) }
        let commonNameBytes = Array(commonName.utf8)
        try check(
            X509_NAME_add_entry_by_txt(
                subjectName, "CN", MBSTRING_UTF8, commonNameBytes, Int32(commonNameBytes.count), -1, 0) == 1,
            "subject"
        )
        try check(X509_set_subject_name(certificate, subjectName) == 1, "subject")
        // X509_get_subject_name returns a pointer into the issuer's certificate, valid while it lives.
        let issuerName = issuer.map { X509_get_subject_name($0.certificate) } ?? subjectName
        try check(X509_set_issuer_name(certificate, issuerName) == 1, "issuer")

        // X509_getm_notBefore/notAfter return the certificate's own ASN1_TIME fields, set in place.
        try check(ASN1_TIME_set(X509_getm_notBefore(certificate), Self.timeT(validity.notBefore)) != nil, "notBefore")
        try check(ASN1_TIME_set(X509_getm_notAfter(certificate), Self.timeT(validity.notAfter)) != nil, "notAfter")
        try check(X509_set_pubkey(certificate, subjectKey) == 1, "public key")

        // The context only borrows the certificates; SKI must come before AKI, which for a self-signed
        // certificate reads the SKI of the certificate itself.
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer?.certificate ?? certificate, certificate, nil, nil, 0)
        for (nid, value) in extensions {
            // X509V3_EXT_nconf_nid returns a new extension that we own; X509_add_ext stores a copy.
            guard let extensionValue = X509V3_EXT_nconf_nid(nil, &context, nid, value) else {
                throw CertificateToolError.openSSL(
                    .openSSLFailure,
                    "cannot make certificate '\(commonName)': extension \(String(cString: OBJ_nid2sn(nid))) = \(value)"
                )
            }
            defer { X509_EXTENSION_free(extensionValue) }
            try check(X509_add_ext(certificate, extensionValue, -1) == 1, "adding an extension")
        }
        if !alternativeNames.isEmpty {
            try addAlternativeNames(to: certificate)
        }

        try check(X509_sign(certificate, issuer?.key ?? subjectKey, EVP_sha256()) > 0, "signing")
        handedOver = true
        return certificate
    }

    private var extensions: [(Int32, String)] {
        switch role {
        case .certificateAuthority(let pathLength):
            return [
                (NID_basic_constraints, "critical,CA:TRUE" + (pathLength.map { ",pathlen:\($0)" } ?? "")),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ]
        case .leaf(let algorithm, let purpose):
            // RSA key exchange (TLS 1.2 RSA suites) encrypts with the certificate's key: keyEncipherment.
            let keyUsage =
                switch algorithm {
                case .ecP256: "critical,digitalSignature"
                case .rsa3072: "critical,digitalSignature,keyEncipherment"
                }
            return [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, keyUsage),
                (NID_ext_key_usage, purpose.extendedKeyUsage),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ]
        }
    }

    /// Adds the subjectAltName extension. The names are built as GENERAL_NAME values, not from a config
    /// string, so a comma or colon in a URI cannot be misread.
    private func addAlternativeNames(to certificate: OpaquePointer) throws {
        let failure = {
            CertificateToolError.openSSL(.openSSLFailure, "cannot make subjectAltName for '\(commonName)'")
        }
        // The stack owns every GENERAL_NAME pushed onto it, and each name owns its string;
        // GENERAL_NAMES_free releases all of them. X509_add1_ext_i2d stores an encoded copy.
        guard let names = COpenSSLShims_sk_GENERAL_NAME_new_null() else { throw failure() }
        defer { COpenSSLShims_GENERAL_NAMES_free(names) }
        for alternativeName in alternativeNames {
            guard let name = GENERAL_NAME_new() else { throw failure() }
            guard let value = Self.asn1String(for: alternativeName) else {
                GENERAL_NAME_free(name)
                throw failure()
            }
            let type =
                switch alternativeName {
                case .dns: GEN_DNS
                case .ip: GEN_IPADD
                case .uri: GEN_URI
                }
            // From here the name owns the string.
            GENERAL_NAME_set0_value(name, type, UnsafeMutableRawPointer(value))
            guard COpenSSLShims_sk_GENERAL_NAME_push(names, name) > 0 else {
                GENERAL_NAME_free(name)
                throw failure()
            }
        }
        guard X509_add1_ext_i2d(certificate, NID_subject_alt_name, UnsafeMutableRawPointer(names), 0, 0) == 1 else {
            throw failure()
        }
    }

    /// A new IA5String (DNS, URI) or OCTET STRING (IP) for `name`; the caller owns it.
    private static func asn1String(for name: AlternativeName) -> UnsafeMutablePointer<ASN1_STRING>? {
        let bytes: [UInt8]
        let string: UnsafeMutablePointer<ASN1_STRING>?
        switch name {
        case .dns(let text), .uri(let text):
            bytes = Array(text.utf8)
            string = ASN1_IA5STRING_new()
        case .ip(let text):
            guard let address = AlternativeName.ipAddressBytes(text) else { return nil }
            bytes = address
            string = ASN1_OCTET_STRING_new()
        }
        guard let string else { return nil }
        // ASN1_STRING_set copies the bytes.
        guard ASN1_STRING_set(string, bytes, Int32(bytes.count)) == 1 else {
            ASN1_STRING_free(string)
            return nil
        }
        return string
    }

    /// A random 128-bit positive serial number (RFC 5280: at most 20 octets; CA/B Forum: 64+ random bits).
    private static func setRandomSerialNumber(_ certificate: OpaquePointer) -> Bool {
        // The BIGNUM is ours until BN_free; BN_to_ASN1_INTEGER writes into the certificate's own serial field.
        guard let serial = BN_new() else { return false }
        defer { BN_free(serial) }
        // BN_RAND_TOP_ONE: the top bit is set, so the number has exactly 128 bits.
        guard BN_rand(serial, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 else { return false }
        return BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate)) != nil
    }

    static func timeT(_ date: Date) -> time_t {
        time_t(date.timeIntervalSince1970.rounded(.down))
    }

    // MARK: Reading certificates back

    /// The certificate's serial number in upper-case hex, as `openssl x509 -serial` prints it.
    static func serialNumber(of certificate: OpaquePointer) -> String {
        // X509_get0_serialNumber points into the certificate; the BIGNUM and the hex string are ours.
        guard let serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nil) else { return "?" }
        defer { BN_free(serial) }
        guard let hex = BN_bn2hex(serial) else { return "?" }
        defer { COpenSSLShims_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    /// The subject (or issuer) name in RFC 2253 form, e.g. `CN=sidecar CA`.
    static func distinguishedName(_ name: OpaquePointer?) -> String {
        // The memory BIO is ours until BIO_free; `name` is borrowed from its certificate.
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "?" }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, COpenSSLShims_XN_FLAG_RFC2253()) >= 0 else { return "?" }
        var bytes = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let count = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
        return String(decoding: bytes.prefix(max(0, Int(count))), as: UTF8.self)
    }

    /// An ASN1_TIME (borrowed) as a Date.
    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return .distantPast }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
