import COpenSSL

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension CertificateAuthority {
    /// Writes a v2 CRL signed by this CA that revokes `serialNumbers`, as PEM (mode 0644).
    ///
    /// - Parameters:
    ///   - serialNumbers: serial numbers in hex as `IssuedCertificate.serialNumber` gives them
    ///     (upper or lower case, an optional `0x` prefix); an empty list makes a CRL that revokes nothing.
    ///   - file: where to write, e.g. `crl.pem`; its directory is created if missing.
    ///   - validity: thisUpdate (`notBefore`) and nextUpdate (`notAfter`); by default valid for 30 days from
    ///     now. A nextUpdate in the past makes an expired CRL, which `X509_V_FLAG_CRL_CHECK` rejects.
    ///   - crlNumber: the cRLNumber extension, to be increased by each new CRL of this CA.
    ///   - force: replace an existing file.
    /// - Throws: `CertificateToolError`.
    package func writeRevocationList(
        revoking serialNumbers: [String],
        to file: URL,
        validity: CertificateValidity = .days(30),
        crlNumber: Int = 1,
        force: Bool = false
    ) throws {
        try validity.validate()
        try CertificatePEMFile.checkOverwrite([file], force: force)
        ERR_clear_error()
        // The CRL is ours until X509_CRL_free; everything added to it below is either copied by the
        // set1/add1 calls or handed over (add0_revoked).
        guard let revocationList = X509_CRL_new() else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot allocate a CRL")
        }
        defer { X509_CRL_free(revocationList) }
        func check(_ succeeded: Bool, _ step: String) throws {
            guard succeeded else {
                throw CertificateToolError.openSSL(.openSSLFailure, "cannot make a CRL for \(subject): \(step)")
            }
        }

        try check(X509_CRL_set_version(revocationList, Int(X509_CRL_VERSION_2)) == 1, "version")
        try check(X509_CRL_set_issuer_name(revocationList, X509_get_subject_name(certificate)) == 1, "issuer")
        // ASN1_TIME_set(nil, …) returns a new time that we own until ASN1_TIME_free; the setters copy it.
        guard let thisUpdate = ASN1_TIME_set(nil, CertificateBuilder.timeT(validity.notBefore)) else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot make a CRL for \(subject): thisUpdate")
        }
        defer { ASN1_TIME_free(thisUpdate) }
        guard let nextUpdate = ASN1_TIME_set(nil, CertificateBuilder.timeT(validity.notAfter)) else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot make a CRL for \(subject): nextUpdate")
        }
        defer { ASN1_TIME_free(nextUpdate) }
        try check(X509_CRL_set1_lastUpdate(revocationList, thisUpdate) == 1, "thisUpdate")
        try check(X509_CRL_set1_nextUpdate(revocationList, nextUpdate) == 1, "nextUpdate")

        for serialNumber in serialNumbers {
            let serial = try Self.asn1Integer(hex: serialNumber)
            defer { ASN1_INTEGER_free(serial) }
            guard let revoked = X509_REVOKED_new() else {
                throw CertificateToolError.openSSL(.openSSLFailure, "cannot allocate a CRL entry")
            }
            guard X509_REVOKED_set_serialNumber(revoked, serial) == 1,
                X509_REVOKED_set_revocationDate(revoked, thisUpdate) == 1,
                X509_CRL_add0_revoked(revocationList, revoked) == 1
            else {
                X509_REVOKED_free(revoked)
                throw CertificateToolError.openSSL(.openSSLFailure, "cannot add serial \(serialNumber) to the CRL")
            }
        }
        try check(X509_CRL_sort(revocationList) == 1, "sorting")

        // RFC 5280 §5.2: a CRL carries the authority key identifier and a CRL number.
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, certificate, nil, nil, revocationList, 0)
        guard
            let authorityKeyIdentifier = X509V3_EXT_nconf_nid(
                nil, &context, NID_authority_key_identifier, "keyid:always")
        else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot make a CRL for \(subject): key identifier")
        }
        defer { X509_EXTENSION_free(authorityKeyIdentifier) }
        try check(X509_CRL_add_ext(revocationList, authorityKeyIdentifier, -1) == 1, "key identifier")
        let number = try Self.asn1Integer(hex: String(crlNumber, radix: 16))
        defer { ASN1_INTEGER_free(number) }
        try check(
            X509_CRL_add1_ext_i2d(revocationList, NID_crl_number, UnsafeMutableRawPointer(number), 0, 0) == 1, "number")

        try check(X509_CRL_sign(revocationList, privateKey, EVP_sha256()) > 0, "signing")
        try CertificatePEMFile.createDirectory(file.deletingLastPathComponent())
        try CertificatePEMFile.store(
            CertificatePEMFile.pem(revocationList: revocationList), to: file, mode: 0o644, force: force)
    }

    /// A new ASN1_INTEGER from hex text; the caller owns it and frees it with `ASN1_INTEGER_free`.
    private static func asn1Integer(hex: String) throws -> UnsafeMutablePointer<ASN1_INTEGER> {
        let digits = hex.hasPrefix("0x") || hex.hasPrefix("0X") ? String(hex.dropFirst(2)) : hex
        guard !digits.isEmpty, digits.count <= 40, digits.allSatisfy(\.isHexDigit) else {
            throw CertificateToolError(.invalidArgument, "'\(hex)' is not a serial number in hex")
        }
        // BN_hex2bn allocates the BIGNUM into `number`; it is ours until BN_free.
        var number: OpaquePointer? = nil
        guard BN_hex2bn(&number, digits) == digits.count, let number else {
            throw CertificateToolError.openSSL(.invalidArgument, "'\(hex)' is not a serial number in hex")
        }
        defer { BN_free(number) }
        guard let integer = BN_to_ASN1_INTEGER(number, nil) else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot convert serial number \(hex)")
        }
        return integer
    }
}
