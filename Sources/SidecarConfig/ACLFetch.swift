/// What an ACL looks at: the HAProxy sample fetches sidecar evaluates once the TLS handshake is done.
///
/// All of them are Layer-5 fetches in HAProxy except `src`, so they are valid in `tcp-request session` rules;
/// every `ssl_*` fetch is refused in `tcp-request connection`, which runs before the handshake.
public enum ACLFetch: Sendable, Hashable, CustomStringConvertible {
    /// `ssl_c_used`: the peer presented a certificate (also on a resumed session).
    case certificateUsed
    /// `ssl_fc_has_crt`: the peer presented a certificate in this very handshake (false on resumption).
    case certificateInHandshake
    /// `ssl_c_verify`: the verification result code. A failed verification aborts the handshake in sidecar (no
    /// `crt-ignore-err`), so after a handshake this is always 0 (`X509_V_OK`).
    case verifyResult
    /// `ssl_c_s_dn[(ENTRY[,OCC])]`: the subject, whole (`/C=FR/O=x/CN=node1`) or one entry.
    case subjectDN(DNEntry?)
    /// `ssl_c_i_dn[(ENTRY[,OCC])]`: the issuer, whole or one entry.
    case issuerDN(DNEntry?)
    /// `ssl_c_serial[,hex]`: the serial as upper-case hex of its bytes, no separators (`openssl x509 -serial`).
    case serial
    /// `ssl_c_sha1[,hex]`: the SHA-1 fingerprint of the DER certificate as upper-case hex, no separators.
    case sha1
    /// `ssl_fc_sni`: the server name the client sent.
    case serverName
    /// `src`: the peer's IP address.
    case source

    /// One attribute of a distinguished name: HAProxy's `(ENTRY[,OCC])` argument.
    public struct DNEntry: Sendable, Hashable {
        /// The OpenSSL short name, upper-cased (`CN`, `O`, `OU`); HAProxy compares it case-insensitively.
        public var name: String
        /// Which occurrence: 1 is the first, -1 the last (HAProxy's default is the first).
        public var occurrence: Int

        public init(name: String, occurrence: Int = 1) {
            self.name = name
            self.occurrence = occurrence
        }
    }

    /// The kind of value the fetch returns, which decides how patterns are read and compared.
    public enum ValueKind: Sendable, Hashable {
        case boolean, integer, string, address
    }

    public var valueKind: ValueKind {
        switch self {
        case .certificateUsed, .certificateInHandshake: return .boolean
        case .verifyResult: return .integer
        case .subjectDN, .issuerDN, .serial, .sha1, .serverName: return .string
        case .source: return .address
        }
    }

    /// Whether the fetch needs the TLS handshake to have happened (everything but `src`).
    public var needsHandshake: Bool { self != .source }

