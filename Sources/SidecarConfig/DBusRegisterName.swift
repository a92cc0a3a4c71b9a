/// `dbus-register-name cn|dns|uri|map FILE`: which names a client certificate may register under.
public struct DBusRegisterName: Sendable, Hashable, CustomStringConvertible {
    public enum Rule: Sendable, Hashable {
        /// A common name of the certificate's subject.
        case cn
        /// One of the certificate's DNS subject alternative names.
        case dns
        /// The last path segment of one of the certificate's URI SANs (`spiffe://example.org/bluechi/node1`
        /// allows `node1`).
        case uri
        /// The names the map file lists for one of the certificate's common names, as read at load or reload.
        case map(file: String, names: DBusNameMap)
    }

    public var rule: Rule
    /// The `dbus-register-name` line (or the command-line flag).
    public var location: SourceLocation

    public init(rule: Rule, location: SourceLocation) {
        self.rule = rule
        self.location = location
    }

    /// The rule as written: `cn`, `dns`, `uri` or `map FILE`; the log's `rule=`.
    public var description: String {
        switch rule {
        case .cn: return "cn"
        case .dns: return "dns"
        case .uri: return "uri"
        case .map(let file, _): return "map \(file)"
        }
    }

    /// The names a certificate with these identities may register under.
    ///
    /// - Parameters:
    ///   - commonNames: the subject's CNs (UTF-8 values).
    ///   - dnsNames: the DNS SANs.
    ///   - uris: the URI SANs.
    public func allows(
        _ name: String, commonNames: [String], dnsNames: [String], uris: [String]
    ) -> Bool {
        switch rule {
        case .cn:
            return commonNames.contains(name)
        case .dns:
            // DNS names compare without regard to case; the registered name is compared as the SAN is written.
            return dnsNames.contains { $0.lowercased() == name.lowercased() }
        case .uri:
            return uris.contains { Self.lastPathSegment(of: $0) == name }
        case .map(_, let names):
            return commonNames.contains { names.names(for: $0).contains(name) }
        }
    }

    /// `spiffe://example.org/bluechi/node1` → `node1`; nil for a URI without a non-empty last segment.
    public static func lastPathSegment(of uri: String) -> String? {
        guard let scheme = uri.firstRange(of: "://") else { return nil }
        let afterAuthority = uri[scheme.upperBound...]
        guard let slash = afterAuthority.firstIndex(of: "/") else { return nil }
        var path = afterAuthority[slash...]
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<end] }
        guard let last = path.split(separator: "/", omittingEmptySubsequences: false).last, !last.isEmpty else {
            return nil
        }
        return String(last)
    }
}
