import COpenSSL
import COpenSSLShims

/// The key type of a certificate made by the certificate tooling.
public enum KeyAlgorithm: Sendable, Hashable, CustomStringConvertible {
    /// ECDSA on the NIST P-256 curve (prime256v1): small, fast, accepted everywhere. The default.
    case ecP256
    /// RSA with a 3072-bit modulus, for peers that cannot use EC keys.
    case rsa3072

    public var description: String {
        switch self {
        case .ecP256: "EC P-256"
        case .rsa3072: "RSA 3072"
        }
    }

    /// Generates a new private key. The caller owns the returned `EVP_PKEY` and frees it with `EVP_PKEY_free`.
    func generatePrivateKey() throws -> OpaquePointer {
        ERR_clear_error()
        let key =
            switch self {
            case .ecP256: COpenSSLShims_EVP_PKEY_Q_keygen_ec("P-256")
            case .rsa3072: COpenSSLShims_EVP_PKEY_Q_keygen_rsa(3072)
            }
        guard let key else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot generate a \(self) key")
        }
        return key
    }
}
