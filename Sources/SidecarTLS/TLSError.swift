/// Why a TLS connection failed or was refused, in the operator's words.
///
/// An extensible struct (a public struct over a private enum), so cases can be added without breaking callers.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    enum Base: Sendable, Hashable {
        case handshakeFailed
        case certificateRejected
        case handshakeTimeout
        case uncleanShutdown
        case protocolError
    }

    let base: Base
    /// What went wrong, e.g. `certificate has expired (notAfter Feb  1 00:00:00 2020 GMT)`.
    public var reason: String
    /// The certificate the failure is about (the peer's leaf, or the chain member that failed), if any.
    public var certificate: PeerCertificate?
    /// OpenSSL's raw error strings, for debug logs.
    public var openSSLErrors: [String]

    init(_ base: Base, _ reason: String, certificate: PeerCertificate? = nil, openSSLErrors: [String] = []) {
        self.base = base
        self.reason = reason
        self.certificate = certificate
        self.openSSLErrors = openSSLErrors
    }

    /// A refusal decided above OpenSSL (identity rules), worded for the log.
    package static func rejected(_ reason: String, certificate: PeerCertificate?) -> TLSError {
        TLSError(.certificateRejected, reason, certificate: certificate)
    }

    /// The handshake failed for a reason other than the peer's certificate (protocol, cipher, alert).
    public static let handshakeFailed = Code(.handshakeFailed)
    /// The peer's certificate was missing, untrusted, expired, revoked or for another name.
    public static let certificateRejected = Code(.certificateRejected)
    /// The peer did not finish the handshake in time.
    public static let handshakeTimeout = Code(.handshakeTimeout)
    /// The TCP connection ended without a TLS close_notify (possible truncation).
    public static let uncleanShutdown = Code(.uncleanShutdown)
    /// A TLS error after the handshake (bad record, alert).
    public static let protocolError = Code(.protocolError)

    /// Identifies the kind of failure; compare with `TLSError.certificateRejected` and friends.
    public var code: Code { Code(base) }

    /// A kind of `TLSError`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let base: Base
        init(_ base: Base) { self.base = base }
        public var description: String {
            switch base {
            case .handshakeFailed: return "handshake failed"
            case .certificateRejected: return "certificate rejected"
            case .handshakeTimeout: return "handshake timeout"
            case .uncleanShutdown: return "unclean shutdown"
            case .protocolError: return "TLS error"
            }
        }
    }

    public var description: String {
        var text = "\(code): \(reason)"
        if let certificate {
            text += " (subject \(certificate.subject), issuer \(certificate.issuer), serial \(certificate.serialHex))"
        }
        return text
    }
}
