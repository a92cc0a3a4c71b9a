import COpenSSL
import COpenSSLShims
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// One OpenSSL `SSL` object and the BIO that connects it to NIO's buffers.
///
/// Ciphertext in: `feed(_:)` hands OpenSSL a received `ByteBuffer` without copying it; OpenSSL copies
/// from it into its record buffer through the BIO read callback. Ciphertext out: OpenSSL's BIO write
/// callback appends records to the outbound buffer, which the handler writes to the socket on flush.
///
/// Ownership: this object owns the `SSL*` (freed in `deinit`); the `SSL` owns the BIO (`SSL_set_bio`), and
/// the BIO points back at this object unretained, which is safe because OpenSSL only calls the BIO
/// from inside our own `SSL_*` calls. `SSL_set_ex_data(ssl, 0, self)` is likewise unretained, for callbacks.
///
/// Threading: not `Sendable`; used only on its channel's event loop.
final class TLSConnection {
    let context: TLSContext
    /// `SSL*`, owned.
    private let ssl: OpaquePointer
    /// The channel's allocator, taken once: asking the channel for it costs an existential call and reference
    /// counting on every message.
    let allocator: ByteBufferAllocator
    /// Ciphertext received and not yet taken by OpenSSL, and records not yet written to the socket; one
    /// property, so each operation checks one access (see `CiphertextBuffers`).
    private var ciphertext = CiphertextBuffers()
    /// Client role: the key under which this peer's session is cached for resumption.
    let sessionKey: String?
    /// The first certificate verification failure OpenSSL reported, with the certificate it concerned.
    private(set) var verifyFailure: (code: Int32, depth: Int32, certificate: PeerCertificate?)?

