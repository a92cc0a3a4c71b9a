import COpenSSL
import Synchronization

/// The peer's certificate as OpenSSL decoded it during the handshake, read only as far as someone asks.
///
/// Every connection needs the subject (the session table, the log line); the rest of `PeerCertificate`
/// (subjectAltNames, serial, SHA-1, dates) only when identity rules or a refusal need it. Copying it all
/// eagerly was about 3 % of each side's CPU per new connection.
///
/// Ownership: holds one reference to the `X509` (taken with `X509_up_ref` in `init`, released in `deinit`),
/// so it outlives the `SSL` it came from. OpenSSL allows concurrent reads of a certificate; the cached copy
/// sits behind a `Mutex`.
public final class PeerCertificateHandle: Sendable {
    private nonisolated(unsafe) let certificate: OpaquePointer
    private let cached = Mutex<PeerCertificate?>(nil)
    /// Subject in the `ssl_c_s_dn` form, separators in values escaped (`PeerCertificate.distinguishedName`).
    public let subject: String

    /// Takes a reference to `certificate`, a borrowed `X509*`.
    init(retaining certificate: OpaquePointer) {
        X509_up_ref(certificate)
        self.certificate = certificate
        subject = PeerCertificate.distinguishedName(X509_get_subject_name(certificate))
    }

    deinit {
        X509_free(certificate)
    }

    /// Everything `PeerCertificate` says, copied out on first use.
    public var details: PeerCertificate {
        cached.withLock { cached in
            if let cached { return cached }
            let details = PeerCertificate(borrowing: certificate)
            cached = details
            return details
        }
    }
}
