import NIOCore
import SidecarConfig
import SidecarTLS

/// Who may use a tunnel, beyond what OpenSSL's chain verification decided: the hooks `ProxyConnection`
/// calls once a handshake succeeded, before anything is relayed.
///
/// A non-nil result is the refusal reason, worded for the log (e.g. `CN 'node7' not allowed on frontend
/// 'bluechi'`); the connection is closed and, on a listener, no backend connection is ever opened. The log
/// line adds the peer address, and the certificate's subject, issuer and serial.
///
/// Order on a listener, as in HAProxy: `tcp-request connection` rules at accept, before the TLS handshake
/// (they can only use `src`: the parser refuses certificate fetches there), so a refused client receives no
/// byte of TLS, not even the certificate; after the handshake the bind line's `allow-*` lists, then
/// `tcp-request session` rules. With none of them configured this costs one check and allocates nothing.
extension FrontendPlan {
    /// Runs the `tcp-request connection` rules for a connection just accepted from `peer`.
    func admit(connectionFrom peer: SocketAddress?) -> String? {
        let connectionRules = frontend.connectionRules
        if connectionRules.isEmpty { return nil }
        let identity = PeerIdentity(certificate: nil, sourceAddress: peer.flatMap(Self.addressBytes))
        guard let rule = identity.rejectingRule(connection: connectionRules, session: []) else { return nil }
        let source = peer.map { $0.ipAddress ?? "\($0)" } ?? "unix"
        return "source \(source) not allowed on frontend '\(frontend.name)' "
            + "(tcp-request connection reject at \(rule.location))"
    }

    /// Decides whether the client that completed `handshake` on `bind` may reach the backend (its
    /// `tcp-request connection` rules already ran at accept).
    func admit(client handshake: TLSHandshakeCompleted, on bind: BindPlan, from peer: SocketAddress?) -> String? {
        let allowList = bind.tls?.settings.allowedPeers ?? PeerAllowList()
        let sessionRules = frontend.sessionRules
        if allowList.isEmpty && sessionRules.isEmpty { return nil }
        let identity = PeerIdentity(
            certificate: handshake.peerCertificate, sessionReused: handshake.sessionReused,
            serverName: handshake.serverName, sourceAddress: peer.flatMap(Self.addressBytes))
        if !identity.isAllowed(by: allowList) {
            return Self.refusal(identity, on: "frontend '\(frontend.name)'", because: allowList.summary)
        }
        guard let rule = identity.rejectingRule(connection: [], session: sessionRules) else { return nil }
        let usesOnlySource = rule.condition.map { $0.allACLs.allSatisfy { $0.fetch == .source } } ?? false
        let why = "tcp-request session reject at \(rule.location)"
        if usesOnlySource, let peer {
            return "source \(peer.ipAddress ?? "\(peer)") not allowed on frontend '\(frontend.name)' (\(why))"
        }
        return Self.refusal(identity, on: "frontend '\(frontend.name)'", because: why)
    }

    /// The 4 or 16 address bytes of an IP peer; nil for a Unix-socket peer.
    /// An IPv4-mapped IPv6 peer stays 16 bytes (`IPPattern` matches it against IPv4 patterns).
    static func addressBytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4: return address.ipAddress.flatMap { IPAddressText.ipv4Bytes($0) }
        case .v6: return address.ipAddress.flatMap { IPAddressText.ipv6Bytes($0) }
        case .unixDomainSocket: return nil
        }
    }

    /// `CN 'node7' not allowed on frontend 'bluechi' (allow-cn node1,node2)`, or `no certificate presented`.
    static func refusal(_ identity: PeerIdentity, on place: String, because why: String) -> String {
        guard let certificate = identity.certificate else {
            return "no certificate presented (\(place) requires one: \(why))"
        }
        // The CN is the peer's choice: made printable, it cannot break the log line or the status table.
        let who =
            certificate.commonNames.first.map { "CN '\(PeerCertificate.printable($0))'" }
            ?? "subject '\(certificate.subject)'"
        return "\(who) not allowed on \(place) (\(why))"
    }
}

extension ServerPlan {
    /// Decides whether the server that completed `handshake` is one this tunnel may talk to: the server
    /// line's `allow-*` lists (chain and name were already checked by OpenSSL).
    func admit(server handshake: TLSHandshakeCompleted) -> String? {
        guard let allowList = tls?.settings.allowedPeers, !allowList.isEmpty else { return nil }
        let identity = PeerIdentity(certificate: handshake.peerCertificate, sessionReused: handshake.sessionReused)
        if identity.isAllowed(by: allowList) { return nil }
        return FrontendPlan.refusal(identity, on: "server '\(server.name)'", because: allowList.summary)
    }
}
