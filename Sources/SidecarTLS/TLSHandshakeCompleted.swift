/// The user inbound event a `TLSHandler` fires once the handshake succeeded, before any application data.
public struct TLSHandshakeCompleted: Sendable {
    /// The peer's certificate; nil only when verification is off and the peer sent none.
    public var peer: PeerCertificateHandle?
    /// e.g. `TLSv1.3`.
    public var protocolVersion: String
    /// e.g. `TLS_AES_256_GCM_SHA384`.
    public var cipher: String
    /// The session was resumed (no full handshake, no certificate re-verification).
    public var sessionReused: Bool
    public var alpn: String?
    /// Server role: the SNI the client sent (`ssl_fc_sni`), if any.
    public var serverName: String?
    /// From the channel becoming active to the handshake's end (the handshake-duration metric).
    public var duration: Duration = .zero

    /// Everything about the peer's certificate (read on first use; see `PeerCertificateHandle`).
    public var peerCertificate: PeerCertificate? { peer?.details }
    /// The peer certificate's subject, always at hand.
    public var peerSubject: String? { peer?.subject }
}
