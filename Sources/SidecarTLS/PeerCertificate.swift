import COpenSSL
import COpenSSLShims

/// What a peer's certificate says about who it is, copied out of OpenSSL once per handshake.
///
/// Plain values only: safe to log, to keep after the connection ends and to pass between threads.
public struct PeerCertificate: Sendable, Hashable {
    /// One attribute of a distinguished name, as the certificate holds it.
    public struct NameEntry: Sendable, Hashable {
        /// OpenSSL's short name (`CN`, `O`, `OU`, `emailAddress`), or the dotted OID of an unknown attribute.
        public var shortName: String
        /// The value as UTF-8, unescaped: what `ssl_c_s_dn(ENTRY)` matches.
        public var value: String

        public init(shortName: String, value: String) {
            self.shortName = shortName
            self.value = value
        }
    }

    /// Subject in HAProxy's `ssl_c_s_dn` form, `/C=FR/O=Example/CN=node1`, with `\`, `/` and control
    /// characters inside values escaped as `\5C`, `\2F`, `\0A`... (see `distinguishedName(_:)`).
    public var subject: String
    /// Issuer in the same form, as `ssl_c_i_dn`.
    public var issuer: String
    /// The subject's attributes in order, read from the certificate's `X509_NAME` (never parsed back out of
    /// `subject`), for `ssl_c_s_dn(ENTRY)`.
    public var subjectEntries: [NameEntry]
    /// The issuer's attributes in order, for `ssl_c_i_dn(ENTRY)`.
    public var issuerEntries: [NameEntry]
    /// Serial number in upper-case hex, as `ssl_c_serial,hex`.
    public var serialHex: String
    /// The subject's common name(s).
    public var commonNames: [String]
    public var dnsNames: [String]
    public var ipAddresses: [String]
    public var uris: [String]
    /// notAfter as seconds since 1970, and as OpenSSL prints it (`Feb  1 00:00:00 2020 GMT`).
    public var notAfter: Int64?
    public var notAfterText: String?
    /// SHA-1 of the DER encoding in upper-case hex, as `ssl_c_sha1,hex`.
    public var sha1Hex: String

    /// Copies the fields out of `certificate`, a borrowed `X509*` (not retained, not freed here).
    init(borrowing certificate: OpaquePointer) {
        subjectEntries = Self.nameEntries(X509_get_subject_name(certificate))
        issuerEntries = Self.nameEntries(X509_get_issuer_name(certificate))
        subject = Self.distinguishedName(subjectEntries)
        issuer = Self.distinguishedName(issuerEntries)
        serialHex = Self.serialHex(certificate)
        commonNames = subjectEntries.filter { $0.shortName == "CN" }.map(\.value)
        var dns: [String] = []
        var ips: [String] = []
        var uris: [String] = []
        // X509_get_ext_d2i returns a new GENERAL_NAMES stack that we own and free with GENERAL_NAMES_free.
        if let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) {
            let names = OpaquePointer(raw)
            defer { COpenSSLShims_GENERAL_NAMES_free(names) }
            for index in 0..<COpenSSLShims_sk_GENERAL_NAME_num(names) {
                guard let name = COpenSSLShims_sk_GENERAL_NAME_value(names, index) else { continue }
                switch name.pointee.type {
                case GEN_DNS:
                    if let text = Self.asn1String(UnsafePointer(name.pointee.d.dNSName)) { dns.append(text) }
                case GEN_URI:
                    if let text = Self.asn1String(UnsafePointer(name.pointee.d.uniformResourceIdentifier)) {
                        uris.append(text)
                    }
                case GEN_IPADD:
                    if let text = Self.ipString(UnsafePointer(name.pointee.d.iPAddress)) { ips.append(text) }
                default:
                    break
                }
            }
        }
        dnsNames = dns
        ipAddresses = ips
        self.uris = uris
        if let time = X509_get0_notAfter(certificate) {
            notAfterText = Self.timeText(time)
            notAfter = Self.epochSeconds(time)
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        if X509_digest(certificate, EVP_sha1(), &digest, &length) == 1 {
            sha1Hex = digest.prefix(Int(length)).map { hex($0) }.joined()
        } else {
            sha1Hex = ""
        }
    }

    /// The common name (made `printable`), or the subject when there is none, for short log lines.
    public var displayName: String { commonNames.first.map { Self.printable($0) } ?? subject }

    /// `name` (borrowed) in the `ssl_c_s_dn` form; see `distinguishedName(_ entries:)`.
    static func distinguishedName(_ name: OpaquePointer?) -> String {
        distinguishedName(nameEntries(name))
    }