    /// Parses a fetch as written, e.g. `ssl_c_s_dn(CN)`, `ssl_c_sha1,hex`, `src`.
    ///
    /// - Returns: the fetch, or a message saying what is wrong.
    public static func parse(_ text: String) -> Result<ACLFetch, FetchError> {
        var pieces: [Substring] = []
        var depth = 0
        var start = text.startIndex
        for index in text.indices {
            switch text[index] {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                pieces.append(text[start..<index])
                start = text.index(after: index)
            default: break
            }
        }
        pieces.append(text[start...])
        let base = pieces[0]
        let converters = pieces.dropFirst()
        var argument: Substring?
        var name = base
        if let open = base.firstIndex(of: "(") {
            guard base.hasSuffix(")") else { return .failure(FetchError("unbalanced parenthesis in '\(text)'")) }
            name = base[..<open]
            argument = base[base.index(after: open)..<base.index(before: base.endIndex)]
        }
        let fetch: ACLFetch
        switch name {
        case "ssl_c_used": fetch = .certificateUsed
        case "ssl_fc_has_crt": fetch = .certificateInHandshake
        case "ssl_c_verify": fetch = .verifyResult
        case "ssl_c_serial": fetch = .serial
        case "ssl_c_sha1": fetch = .sha1
        case "ssl_fc_sni": fetch = .serverName
        case "src": fetch = .source
        case "ssl_c_s_dn", "ssl_c_i_dn":
            var entry: DNEntry?
            if let argument, !argument.isEmpty {
                switch DNEntry.parse(argument) {
                case .success(let parsed): entry = parsed
                case .failure(let error): return .failure(error)
                }
            }
            fetch = name == "ssl_c_s_dn" ? .subjectDN(entry) : .issuerDN(entry)
        default:
            return .failure(FetchError(unknownFetch: String(name)))
        }
        if argument != nil, !(fetch.isDN) {
            guard argument!.isEmpty else { return .failure(FetchError("'\(name)' takes no argument")) }
        }
        for converter in converters {
            // HAProxy's serial and fingerprint are binary; sidecar always matches their hex form, so `,hex` is
            // accepted (and expected, for configurations shared with HAProxy) and changes nothing.
            guard converter == "hex", fetch == .serial || fetch == .sha1 else {
                return .failure(
                    FetchError(
                        "converter '\(converter)' is not supported on '\(name)' (only ',hex' on ssl_c_serial and "
                            + "ssl_c_sha1)"))
            }
        }
        return .success(fetch)
    }

    private var isDN: Bool {
        switch self {
        case .subjectDN, .issuerDN: return true
        default: return false
        }
    }

    /// Every fetch name sidecar knows, for suggestions.
    public static let names = [
        "ssl_c_used", "ssl_fc_has_crt", "ssl_c_verify", "ssl_c_s_dn", "ssl_c_i_dn", "ssl_c_serial", "ssl_c_sha1",
        "ssl_fc_sni", "src",
    ]

    /// HAProxy's spelling, for messages.
    public var description: String {
        switch self {
        case .certificateUsed: return "ssl_c_used"
        case .certificateInHandshake: return "ssl_fc_has_crt"
        case .verifyResult: return "ssl_c_verify"
        case .subjectDN(let entry): return "ssl_c_s_dn" + (entry.map { "(\($0.name))" } ?? "")
        case .issuerDN(let entry): return "ssl_c_i_dn" + (entry.map { "(\($0.name))" } ?? "")
        case .serial: return "ssl_c_serial"
        case .sha1: return "ssl_c_sha1"
        case .serverName: return "ssl_fc_sni"
        case .source: return "src"
        }
    }

    /// Why a fetch expression cannot be used.
    public struct FetchError: Error, Sendable, Hashable {
        public var message: String
        /// The unknown fetch name, for a suggestion.
        public var unknownName: String?

        init(_ message: String) { self.message = message }

        init(unknownFetch name: String) {
            message =
                "unknown or unsupported fetch '\(name)' (supported: \(ACLFetch.names.joined(separator: ", ")))"
            unknownName = name
        }
    }
}

extension ACLFetch.DNEntry {
    /// `CN`, `cn`, `OU,2`, `CN,-1`; a third `fmt` argument is refused (the one-line form is always used).
    static func parse(_ argument: Substring) -> Result<Self, ACLFetch.FetchError> {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        let name = parts[0].trimmingSpaces
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." }) else {
            return .failure(.init("'\(argument)' is not a distinguished-name entry such as CN, O or OU"))
        }
        var occurrence = 1
        if parts.count > 1 {
            guard let value = Int(parts[1].trimmingSpaces), value != 0 else {
                return .failure(.init("the occurrence in '(\(argument))' must be a non-zero number (1 first, -1 last)"))
            }
            occurrence = value
        }
        if parts.count > 2 {
            return .failure(.init("the format argument in '(\(argument))' is not supported"))
        }
        return .success(.init(name: name.uppercased(), occurrence: occurrence))
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
