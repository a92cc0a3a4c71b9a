/// TLS parameters of one `bind ... ssl` (server role) or `server ... ssl` (client role) line.
///
/// The model holds file paths, not loaded material: `SidecarTLS` turns one value into one `SSL_CTX`
/// at load and at reload, so renewed files take effect on SIGHUP. Two equal values may share a context.
public struct TLSSettings: Sendable, Hashable {
    /// Peer verification, HAProxy's `verify none|optional|required`.
    public enum Verify: String, Sendable, Hashable {
        case none, optional, required
    }

    /// `crt`: PEM files holding the certificate, its chain and (unless `keyFile` is set, or a
    /// `<crt>.key` sibling exists) the private key. HAProxy allows several; the first is the default.
    public var certificateFiles: [String]
    /// A private key file given apart from the certificate (the CLI's `--key`).
    public var keyFile: String?
    /// `ca-file`: PEM bundle of the CAs a peer certificate must chain to.
    public var caFile: String?
    /// `crl-file`: PEM CRLs; when set, every CA in the chain must have a current CRL.
    public var crlFile: String?
    /// `verify`: the initializer defaults to `required`. From a configuration file, a `server ... ssl` line
    /// without `verify` gets `ssl-server-verify` (HAProxy's default, `required`), and a `bind ... ssl` line
    /// without `verify` gets HAProxy's bind default, `none`: `Configuration.validate(for: .reverse)` refuses
    /// that bind, since a reverse sidecar without client verification would be an open relay.
    public var verify: Verify
    /// `ssl-min-ver`; nil means TLS 1.2.
    public var minVersion: TLSVersion?
    /// `ssl-max-ver`; nil means the newest OpenSSL offers.
    public var maxVersion: TLSVersion?
    /// `ciphers` (TLS 1.2 and lower), OpenSSL syntax; nil leaves the system policy in charge.
    public var ciphers: String?
    /// `ciphersuites` (TLS 1.3), OpenSSL syntax.
    public var ciphersuites: String?
    /// `curves`, e.g. `X25519:P-256`.
    public var curves: String?
    /// `alpn`, protocol names in preference order.
    public var alpn: [String]
    /// `no-tls-tickets` clears this.
    public var sessionTickets: Bool
    /// Listening side: resumable sessions kept in memory (global `tune.ssl.cachesize`; 0 turns resumption off).
    public var sessionCacheSize: Int = 20000
    /// Listening side: how long a session may be resumed (global `tune.ssl.lifetime`).
    public var sessionLifetime: Duration = .seconds(300)
    /// `no-ssl-reuse` on a server line clears this: every connection to the server makes a full handshake.
    public var sessionReuse: Bool
    /// `sni str(NAME)` on a server line: the name sent in the ClientHello.
    public var serverName: String?
    /// `verifyhost NAME`: the name the server certificate must carry (SAN DNS/IP, then CN).
    public var verifyHost: String?
    /// `no-verifyhost`: check the chain only, even when `sni` is set.
    public var noVerifyHost: Bool
    /// `allow-cn`, `allow-dns`, `allow-uri`, `allow-ip` (sidecar extensions): which verified peer certificates
    /// may use the tunnel. Checked after the handshake, not by OpenSSL.
    public var allowedPeers: PeerAllowList

    public init(
        certificateFiles: [String] = [],
        keyFile: String? = nil,
        caFile: String? = nil,
        crlFile: String? = nil,
        verify: Verify = .required,
        minVersion: TLSVersion? = nil,
        maxVersion: TLSVersion? = nil,
        ciphers: String? = nil,
        ciphersuites: String? = nil,
        curves: String? = nil,
        alpn: [String] = [],
        sessionTickets: Bool = true,
        sessionReuse: Bool = true,
        serverName: String? = nil,
        verifyHost: String? = nil,
        noVerifyHost: Bool = false,
        allowedPeers: PeerAllowList = PeerAllowList()
    ) {
        self.certificateFiles = certificateFiles
        self.keyFile = keyFile
        self.caFile = caFile
        self.crlFile = crlFile
        self.verify = verify
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.ciphers = ciphers
        self.ciphersuites = ciphersuites
        self.curves = curves
        self.alpn = alpn
        self.sessionTickets = sessionTickets
        self.sessionReuse = sessionReuse
        self.serverName = serverName
        self.verifyHost = verifyHost
        self.noVerifyHost = noVerifyHost
        self.allowedPeers = allowedPeers
    }

    /// The name a client checks the server certificate against, HAProxy's rule:
    /// `verifyhost` if set, else the SNI sent, else nothing (chain only), and nothing with `no-verifyhost`.
    public var expectedPeerName: String? {
        if noVerifyHost { return nil }
        return verifyHost ?? serverName
    }
}

/// A TLS protocol version as HAProxy spells it in `ssl-min-ver`/`ssl-max-ver`.
public enum TLSVersion: String, Sendable, Hashable, CaseIterable, Comparable {
    case sslv3 = "SSLv3"
    case tls10 = "TLSv1.0"
    case tls11 = "TLSv1.1"
    case tls12 = "TLSv1.2"
    case tls13 = "TLSv1.3"

    private var order: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: TLSVersion, rhs: TLSVersion) -> Bool { lhs.order < rhs.order }
}