    /// `/SN=value/SN=value...` in the certificate's order, as HAProxy writes `ssl_c_s_dn`, except that each value
    /// is escaped as `printable(_:separator:)` does with `/`: `\` is `\5C`, `/` is `\2F`, a control character
    /// `\` and two hex digits per UTF-8 byte (RFC 4514's hex pairs). HAProxy copies values as they are, so
    /// there an `O` of `x/OU=admins` reads as two entries and a newline ends a log line; here a value can
    /// never produce a separator, a line break or a NUL. Values are UTF-8 (OpenSSL's `X509_NAME_oneline`
    /// escaped non-ASCII bytes as `\xC3`).
    static func distinguishedName(_ entries: [NameEntry]) -> String {
        var text = ""
        for entry in entries {
            text += "/" + entry.shortName + "=" + printable(entry.value, separator: "/")
        }
        return text
    }

    /// `value` (a name from a certificate) fit for a log line, a status table or an error message: `\`,
    /// `separator` if given, and control characters (C0, DEL, C1, U+2028, U+2029) become `\` and two
    /// upper-case hex digits per UTF-8 byte (`\0A` for a newline, `\00` for a NUL); everything else is kept.
    public static func printable(_ value: String, separator: Unicode.Scalar? = nil) -> String {
        func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "\\" || scalar == separator || scalar.value < 0x20
                || (scalar.value >= 0x7F && scalar.value < 0xA0)
                || scalar.value == 0x2028 || scalar.value == 0x2029
        }
        guard value.unicodeScalars.contains(where: needsEscape) else { return value }
        var text = ""
        for scalar in value.unicodeScalars {
            guard needsEscape(scalar) else {
                text.unicodeScalars.append(scalar)
                continue
            }
            for byte in String(scalar).utf8 { text += "\\" + hex(byte) }
        }
        return text
    }

    /// The attributes of `name` (borrowed) in order; entries and their data are borrowed from `name` too.
    static func nameEntries(_ name: OpaquePointer?) -> [NameEntry] {
        guard let name else { return [] }
        var result: [NameEntry] = []
        for index in 0..<X509_NAME_entry_count(name) {
            guard let entry = X509_NAME_get_entry(name, index), let object = X509_NAME_ENTRY_get_object(entry),
                let data = X509_NAME_ENTRY_get_data(entry)
            else { continue }
            let nid = OBJ_obj2nid(object)
            let shortName: String
            if nid != NID_undef, let text = OBJ_nid2sn(nid) {
                shortName = String(cString: text)
            } else {
                var buffer = [CChar](repeating: 0, count: 128)
                let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
                shortName = length > 0 ? String(cString: buffer) : "?"
            }
            result.append(NameEntry(shortName: shortName, value: asn1Text(UnsafePointer(data)) ?? ""))
        }
        return result
    }

    /// An ASN1_STRING of any type as UTF-8; ASN1_STRING_to_UTF8 allocates the output, freed here.
    static func asn1Text(_ string: UnsafePointer<ASN1_STRING>) -> String? {
        // The usual types are UTF-8 already (PrintableString and IA5String are ASCII): read the bytes in place,
        // borrowed from the string, without OpenSSL's copy. Every subject is read on every new connection.
        switch ASN1_STRING_type(string) {
        case V_ASN1_UTF8STRING, V_ASN1_PRINTABLESTRING, V_ASN1_IA5STRING:
            guard let data = ASN1_STRING_get0_data(string) else { return nil }
            return String(
                decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self)
        default:
            break
        }
        var output: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&output, string)
        guard length >= 0, let output else { return nil }
        defer { COpenSSLShims_OPENSSL_free(output) }
        return String(decoding: UnsafeBufferPointer(start: output, count: Int(length)), as: UTF8.self)
    }

    private static func asn1String(_ string: UnsafePointer<ASN1_STRING>?) -> String? {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self)
    }

    private static func ipString(_ string: UnsafePointer<ASN1_STRING>?) -> String? {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return nil }
        let bytes = Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
        switch bytes.count {
        case 4:
            return bytes.map(String.init).joined(separator: ".")
        case 16:
            var groups: [String] = []
            for index in stride(from: 0, to: 16, by: 2) {
                groups.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16))
            }
            return groups.joined(separator: ":")
        default:
            return nil
        }
    }

    private static func serialHex(_ certificate: OpaquePointer) -> String {
        guard let serial = X509_get0_serialNumber(certificate),
            let bignum = ASN1_INTEGER_to_BN(serial, nil)
        else { return "" }
        // The BIGNUM and the hex string are ours.
        defer { BN_free(bignum) }
        guard let text = BN_bn2hex(bignum) else { return "" }
        defer { COpenSSLShims_OPENSSL_free(text) }
        return String(cString: text)
    }

    static func timeText(_ time: UnsafePointer<ASN1_TIME>) -> String? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        // A memory BIO we own; its contents are copied out before BIO_free.
        defer { BIO_free(bio) }
        guard ASN1_TIME_print(bio, time) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = BIO_read(bio, &buffer, Int32(buffer.count - 1))
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func epochSeconds(_ time: UnsafePointer<ASN1_TIME>) -> Int64? {
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Int64(timegm(&parts))
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
