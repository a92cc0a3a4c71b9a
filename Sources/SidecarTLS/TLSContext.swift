import COpenSSL
import COpenSSLShims
import NIOCore
import SidecarConfig
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One OpenSSL `SSL_CTX` built from one `TLSSettings`, in the server role (a `bind ... ssl` line) or the
/// client role (a `server ... ssl` line).
///
/// Built once per configuration, at start and at reload, never per connection: certificate, key, CA bundle
/// and CRL are read here, so a file that cannot be loaded fails the (re)load before any connection sees it.
///
/// Threading: after `init` the `SSL_CTX` is only read (`SSL_new`), which OpenSSL allows from any thread; the
/// client session cache is the one mutable part and sits behind a `Mutex`. Connections keep the context
/// alive (they hold a strong reference), so a context replaced by a reload is freed when its last
/// connection ends.
public final class TLSContext: @unchecked Sendable {
    /// Which end of the handshake this context serves.
    public enum Role: Sendable {
        case server
        case client
    }

    public let role: Role
    public let settings: TLSSettings
    /// `SSL_CTX*`, owned by this object: created in `init`, freed in `deinit`.
    let context: OpaquePointer
    /// Client role: the sessions each peer gave us for resumption, oldest first. Each `SSL_SESSION*` holds
    /// one reference owned by this cache, handed to the connection that takes it, or released when pushed
    /// out or in `deinit`.
    private let sessions = Mutex<[String: [SessionReference]]>([:])
    /// `alpn` in wire format (length-prefixed names), kept alive for the ALPN callback.
    private let alpnWire: [UInt8]
    /// Server role: how often, in nanoseconds, a completed handshake may flush expired sessions from OpenSSL's
    /// cache.
    private let sessionFlushNanoseconds: Int64
    /// Server role: when expired sessions were last flushed (`NIODeadline` uptime nanoseconds). Handshakes on
    /// every event loop share the context, so one of them wins the exchange and flushes.
    private let lastSessionFlush: Atomic<Int64>

