/// The `allow-cn`, `allow-dns`, `allow-uri` and `allow-ip` options of a `bind` or `server` line (sidecar
/// extensions; also `--allow-cn` etc. on the command line): which peer certificates may use the tunnel.
///
/// The entries of all four lists are OR-ed: a certificate is allowed when any entry matches it. An empty
/// list allows every certificate that passed chain verification.
/// - `allow-cn node1,node2`: a subject common name equals one of them (case-sensitive).
/// - `allow-dns node1.example.com,*.nodes.example.com`: a DNS SAN equals one of them, ignoring case; a
///   leading `*.` matches exactly one label.
/// - `allow-uri spiffe://example.org/node/*`: a URI SAN equals one of them; a `*` path segment matches exactly
///   one non-empty segment.
/// - `allow-ip 10.0.0.7,10.1.0.0/16`: an IP SAN is that address or inside that block.
///
/// The HAProxy equivalent of `allow-cn a,b` is `tcp-request session reject unless { ssl_c_s_dn(CN) a b }`;
/// HAProxy 2.6 has no SAN fetch, so `allow-dns`, `allow-uri` and `allow-ip` have no HAProxy form.
public struct PeerAllowList: Sendable, Hashable {
    public var commonNames: [String]
    /// Lower-cased.
    public var dnsNames: [String]
    public var uris: [String]
    public var ipAddresses: [IPPattern]

    public init(
        commonNames: [String] = [], dnsNames: [String] = [], uris: [String] = [], ipAddresses: [IPPattern] = []
    ) {
        self.commonNames = commonNames
        self.dnsNames = dnsNames.map { $0.lowercased() }
        self.uris = uris
        self.ipAddresses = ipAddresses
    }

    /// No entry: nothing beyond chain verification is required.
    public var isEmpty: Bool { commonNames.isEmpty && dnsNames.isEmpty && uris.isEmpty && ipAddresses.isEmpty }

    /// The option names that accept a list, as written on `bind`/`server` lines.
    public static let optionNames = ["allow-cn", "allow-dns", "allow-uri", "allow-ip"]

    /// Adds the comma-separated `list` of `option` (`allow-cn` etc.); repeated options add up.
    ///
    /// - Returns: nil on success, else what is wrong with the list.
    public mutating func add(_ option: String, list: String) -> String? {
        let entries = list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if entries.contains(where: \.isEmpty) {
            return "'\(option)' expects a comma-separated list without empty entries, not '\(list)'"
        }
        switch option {
        case "allow-cn":
            commonNames += entries
        case "allow-dns":
            for entry in entries {
                let rest = entry.hasPrefix("*.") ? entry.dropFirst(2) : Substring(entry)
                if rest.isEmpty || rest.contains("*") {
                    return "'allow-dns \(entry)': only a leading '*.' wildcard is supported"
                }
            }
            dnsNames += entries.map { $0.lowercased() }
        case "allow-uri":
            for entry in entries where !entry.contains(":") {
                return "'allow-uri \(entry)' is not a URI such as spiffe://example.org/node/name"
            }
            uris += entries
        case "allow-ip":
            for entry in entries {
                guard let pattern = IPPattern(entry) else {
                    return "'allow-ip \(entry)' is not an IP address or CIDR block such as 10.0.0.0/8"
                }
                ipAddresses.append(pattern)
            }
        default:
            return "unknown allow-list option '\(option)'"
        }
        return nil
    }

    /// The lists as they would be written, for messages.
    public var summary: String {
        var parts: [String] = []
        if !commonNames.isEmpty { parts.append("allow-cn \(commonNames.joined(separator: ","))") }
        if !dnsNames.isEmpty { parts.append("allow-dns \(dnsNames.joined(separator: ","))") }
        if !uris.isEmpty { parts.append("allow-uri \(uris.joined(separator: ","))") }
        if !ipAddresses.isEmpty { parts.append("allow-ip \(ipAddresses.map(\.description).joined(separator: ","))") }
        return parts.joined(separator: " ")
    }
}
