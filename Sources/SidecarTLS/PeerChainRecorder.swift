import COpenSSL
import COpenSSLShims
import Synchronization

/// Keeps a copy of the certificate chain the peer presented in the latest handshake on one `TLSContext`,
/// whether or not it verified, and of the chain OpenSSL built to a trust anchor when it did: `sidecar probe`
/// prints both.
///
/// It installs OpenSSL's application verify hook (`SSL_CTX_set_cert_verify_callback`) on the context. The
/// hook copies the chain and then runs the normal verification (`X509_verify_cert`), which still calls the
/// context's own verify callback, so the verdict and the reasons `TLSError` gives are unchanged.
///
/// Meant for a context of its own (the probe's), with one handshake at a time: with several, "latest" is
/// whichever finished verifying last.
///
/// Lifetime: the recorder holds the context; the hook holds the recorder unretained and is removed in
/// `deinit`. Keep the recorder alive until the connections using the context have finished their
/// handshakes.
///
/// Threading: the hook runs on the connection's event loop; the chains sit behind a `Mutex`, so reading
/// them from any thread is safe.
package final class PeerChainRecorder: Sendable {
    /// The context whose handshakes are recorded.
    package let context: TLSContext
    private let chains = Mutex<(presented: [PeerCertificate], verified: [PeerCertificate])>(([], []))

    /// Installs the recording hook on `context`, replacing any application verify hook it had (TLSContext
    /// sets none).
    package init(context: TLSContext) {
        self.context = context
        SSL_CTX_set_cert_verify_callback(
            context.context, peerChainRecordingCallback, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        SSL_CTX_set_cert_verify_callback(context.context, nil, nil)
    }

    /// The certificates the peer sent, leaf first, in the order it sent them; empty before any handshake
    /// reached certificate verification.
    package var presentedChain: [PeerCertificate] { chains.withLock { $0.presented } }

    /// The chain OpenSSL verified, leaf first, ending with the trust anchor from the CA file; empty when
    /// verification failed.
    package var verifiedChain: [PeerCertificate] { chains.withLock { $0.verified } }

    fileprivate func verify(_ storeContext: OpaquePointer) -> Int32 {
        var presented: [PeerCertificate] = []
        // Everything read here is borrowed from the store context, which the handshake owns.
        if let leaf = X509_STORE_CTX_get0_cert(storeContext) {
            presented.append(PeerCertificate(borrowing: leaf))
            if let untrusted = X509_STORE_CTX_get0_untrusted(storeContext) {
                for index in 0..<COpenSSLShims_sk_X509_num(untrusted) {
                    // OpenSSL passes the whole received chain, leaf included, as the untrusted set.
                    guard let certificate = COpenSSLShims_sk_X509_value(untrusted, index),
                        X509_cmp(certificate, leaf) != 0
                    else { continue }
                    presented.append(PeerCertificate(borrowing: certificate))
                }
            }
        }
        let verdict = X509_verify_cert(storeContext)
        var verified: [PeerCertificate] = []
        if verdict == 1, let chain = X509_STORE_CTX_get0_chain(storeContext) {
            for index in 0..<COpenSSLShims_sk_X509_num(chain) {
                if let certificate = COpenSSLShims_sk_X509_value(chain, index) {
                    verified.append(PeerCertificate(borrowing: certificate))
                }
            }
        }
        chains.withLock { $0 = (presented, verified) }
        return verdict
    }
}

/// OpenSSL's application verify hook: `argument` is the `PeerChainRecorder`, unretained (see its lifetime
/// note).
private let peerChainRecordingCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = {
    storeContext, argument in
    guard let storeContext else { return 0 }
    guard let argument else { return X509_verify_cert(storeContext) }
    return Unmanaged<PeerChainRecorder>.fromOpaque(argument).takeUnretainedValue().verify(storeContext)
}