    /// - Parameters:
    ///   - serverName: client role: SNI to send (not sent for an IP address).
    ///   - expectedPeerName: client role: the name (DNS or IP) the server certificate must carry; nil checks
    ///     the chain only.
    ///   - sessionKey: client role: where to look up and store a session for resumption.
    init(
        context: TLSContext, allocator: ByteBufferAllocator, serverName: String? = nil,
        expectedPeerName: String? = nil, sessionKey: String? = nil
    ) throws {
        self.context = context
        self.allocator = allocator
        self.sessionKey = sessionKey
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.context) else {
            throw TLSError(.handshakeFailed, "cannot create a TLS session", openSSLErrors: OpenSSLErrorQueue.drain())
        }
        self.ssl = ssl
        guard let bio = BIO_new(byteBufferBIOMethod) else {
            throw TLSError(.handshakeFailed, "cannot create a BIO", openSSLErrors: OpenSSLErrorQueue.drain())
        }
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
        // Hands the single BIO reference to the SSL, which frees it in SSL_free.
        SSL_set_bio(ssl, bio, bio)
        _ = SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())

        switch context.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let serverName, !Self.isIPAddress(serverName) {
                _ = COpenSSLShims_SSL_set_tlsext_host_name(ssl, serverName)
            }
            if let expectedPeerName {
                let accepted: Int32
                if Self.isIPAddress(expectedPeerName) {
                    accepted = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), expectedPeerName)
                } else {
                    accepted = SSL_set1_host(ssl, expectedPeerName)
                }
                guard accepted == 1 else {
                    throw TLSError(
                        .handshakeFailed, "cannot check the peer name '\(expectedPeerName)'",
                        openSSLErrors: OpenSSLErrorQueue.drain())
                }
            }
            if let sessionKey, let session = context.takeSession(for: sessionKey) {
                // SSL_set_session takes its own reference; we drop the one takeSession gave us.
                _ = SSL_set_session(ssl, session)
                SSL_SESSION_free(session)
            }
        }
    }

    deinit {
        SSL_free(ssl)
    }

    /// The connection that owns `ssl`, for OpenSSL callbacks.
    static func from(ssl: OpaquePointer) -> TLSConnection? {
        guard let raw = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<TLSConnection>.fromOpaque(raw).takeUnretainedValue()
    }

    // MARK: I/O with the network side

    /// Queues received ciphertext for OpenSSL.
    func feed(_ buffer: inout ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        ciphertext.append(buffer)
    }

    /// The peer closed TCP; OpenSSL will see end of file once the queued bytes are consumed.
    func feedEOF() { ciphertext.markEndOfFile() }

    /// Takes the ciphertext produced so far, to be written to the socket; nil when there is none.
    func takeOutbound() -> ByteBuffer? { ciphertext.takeOutbound() }

    var hasOutbound: Bool { ciphertext.hasOutbound }

    /// Ciphertext received and not yet taken by OpenSSL, in bytes.
    var queuedCiphertext: Int { ciphertext.queuedBytes }

    /// Whether OpenSSL gives its record buffers back whenever they are empty (`SSL_MODE_RELEASE_BUFFERS`).
    var releasesBuffers: Bool { SSL_ctrl(ssl, SSL_CTRL_MODE, 0, nil) & Int(SSL_MODE_RELEASE_BUFFERS) != 0 }

    /// Whether another `read` could produce anything: queued ciphertext, an end of file to report, or bytes
    /// OpenSSL holds (a partial or undecrypted record, decrypted bytes not yet taken). When false, a `read`
    /// would only answer `wantRead`; skipping it saves an OpenSSL call per message.
    var mayReadMore: Bool { ciphertext.hasInput || SSL_has_pending(ssl) == 1 }

    // MARK: TLS operations

    /// The outcome of a TLS operation.
    enum Outcome {
        case done
        case wantRead
        /// The peer sent close_notify.
        case closed
        case failed(TLSError)
    }

    func handshake() -> Outcome {
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            context.handshakeCompleted()
            return .done
        }
        return outcome(of: result, duringHandshake: true)
    }

    /// Decrypts into `buffer`'s writable space. `.done` means bytes were added.
    func read(into buffer: inout ByteBuffer) -> Outcome {
        OpenSSLErrorQueue.clear()
        var result: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { space in
            result = SSL_read(ssl, space.baseAddress, Int32(clamping: space.count))
            return result > 0 ? Int(result) : 0
        }
        if result > 0 { return .done }
        return outcome(of: result, duringHandshake: false)
    }

    /// Encrypts all of `buffer` into records on the outbound buffer. Our BIO never refuses a write, so
    /// OpenSSL consumes everything in one call unless the connection failed.
    func write(_ buffer: ByteBuffer) -> Outcome {
        guard buffer.readableBytes > 0 else { return .done }
        // Room for the records this write makes (at most 16 KiB of plaintext each, plus header, tag and
        // padding), so encrypting a large write never regrows and copies the buffer.
        let records = buffer.readableBytes / (16 * 1024) + 1
        ciphertext.reserveOutbound(buffer.readableBytes + records * 64, allocator: allocator)
        OpenSSLErrorQueue.clear()
        let result = buffer.withUnsafeReadableBytes { bytes in
            SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
        }
        if result > 0 { return .done }
        return outcome(of: result, duringHandshake: false)
    }

    /// Queues our close_notify on the outbound buffer.
    func shutdown() {
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        _ = OpenSSLErrorQueue.drain()
    }

    private func outcome(of result: Int32, duringHandshake: Bool) -> Outcome {
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        default:
            let errors = OpenSSLErrorQueue.drain()
            return .failed(failure(errors: errors, duringHandshake: duringHandshake))
        }
    }

    private func failure(errors: [String], duringHandshake: Bool) -> TLSError {
        if let verifyFailure {
            return TLSError(
                .certificateRejected,
                Self.verifyReason(
                    verifyFailure.code, depth: verifyFailure.depth, certificate: verifyFailure.certificate, ssl: ssl,
                    role: context.role),
                certificate: verifyFailure.certificate, openSSLErrors: errors)
        }
        let reasons = errors.compactMap(Self.reason(of:))
        if ciphertext.inboundEOF || reasons.contains("unexpected eof while reading") {
            if duringHandshake {
                return TLSError(
                    .handshakeFailed, "peer closed the connection during the handshake", openSSLErrors: errors)
            }
            return TLSError(.uncleanShutdown, "peer closed TCP without a TLS close_notify", openSSLErrors: errors)
        }
        let reason = reasons.first ?? "TLS failure"
        if reasons.contains(where: { $0 == "unsupported protocol" || $0 == "no protocols available" }) {
            // Our ssl-min-ver/ssl-max-ver and the peer's versions do not overlap. A server sees the client's
            // highest version in the ClientHello; `openssl s_client -tls1_2` offers 0x0303 and nothing newer.
            let minimum = context.settings.minVersion ?? .tls12
            let maximum = context.settings.maxVersion.map { ", ssl-max-ver \($0.rawValue)" } ?? ""
            let range = "ssl-min-ver \(minimum.rawValue)\(maximum)"
            let offered = context.role == .server ? SSL_client_version(ssl) : SSL_version(ssl)
            let names: [Int32: String] = [
                SSL3_VERSION: "SSL 3.0", TLS1_VERSION: "TLS 1.0", TLS1_1_VERSION: "TLS 1.1",
                TLS1_2_VERSION: "TLS 1.2", TLS1_3_VERSION: "TLS 1.3",
            ]
            let peer = context.role == .server ? "client" : "server"
            guard let name = names[offered], offered > 0 else {
                return TLSError(
                    .handshakeFailed, "no TLS version in common with the \(peer) (\(range))", openSSLErrors: errors)
            }
            let side = offered < minimum.openSSLValue ? "below \(range)" : "outside \(range)"
            return TLSError(.handshakeFailed, "\(name) (offered by the \(peer)) \(side)", openSSLErrors: errors)
        }
        if reason == "tlsv1 alert protocol version" {
            let minimum = context.settings.minVersion ?? .tls12
            return TLSError(
                .handshakeFailed,
                "the peer refused our TLS versions (ssl-min-ver \(minimum.rawValue)): it needs another version",
                openSSLErrors: errors)
        }
        if reason == "peer did not return a certificate" {
            return TLSError(.certificateRejected, "no certificate presented", openSSLErrors: errors)
        }
        return TLSError(duringHandshake ? .handshakeFailed : .protocolError, reason, openSSLErrors: errors)
    }

    /// The reason part of `error:0A000086:SSL routines::certificate verify failed`.
    private static func reason(of entry: String) -> String? {
        entry.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init)
    }

    private static func verifyReason(
        _ code: Int32, depth: Int32, certificate: PeerCertificate?, ssl: OpaquePointer, role: TLSContext.Role
    ) -> String {
        switch code {
        case X509_V_ERR_INVALID_PURPOSE where depth == 0:
            // The peer's role is the opposite of ours.
            switch role {
            case .server:
                return "certificate is not for a TLS client (its extendedKeyUsage lacks clientAuth): present a "
                    + "client certificate ('sidecar certs leaf' without --server)"
            case .client:
                return "certificate is not for a TLS server (its extendedKeyUsage lacks serverAuth): give the "
                    + "server a certificate made with 'sidecar certs leaf --server'"
            }
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "certificate has expired" + (certificate?.notAfterText.map { " on \($0)" } ?? "")
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "certificate is not yet valid"
        case X509_V_ERR_CERT_REVOKED:
            return "certificate revoked"
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return "unknown CA (" + String(cString: X509_verify_cert_error_string(Int(code))) + ")"
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            let wanted = SSL_get0_param(ssl).flatMap { X509_VERIFY_PARAM_get0_host($0, 0) }.map { String(cString: $0) }
            let names = certificate.map {
                ($0.dnsNames + $0.ipAddresses + $0.commonNames).map { PeerCertificate.printable($0) }
                    .joined(separator: ", ")
            }
            return
                "certificate name mismatch: expected '\(wanted ?? "the configured name")', certificate is for '\(names ?? "?")'"
        case X509_V_ERR_UNABLE_TO_GET_CRL:
            return "no CRL for the issuing CA (crl-file must cover every CA in the chain)"
        default:
            return String(cString: X509_verify_cert_error_string(Int(code)))
        }
    }

    // MARK: after the handshake

    func recordVerifyFailure(code: Int32, depth: Int32, certificate: OpaquePointer?) {
        guard verifyFailure == nil else { return }
        verifyFailure = (code, depth, certificate.map { PeerCertificate(borrowing: $0) })
    }

    /// The peer's certificate after a successful handshake, or nil if it sent none.
    func peerCertificate() -> PeerCertificateHandle? {
        // SSL_get0_peer_certificate does not add a reference; the handle takes its own.
        guard let certificate = SSL_get0_peer_certificate(ssl) else { return nil }
        return PeerCertificateHandle(retaining: certificate)
    }

    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
    var cipher: String {
        guard let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return "" }
        return String(cString: name)
    }
    var sessionReused: Bool { SSL_session_reused(ssl) == 1 }
    /// Server role: the SNI the client sent; the string belongs to the SSL and is copied here.
    var requestedServerName: String? {
        SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
    }
    var negotiatedALPN: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    // MARK: BIO callbacks

    fileprivate func bioRead(into destination: UnsafeMutablePointer<CChar>, count: Int32, bio: OpaquePointer) -> Int32 {
        COpenSSLShims_BIO_clear_retry_flags(bio)
        // OpenSSL's record buffer, `count` bytes, borrowed for this call.
        switch ciphertext.read(into: UnsafeMutableRawPointer(destination), count: Int(count)) {
        case .bytes(let taken):
            return Int32(taken)
        case .endOfFile:
            return 0
        case .retry:
            COpenSSLShims_BIO_set_retry_read(bio)
            return -1
        }
    }

    fileprivate func bioWrite(from source: UnsafePointer<CChar>, count: Int32) -> Int32 {
        // OpenSSL's bytes, borrowed for this call: copied onto the outbound buffer.
        ciphertext.appendOutbound(UnsafeRawBufferPointer(start: source, count: Int(count)), allocator: allocator)
        return count
    }
}

