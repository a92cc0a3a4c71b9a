import SidecarConfig

/// What is known about a peer once its TLS handshake succeeded, and the pure functions that decide access
/// from it: HAProxy's ACL fetches (`ssl_c_*`, `ssl_fc_*`, `src`) and sidecar's `allow-*` lists.
///
/// No I/O and no OpenSSL here: everything was copied out of the connection into `PeerCertificate` first,
/// so the evaluation runs on any thread and is tested without sockets. Patterns were prepared at load
/// (see `ACL`), so an evaluation compiles and reads nothing.
public struct PeerIdentity: Sendable {
    /// The peer's verified leaf certificate; nil when it presented none.
    public var certificate: PeerCertificate?
    /// The TLS session was resumed: the certificate comes from the session, not from this handshake.
    public var sessionReused: Bool
    /// The SNI the client sent (server role).
    public var serverName: String?
    /// The peer's IP address, 4 or 16 bytes; nil for a Unix-socket peer.
    public var sourceAddress: [UInt8]?

    public init(
        certificate: PeerCertificate?, sessionReused: Bool = false, serverName: String? = nil,
        sourceAddress: [UInt8]? = nil
    ) {
        self.certificate = certificate
        self.sessionReused = sessionReused
        self.serverName = serverName
        self.sourceAddress = sourceAddress
    }

    // MARK: rules

    /// Runs `tcp-request connection` rules, then `tcp-request session` rules, HAProxy's way: in each list the
    /// first rule whose condition holds decides; a connection-phase `accept` only ends the connection phase.
    ///
    /// - Returns: the `reject` rule that refused the peer, or nil when it is accepted.
    public func rejectingRule(connection: [AccessRule], session: [AccessRule]) -> AccessRule? {
        for rules in [connection, session] {
            if let rule = rules.first(where: { $0.condition.map(holds) ?? true }) {
                if rule.action == .reject { return rule }
            }
        }
        return nil
    }

    /// Whether `condition` holds (after `unless` is applied).
    public func holds(_ condition: Condition) -> Bool {
        let any = condition.alternatives.contains { terms in
            terms.allSatisfy { term in term.acls.contains(where: matches) != term.negated }
        }
        return condition.polarity == .if ? any : !any
    }

    /// Whether the fetched value matches one of the ACL's patterns. A fetch with no value (no certificate,
    /// no SNI, a Unix-socket peer for `src`) matches nothing, as in HAProxy.
    public func matches(_ acl: ACL) -> Bool {
        switch acl.patterns {
        case .boolean:
            switch acl.fetch {
            case .certificateUsed: return certificate != nil
            case .certificateInHandshake: return certificate != nil && !sessionReused
            default: return false
            }
        case .integers(let ranges):
            guard acl.fetch == .verifyResult else { return false }
            // A failed verification aborts the handshake, so a handshake that completed verified (0, X509_V_OK).
            return ranges.contains { $0.contains(0) }
        case .addresses(let blocks):
            guard let sourceAddress else { return false }
            return blocks.contains { $0.contains(sourceAddress) }
        case .strings(let patterns, let method, let ignoreCase):
            guard let value = stringValue(of: acl.fetch) else { return false }
            let subject = ignoreCase ? value.lowercased() : value
            return patterns.contains { pattern in
                switch method {
                case .str: return subject == pattern
                case .beg: return subject.hasPrefix(pattern)
                case .end: return subject.hasSuffix(pattern)
                case .sub: return subject.contains(pattern)
                }
            }
        case .regexes(let regexes):
            guard let value = stringValue(of: acl.fetch) else { return false }
            return regexes.contains { $0.matches(value) }
        }
    }

    /// The value of a string fetch, as HAProxy returns it, or nil when there is none.
    public func stringValue(of fetch: ACLFetch) -> String? {
        switch fetch {
        case .serverName:
            return serverName
        case .subjectDN(let entry):
            guard let certificate else { return nil }
            guard let entry else { return certificate.subject }
            return Self.entry(entry, in: certificate.subjectEntries)
        case .issuerDN(let entry):
            guard let certificate else { return nil }
            guard let entry else { return certificate.issuer }
            return Self.entry(entry, in: certificate.issuerEntries)
        case .serial:
            return certificate?.serialHex
        case .sha1:
            return certificate?.sha1Hex
        case .certificateUsed, .certificateInHandshake, .verifyResult, .source:
            return nil
        }
    }

    private static func occurrence(_ occurrence: Int, in values: [String]) -> String? {
        let index = occurrence > 0 ? occurrence - 1 : values.count + occurrence
        return values.indices.contains(index) ? values[index] : nil
    }

    /// The value of one attribute, read from the certificate's name entries (as HAProxy's
    /// `ssl_sock_get_dn_entry`): a `/` inside a value is part of that value, never a new entry.
    static func entry(_ entry: ACLFetch.DNEntry, in entries: [PeerCertificate.NameEntry]) -> String? {
        let values = entries.filter { $0.shortName.uppercased() == entry.name }.map(\.value)
        return occurrence(entry.occurrence, in: values)
    }

    // MARK: allow-* lists

    /// Whether the certificate matches any entry of `list` (an empty list allows everyone; no certificate
    /// never matches a non-empty list).
    public func isAllowed(by list: PeerAllowList) -> Bool {
        if list.isEmpty { return true }
        guard let certificate else { return false }
        if certificate.commonNames.contains(where: list.commonNames.contains) { return true }
        for name in certificate.dnsNames where list.dnsNames.contains(where: { Self.dnsName(name, matches: $0) }) {
            return true
        }
        for uri in certificate.uris where list.uris.contains(where: { Self.uri(uri, matches: $0) }) {
            return true
        }
        for address in certificate.ipAddresses {
            guard let bytes = IPPattern.bytes(of: address) else { continue }
            if list.ipAddresses.contains(where: { $0.contains(bytes) }) { return true }
        }
        return false
    }

    /// `pattern` is lower-case; a leading `*.` stands for exactly one label. A wildcard in the certificate
    /// itself only matches the identical pattern.
    static func dnsName(_ name: String, matches pattern: String) -> Bool {
        let name = name.lowercased()
        guard pattern.hasPrefix("*.") else { return name == pattern }
        let suffix = pattern.dropFirst(1)
        guard name.hasSuffix(suffix) else { return false }
        let label = name.dropLast(suffix.count)
        return !label.isEmpty && !label.contains(".") && (label != "*" || name == pattern)
    }

    /// SPIFFE-style matching: equal, except that a pattern path segment `*` matches exactly one non-empty
    /// segment (`spiffe://example.org/node/*` matches `spiffe://example.org/node/n1`, not `.../node/a/b`).
    static func uri(_ uri: String, matches pattern: String) -> Bool {
        guard pattern.contains("*") else { return uri == pattern }
        let wanted = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let actual = uri.split(separator: "/", omittingEmptySubsequences: false)
        guard wanted.count == actual.count else { return false }
        return zip(wanted, actual).allSatisfy { want, have in
            want == "*" ? !have.isEmpty : want == have
        }
    }
}