    /// Builds the context, reading every file the settings name.
    /// - Throws: `TLSContextError` naming the file or setting that is wrong.
    /// - Parameter sessionFlushInterval: server role: expired sessions leave the cache at most this often.
    public init(settings: TLSSettings, role: Role, sessionFlushInterval: Duration = .seconds(10)) throws {
        self.role = role
        self.settings = settings
        let interval = sessionFlushInterval.components
        self.sessionFlushNanoseconds = interval.seconds * 1_000_000_000 + interval.attoseconds / 1_000_000_000
        self.lastSessionFlush = Atomic(Int64(clamping: NIODeadline.now().uptimeNanoseconds))
        self.alpnWire = settings.alpn.flatMap { name -> [UInt8] in
            let bytes = Array(name.utf8)
            return [UInt8(truncatingIfNeeded: bytes.count)] + bytes
        }
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSContextError("TLS", "cannot create an OpenSSL context", openSSLErrors: OpenSSLErrorQueue.drain())
        }
        self.context = context
        // From here on `deinit` frees the context if a later step throws.
        try configure()
    }

    deinit {
        for session in sessions.withLock({ $0.values.joined() }) { SSL_SESSION_free(session.pointer) }
        SSL_CTX_free(context)
    }

    private func configure() throws {
        COpenSSLShims_SSL_CTX_set_sidecar_defaults(context)
        // Idle D-Bus connections are the common case: give the read/write buffers back while idle.
        // No automatic chain: send the `crt` file's certificates as they are, as HAProxy does. OpenSSL would
        // otherwise complete the chain from the CA store and send the root too, which the peer already has
        // and must decode anyway: OpenSSL 3 spends about a quarter of a full handshake's CPU decoding
        // certificates (their public keys, through the provider decoders).
        _ = COpenSSLShims_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN))

        let minimum = settings.minVersion ?? .tls12
        guard COpenSSLShims_SSL_CTX_set_min_proto_version(context, minimum.openSSLValue) == 1 else {
            throw TLSContextError("ssl-min-ver \(minimum.rawValue)", "not supported by this OpenSSL")
        }
        if let maximum = settings.maxVersion {
            if maximum < minimum {
                throw TLSContextError(
                    "ssl-max-ver \(maximum.rawValue)", "is below ssl-min-ver \(minimum.rawValue): no version left")
            }
            guard COpenSSLShims_SSL_CTX_set_max_proto_version(context, maximum.openSSLValue) == 1 else {
                throw TLSContextError("ssl-max-ver \(maximum.rawValue)", "not supported by this OpenSSL")
            }
        }
        if let ciphers = settings.ciphers, SSL_CTX_set_cipher_list(context, ciphers) != 1 {
            throw TLSContextError(
                "ciphers '\(ciphers)'", "no usable cipher in this list", openSSLErrors: OpenSSLErrorQueue.drain())
        }
        if let suites = settings.ciphersuites, SSL_CTX_set_ciphersuites(context, suites) != 1 {
            throw TLSContextError(
                "ciphersuites '\(suites)'", "no usable TLS 1.3 cipher suite in this list",
                openSSLErrors: OpenSSLErrorQueue.drain())
        }
        if let curves = settings.curves, COpenSSLShims_SSL_CTX_set1_groups_list(context, curves) != 1 {
            throw TLSContextError(
                "curves '\(curves)'", "unknown or unsupported curve in this list",
                openSSLErrors: OpenSSLErrorQueue.drain())
        }
        try loadCertificateAndKey()
        try loadTrust()
        configureSessions()
        configureALPN()
    }

    // MARK: certificate and key

    private func loadCertificateAndKey() throws {
        guard let first = settings.certificateFiles.first else {
            if role == .server {
                throw TLSContextError("bind ... ssl", "no certificate: 'crt' is required on a TLS listener")
            }
            return
        }
        if settings.certificateFiles.count > 1 {
            throw TLSContextError(
                "crt \(settings.certificateFiles[1])",
                "several 'crt' on one line (certificate selection by SNI) is not supported; give one")
        }
        let certificateFile = try Self.resolveCertificateFile(first)
        try Self.requireReadable(certificateFile, what: "certificate")
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
            throw TLSContextError(
                "certificate \(certificateFile)", "not a PEM certificate (chain)",
                openSSLErrors: OpenSSLErrorQueue.drain())
        }
        let keyFile: String
        if let explicit = settings.keyFile {
            keyFile = explicit
        } else if Self.fileContainsPrivateKey(certificateFile) {
            keyFile = certificateFile
        } else if let sibling = Self.keySibling(of: certificateFile) {
            keyFile = sibling
        } else {
            throw TLSContextError(
                "certificate \(certificateFile)",
                "holds no private key, and neither \(certificateFile).key nor a .key file of the same name is beside it"
            )
        }
        try Self.requireReadable(keyFile, what: "private key")
        guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
            let errors = OpenSSLErrorQueue.drain()
            if errors.contains(where: { $0.hasSuffix("key values mismatch") }) {
                throw TLSContextError(
                    "private key \(keyFile)", "does not match the certificate \(certificateFile)",
                    openSSLErrors: errors)
            }
            throw TLSContextError(
                "private key \(keyFile)", "not a readable unencrypted PEM private key", openSSLErrors: errors)
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            _ = OpenSSLErrorQueue.drain()
            throw TLSContextError(
                "private key \(keyFile)", "does not match the certificate \(certificateFile)")
        }
    }

    /// HAProxy's `crt DIR` loads the directory's certificates; sidecar takes a directory holding exactly one.
    private static func resolveCertificateFile(_ path: String) throws -> String {
        var status = stat()
        guard stat(path, &status) == 0 else { return path }  // requireReadable reports it
        guard (status.st_mode & S_IFMT) == S_IFDIR else { return path }
        guard let directory = opendir(path) else {
            throw TLSContextError("certificate directory \(path)", String(cString: strerror(errno)))
        }
        // The DIR* is ours until closedir.
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            if [".key", ".issuer", ".ocsp", ".sctl"].contains(where: { name.hasSuffix($0) }) { continue }
            names.append(name)
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard let only = names.first else {
            throw TLSContextError("certificate directory \(path)", "holds no certificate file")
        }
        if names.count > 1 {
            throw TLSContextError(
                "certificate directory \(path)",
                "holds \(names.count) certificates (\(names.joined(separator: ", "))); sidecar takes one")
        }
        return path.hasSuffix("/") ? path + only : path + "/" + only
    }

    /// HAProxy's rule, `<crt>.key`, then (extension) the same name with `.key` for `.pem`/`.crt`, which is how
    /// `sidecar certs leaf` names its files.
    private static func keySibling(of certificateFile: String) -> String? {
        var candidates = [certificateFile + ".key"]
        for suffix in [".pem", ".crt"] where certificateFile.hasSuffix(suffix) {
            candidates.append(String(certificateFile.dropLast(suffix.count)) + ".key")
        }
        return candidates.first { access($0, F_OK) == 0 }
    }

    private static func fileContainsPrivateKey(_ path: String) -> Bool {
        guard let bio = BIO_new_file(path, "r") else {
            _ = OpenSSLErrorQueue.drain()
            return false
        }
        // The BIO and the key read from it are ours; both freed here.
        defer { BIO_free(bio) }
        let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        _ = OpenSSLErrorQueue.drain()
        guard let key else { return false }
        EVP_PKEY_free(key)
        return true
    }

    static func requireReadable(_ path: String, what: String) throws {
        if access(path, R_OK) != 0 {
            let reason = String(cString: strerror(errno))
            throw TLSContextError("\(what) \(path)", "cannot be read: \(reason)")
        }
    }

    // MARK: trust: CA, CRL, verification

    private func loadTrust() throws {
        if let caFile = settings.caFile {
            if caFile == "@system-ca" {
                SSL_CTX_set_default_verify_paths(context)
            } else {
                try Self.requireReadable(caFile, what: "CA file")
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    throw TLSContextError(
                        "CA file \(caFile)", "holds no PEM certificate",
                        openSSLErrors: OpenSSLErrorQueue.drain())
                }
                if role == .server {
                    // Advertise the acceptable CAs in the CertificateRequest, as HAProxy does.
                    // SSL_load_client_CA_file returns a stack we own; set0 hands it to the context.
                    if let names = SSL_load_client_CA_file(caFile) {
                        SSL_CTX_set_client_CA_list(context, names)
                    }
                    _ = OpenSSLErrorQueue.drain()
                }
            }
        } else if settings.verify != .none {
            throw TLSContextError(
                role == .server ? "bind ... verify \(settings.verify.rawValue)" : "server ... verify required",
                "verification is enabled but no CA file is given ('ca-file')")
        }
        if let crlFile = settings.crlFile {
            try Self.requireReadable(crlFile, what: "CRL file")
            let store = SSL_CTX_get_cert_store(context)
            guard X509_STORE_load_file(store, crlFile) == 1 else {
                throw TLSContextError(
                    "CRL file \(crlFile)", "holds no PEM CRL", openSSLErrors: OpenSSLErrorQueue.drain())
            }
            X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL))
        }
        var mode: Int32
        switch (settings.verify, role) {
        case (.none, _): mode = SSL_VERIFY_NONE
        case (.optional, _): mode = SSL_VERIFY_PEER
        case (.required, .server): mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        case (.required, .client): mode = SSL_VERIFY_PEER
        }
        SSL_CTX_set_verify(context, mode, tlsVerifyCallback)
    }

    // MARK: sessions

    private func configureSessions() {
        switch role {
        case .server:
            // Resumption with client certificates needs a session id context, or OpenSSL refuses to resume.
            let id = Array("sidecar".utf8)
            _ = SSL_CTX_set_session_id_context(context, id, UInt32(id.count))
            // Sessions stay in OpenSSL's server cache and a TLS 1.3 ticket carries only their id (stateful
            // tickets), rather than the whole session encrypted (stateless). Resuming from a stateless ticket
            // decodes the session, client certificate included, from ASN.1, and OpenSSL 3 decodes the public
            // key through its provider decoders: perf put that at 36 % of the reverse side's CPU per resumed
            // connection. `tune.ssl.cachesize` (20000) and `tune.ssl.lifetime` (300 s) bound the cache, as HAProxy's.
            COpenSSLShims_SSL_CTX_set_no_ticket(context)
            let caching = settings.sessionCacheSize > 0
            if caching {
                _ = COpenSSLShims_SSL_CTX_sess_set_cache_size(context, settings.sessionCacheSize)
                // OpenSSL's own clean-up walks the whole cache, under the lock every handshake needs, after
                // every 255th handshake (perf: 1.8 % of the reverse side's CPU per resumed connection with
                // 6,000 sessions cached). `handshakeCompleted()` flushes on a clock instead.
                _ = COpenSSLShims_SSL_CTX_set_session_cache_mode(
                    context, Int(SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR))
            } else {
                _ = COpenSSLShims_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
            }
            _ = SSL_CTX_set_timeout(context, Int(settings.sessionLifetime.components.seconds))
            // One TLS 1.3 ticket per handshake (a client uses each once); none without a cache. `no-tls-tickets`
            // changes nothing here: it turns stateless tickets off, and these are stateful, which is what it
            // leaves in HAProxy too.
            _ = SSL_CTX_set_num_tickets(context, caching ? 1 : 0)
        case .client:
            if !settings.sessionTickets { COpenSSLShims_SSL_CTX_set_no_ticket(context) }
            _ = COpenSSLShims_SSL_CTX_set_session_cache_mode(
                context, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE))
            SSL_CTX_sess_set_new_cb(context, tlsNewSessionCallback)
        }
    }

    /// Server role: called after each completed handshake; at most once per flush interval it frees
    /// the sessions past `tune.ssl.lifetime` from OpenSSL's cache. A full cache also makes room by itself,
    /// dropping its oldest session, so this bounds how long expired sessions hold memory, not how many.
    func handshakeCompleted() {
        guard role == .server, settings.sessionCacheSize > 0 else { return }
        let now = Int64(clamping: NIODeadline.now().uptimeNanoseconds)
        let last = lastSessionFlush.load(ordering: .relaxed)
        guard now - last >= sessionFlushNanoseconds,
            lastSessionFlush.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        SSL_CTX_flush_sessions(context, time(nil))
    }

    /// Server role: the sessions in OpenSSL's cache, expired or not.
    var cachedSessionCount: Int { SSL_CTX_ctrl(context, SSL_CTRL_SESS_NUMBER, 0, nil) }

    /// Client role: the most sessions kept per peer. A TLS 1.3 ticket serves one connection and each
    /// connection brings one back, so the pool settles at the most connections opened to the peer at once;
    /// up to this many of them resume. A kept session is about 5 KB, so 640 KB per server at the very most.
    /// (16 made 84 of every 100 connections of a 100-agent reconnect storm through one forward proxy do
    /// full handshakes: 615-640 µs of CPU per connection on the forward side instead of 540-560.)
    static let sessionsPerPeer = 128

    /// Client role: a session for `peer` to offer, with one reference owned by the caller.
    ///
    /// A TLS 1.3 ticket is taken out of the pool: it is offered once, as RFC 8446 (C.4) asks and as a
    /// server with stateful tickets (sidecar's reverse side) requires; the server sends a fresh one after
    /// each handshake. A TLS 1.2 session stays in the pool for the next connections.
    func takeSession(for peer: String) -> OpaquePointer? {
        guard reusesSessions else { return nil }
        var expired: [OpaquePointer] = []
        let taken = sessions.withLock { cache -> SessionReference? in
            while let session = cache[peer]?.popLast()?.pointer {
                // OpenSSL marks sessions that may not be resumed (from a failed or unclean connection); the
                // lifetime the server gave is ours to check.
                let expires = SSL_SESSION_get_time(session) + SSL_SESSION_get_timeout(session)
                guard SSL_SESSION_is_resumable(session) == 1, expires > time(nil) else {
                    expired.append(session)
                    continue
                }
                if SSL_SESSION_get_protocol_version(session) < TLS1_3_VERSION {
                    SSL_SESSION_up_ref(session)
                    cache[peer]!.append(SessionReference(pointer: session))
                }
                return SessionReference(pointer: session)
            }
            return nil
        }
        for session in expired { SSL_SESSION_free(session) }
        return taken?.pointer
    }

    /// Client role: whether sessions are kept and offered at all (`no-tls-tickets`, `no-ssl-reuse`).
    private var reusesSessions: Bool { settings.sessionTickets && settings.sessionReuse }

    /// Client role: how many sessions from `peer` the pool holds.
    func sessionCount(for peer: String) -> Int {
        sessions.withLock { $0[peer]?.count ?? 0 }
    }

    /// Client role: adds `session` (whose reference the cache takes over) to the ones to offer `peer`,
    /// pushing out the oldest beyond `sessionsPerPeer`.
    func storeSession(_ session: OpaquePointer, for peer: String) {
        guard reusesSessions else {
            SSL_SESSION_free(session)
            return
        }
        let old = sessions.withLock { cache -> SessionReference? in
            cache[peer, default: []].append(SessionReference(pointer: session))
            return cache[peer]!.count > Self.sessionsPerPeer ? cache[peer]!.removeFirst() : nil
        }
        if let old { SSL_SESSION_free(old.pointer) }
    }

    // MARK: ALPN

    private func configureALPN() {
        guard !alpnWire.isEmpty else { return }
        switch role {
        case .client:
            _ = alpnWire.withUnsafeBufferPointer { SSL_CTX_set_alpn_protos(context, $0.baseAddress, UInt32($0.count)) }
        case .server:
            // The callback reads `alpnWire` through an unretained pointer to self: the SSL_CTX, and so the
            // callback, never outlives this object.
            SSL_CTX_set_alpn_select_cb(context, tlsALPNSelectCallback, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    fileprivate func selectALPN(
        _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
        _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32
    ) -> Int32 {
        alpnWire.withUnsafeBufferPointer { ours in
            var selected: UnsafeMutablePointer<UInt8>?
            let result = SSL_select_next_proto(
                &selected, outLength, ours.baseAddress, UInt32(ours.count), offered, offeredLength)
            guard result == OPENSSL_NPN_NEGOTIATED, let selected else { return SSL_TLSEXT_ERR_ALERT_FATAL }
            // `selected` points into `offered`, which OpenSSL keeps alive for the handshake.
            out?.pointee = UnsafePointer(selected)
            return SSL_TLSEXT_ERR_OK
        }
    }
}

/// An `SSL_SESSION*` moved between threads under the cache's lock; OpenSSL sessions are reference-counted
/// and safe to share once complete.
struct SessionReference: @unchecked Sendable {
    let pointer: OpaquePointer
}

extension TLSVersion {
    var openSSLValue: Int32 {
        switch self {
        case .sslv3: return SSL3_VERSION
        case .tls10: return TLS1_VERSION
        case .tls11: return TLS1_1_VERSION
        case .tls12: return TLS1_2_VERSION
        case .tls13: return TLS1_3_VERSION
        }
    }
}

private let tlsALPNSelectCallback:
    @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> Int32 = { _, out, outLength, offered, offeredLength, argument in
        guard let argument else { return SSL_TLSEXT_ERR_ALERT_FATAL }
        let context = Unmanaged<TLSContext>.fromOpaque(argument).takeUnretainedValue()
        return context.selectALPN(out, outLength, offered, offeredLength)
    }

/// Records the first verification failure (and the certificate it was about) on the connection, then lets
/// OpenSSL's verdict stand: this callback never turns a failure into success.
private let tlsVerifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverifyOK, storeContext in
    guard preverifyOK == 0, let storeContext else { return preverifyOK }
    guard let rawSSL = X509_STORE_CTX_get_ex_data(storeContext, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let connection = TLSConnection.from(ssl: OpaquePointer(rawSSL))
    else { return preverifyOK }
    // The peer's own certificate (the leaf) is what the operator needs to identify who was refused,
    // even when the failure was found higher up the chain.
    connection.recordVerifyFailure(
        code: X509_STORE_CTX_get_error(storeContext),
        depth: X509_STORE_CTX_get_error_depth(storeContext),
        certificate: X509_STORE_CTX_get0_cert(storeContext) ?? X509_STORE_CTX_get_current_cert(storeContext))
    return preverifyOK
}

/// Client role: OpenSSL hands us a new session (a TLS 1.3 ticket, or a TLS 1.2 session) with one reference
/// that becomes ours when we return 1.
private let tlsNewSessionCallback: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
    guard let ssl, let session, let connection = TLSConnection.from(ssl: ssl), let peer = connection.sessionKey else {
        return 0
    }
    connection.context.storeSession(session, for: peer)
    return 1
}