// MARK: the BIO method

/// The BIO method shared by all connections, created once; OpenSSL never frees a method we own.
nonisolated(unsafe) private let byteBufferBIOMethod: OpaquePointer = {
    let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sidecar ByteBuffer BIO")!
    _ = BIO_meth_set_read(method, byteBufferBIORead)
    _ = BIO_meth_set_write(method, byteBufferBIOWrite)
    _ = BIO_meth_set_ctrl(method, byteBufferBIOControl)
    return method
}()

private func connection(of bio: OpaquePointer?) -> TLSConnection? {
    guard let bio, let data = BIO_get_data(bio) else { return nil }
    return Unmanaged<TLSConnection>.fromOpaque(data).takeUnretainedValue()
}

private let byteBufferBIORead: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int32) -> Int32 = {
    bio, destination, count in
    guard let destination, count > 0, let connection = connection(of: bio) else { return 0 }
    return connection.bioRead(into: destination, count: count, bio: bio!)
}

private let byteBufferBIOWrite: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = {
    bio, source, count in
    guard let source, count > 0, let connection = connection(of: bio) else { return 0 }
    return connection.bioWrite(from: source, count: count)
}

private let byteBufferBIOControl: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int = {
    _, command, _, _ in
    switch command {
    case BIO_CTRL_FLUSH:
        // Records are written to the socket by the handler's flush, not here.
        return 1
    default:
        return 0
    }
}
