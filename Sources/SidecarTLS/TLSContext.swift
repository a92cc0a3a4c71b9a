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
    /// `alpn` in wire format (length-prefixed names); empty when there is none.
    ///
    /// Owned by this object: allocated once in `init`, freed in `deinit`, never written after `init`. On the
    /// server role, the pointer that `SSL_select_next_proto` returns points into this storage (into the
    /// list passed as its `server` argument, ours) and OpenSSL copies the selected name only after the
    /// callback returns, so the storage must outlive every handshake on this context: it does, because
    /// each connection holds a strong reference to its `TLSContext` and the `SSL_CTX` (whose callback
    /// argument is this object) is freed in the same `deinit`.
    private let alpnWire: UnsafeMutableBufferPointer<UInt8>
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
        let wire = settings.alpn.flatMap { name -> [UInt8] in
            let bytes = Array(name.utf8)
            return [UInt8(truncatingIfNeeded: bytes.count)] + bytes
        }
        // Freed in `deinit`, or here if the context cannot be created (deinit does not run then).
        self.alpnWire = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: wire.count)
        _ = self.alpnWire.initialize(from: wire)
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            alpnWire.deallocate()
            throw TLSContextError("TLS", "cannot create an OpenSSL context", openSSLErrors: OpenSSLErrorQueue.drain())
        }
        self.context = context
        // From here on `deinit` frees the context if a later step throws.
        try configure()
    }

    deinit {
        for session in sessions.withLock({ $0.values.joined() }) { SSL_SESSION_free(session.pointer) }
        SSL_CTX_free(context)
        alpnWire.deallocate()
    }

    private func configure() throws {
        COpenSSLShims_SSL_CTX_set_sidecar_defaults(context)
        // Never a passphrase prompt: without a callback OpenSSL asks on /dev/tty for an encrypted key, and
        // start, reload or `sidecar check` would hang on a terminal (or wait for nobody under systemd).
        SSL_CTX_set_default_passwd_cb(context, tlsRefusePassphraseCallback)
        // Idle D-Bus connections are the common case: give the read/write buffers back while idle.
        // No automatic chain: send the `crt` file's certificates as they are, as HAProxy does. OpenSSL would
        // otherwise complete the chain from the CA store and send the root too, which the peer already has
        // and must decode anyway: OpenSSL 3 spends about a quarter of a full handshake's CPU decoding
        // certificates (their public keys, through the provider decoders).
        _ = COpenSSLShims_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN))
        // Read-ahead: OpenSSL takes all the ciphertext queued in one BIO read instead of a record's 5-byte header
        // and then its body, one BIO read per record instead of two (README, Performance). It keeps what it
        // read ahead; `TLSConnection.mayReadMore` asks `SSL_has_pending`, which counts those bytes too.
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_READ_AHEAD, 1, nil)

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
        } else if Self.fileContainsPrivateKey(certificateFile) || Self.isEncryptedPrivateKey(certificateFile) {
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
        if Self.isEncryptedPrivateKey(keyFile) {
            throw TLSContextError(
                "private key \(keyFile)",
                "is encrypted with a passphrase, and sidecar runs unattended and never asks for one: decrypt it "
                    + "(openssl pkey -in \(keyFile) -out NEW.key), keep NEW.key mode 0600, and use that file")
        }
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
        // The refusing callback: an encrypted key here must not make OpenSSL prompt on the terminal.
        let key = PEM_read_bio_PrivateKey(bio, nil, tlsRefusePassphraseCallback, nil)
        _ = OpenSSLErrorQueue.drain()
        guard let key else { return false }
        EVP_PKEY_free(key)
        return true
    }

    /// Whether `path` holds a passphrase-protected PEM private key: PKCS#8 `ENCRYPTED PRIVATE KEY`, or a
    /// traditional key with `Proc-Type: 4,ENCRYPTED`.
    static func isEncryptedPrivateKey(_ path: String) -> Bool {
        guard let bio = BIO_new_file(path, "r") else {
            _ = OpenSSLErrorQueue.drain()
            return false
        }
        // The BIO is ours until BIO_free; every block PEM_read_bio returns is ours and freed in the loop.
        defer { BIO_free(bio) }
        var encrypted = false
        while !encrypted {
            var name: UnsafeMutablePointer<CChar>?
            var header: UnsafeMutablePointer<CChar>?
            var data: UnsafeMutablePointer<UInt8>?
            var length = 0
            guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else { break }
            let kind = name.map { String(cString: $0) } ?? ""
            let headers = header.map { String(cString: $0) } ?? ""
            encrypted =
                kind == "ENCRYPTED PRIVATE KEY" || (kind.hasSuffix("PRIVATE KEY") && headers.contains("ENCRYPTED"))
            COpenSSLShims_OPENSSL_free(name)
            COpenSSLShims_OPENSSL_free(header)
            COpenSSLShims_OPENSSL_free(data)
        }
        _ = OpenSSLErrorQueue.drain()
        return encrypted
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
            try loadRevocationLists(crlFile)
        }
        var mode: Int32
        switch (settings.verify, role) {
        case (.none, _): mode = SSL_VERIFY_NONE
        case (.optional, _): mode = SSL_VERIFY_PEER
        case (.required, .server): mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        case (.required, .client): mode = SSL_VERIFY_PEER
        }
        SSL_CTX_set_verify(context, mode, tlsVerifyCallback)
        // The peer's leaf must be made for its role: a client certificate (extendedKeyUsage clientAuth) on a
        // listener, a server certificate (serverAuth) toward a server. OpenSSL's TLS defaults check the same,
        // but only as an inherited default; stated here, no verify parameter can drop it. A certificate
        // without extendedKeyUsage is good for any purpose (RFC 5280), as in OpenSSL and HAProxy.
        _ = SSL_CTX_set_purpose(context, role == .server ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER)
    }

    /// Adds the CRLs of `crlFile`, and nothing else, to the context's store, and turns CRL checks on for every
    /// CA of a chain (`CRL_CHECK_ALL`, as HAProxy).
    ///
    /// Not `X509_STORE_load_file`: it adds the certificates of the file too, and a certificate in the store is a
    /// trust anchor, so a CA certificate slipped into `crl-file` would let that CA's clients in. Here a
    /// certificate, or any PEM block other than a CRL, is an error, and so is a CRL whose issuer is not a CA of
    /// `ca-file` (by name and signature): it could revoke nothing we trust, so it is a mistake.
    private func loadRevocationLists(_ crlFile: String) throws {
        try Self.requireReadable(crlFile, what: "CRL file")
        let store = SSL_CTX_get_cert_store(context)
        let authorities = trustedAuthorities(in: store)
        guard let bio = BIO_new_file(crlFile, "r") else {
            throw TLSContextError("CRL file \(crlFile)", "cannot be read", openSSLErrors: OpenSSLErrorQueue.drain())
        }
        // The BIO is ours until BIO_free.
        defer { BIO_free(bio) }
        var count = 0
        while true {
            // PEM_read_bio allocates the name, header and data of the next block; all three are ours.
            var name: UnsafeMutablePointer<CChar>?
            var header: UnsafeMutablePointer<CChar>?
            var data: UnsafeMutablePointer<UInt8>?
            var length = 0
            guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else {
                let errors = OpenSSLErrorQueue.drain()
                // "no start line" after at least one block is the normal end of the file.
                if count > 0 && errors.allSatisfy({ $0.hasSuffix("no start line") }) { break }
                throw TLSContextError(
                    "CRL file \(crlFile)", count == 0 ? "holds no PEM CRL" : "is not valid PEM after CRL \(count)",
                    openSSLErrors: errors)
            }
            defer {
                COpenSSLShims_OPENSSL_free(name)
                COpenSSLShims_OPENSSL_free(header)
                COpenSSLShims_OPENSSL_free(data)
            }
            let kind = name.map { String(cString: $0) } ?? ""
            guard kind == "X509 CRL" else {
                let what = kind.hasSuffix("CERTIFICATE") ? "a certificate" : "a '\(kind)' block"
                throw TLSContextError(
                    "CRL file \(crlFile)",
                    "holds \(what) (PEM block \(count + 1)); crl-file takes CRLs only: put CA certificates in "
                        + "ca-file")
            }
            // d2i_X509_CRL returns a CRL we own (freed below); X509_STORE_add_crl takes its own reference.
            var cursor = UnsafePointer(data)
            guard let crl = d2i_X509_CRL(nil, &cursor, length) else {
                throw TLSContextError(
                    "CRL file \(crlFile)", "CRL \(count + 1) cannot be decoded",
                    openSSLErrors: OpenSSLErrorQueue.drain())
            }
            defer { X509_CRL_free(crl) }
            let issuer = PeerCertificate.distinguishedName(X509_CRL_get_issuer(crl))
            guard
                authorities.contains(where: { authority in
                    X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(authority)) == 0
                        && X509_get0_pubkey(authority).map { X509_CRL_verify(crl, $0) == 1 } == true
                })
            else {
                _ = OpenSSLErrorQueue.drain()
                throw TLSContextError(
                    "CRL file \(crlFile)",
                    "holds a CRL issued by '\(issuer)', which is not a CA of ca-file (or its signature does not "
                        + "verify with that CA's key)")
            }
            guard X509_STORE_add_crl(store, crl) == 1 else {
                throw TLSContextError(
                    "CRL file \(crlFile)", "cannot use the CRL issued by '\(issuer)'",
                    openSSLErrors: OpenSSLErrorQueue.drain())
            }
            count += 1
        }
        X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL))
    }

    /// The CA certificates loaded into `store` from `ca-file` (borrowed from the store, valid while it lives).
    private func trustedAuthorities(in store: OpaquePointer?) -> [OpaquePointer] {
        // X509_STORE_get0_objects returns the store's own stack; nothing here is ours to free.
        guard let store, let objects = X509_STORE_get0_objects(store) else { return [] }
        return (0..<COpenSSLShims_sk_X509_OBJECT_num(objects)).compactMap { index in
            COpenSSLShims_sk_X509_OBJECT_value(objects, index).flatMap { X509_OBJECT_get0_X509($0) }
        }
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
            // SSL_CTX_set_alpn_protos copies the list.
            _ = SSL_CTX_set_alpn_protos(context, alpnWire.baseAddress, UInt32(alpnWire.count))
        case .server:
            // The callback reaches `alpnWire` through an unretained pointer to self: the SSL_CTX, and so the
            // callback, never outlives this object (see `alpnWire`).
            SSL_CTX_set_alpn_select_cb(context, tlsALPNSelectCallback, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// Server role: picks the first of our `alpn` names the client offered (our order of preference).
    /// A client offering none of them gets a fatal `no_application_protocol` alert.
    fileprivate func selectALPN(
        _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
        _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32
    ) -> Int32 {
        var selected: UnsafeMutablePointer<UInt8>?
        // `alpnWire` goes in as the `server` list: on a match OpenSSL points `selected` at the name inside
        // it (never into `offered`). That storage lives as long as this context (see `alpnWire`), longer
        // than the handshake, and OpenSSL copies the name after we return.
        let result = SSL_select_next_proto(
            &selected, outLength, alpnWire.baseAddress, UInt32(alpnWire.count), offered, offeredLength)
        guard result == OPENSSL_NPN_NEGOTIATED, let selected else { return SSL_TLSEXT_ERR_ALERT_FATAL }
        out?.pointee = UnsafePointer(selected)
        return SSL_TLSEXT_ERR_OK
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

/// OpenSSL's passphrase callback, answering "no passphrase" (-1) at once: sidecar never prompts.
private let tlsRefusePassphraseCallback:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in
        -1
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
