/// One access-control test: HAProxy's `acl NAME <fetch> [flags] PATTERN...`, or an anonymous `{ ... }` ACL
/// inside a condition. It is true when the fetched value matches any of its patterns.
///
/// Everything is prepared at load: pattern files are read, regular expressions compiled, addresses parsed,
/// and with `-i` string patterns are lower-cased, so evaluating an ACL per handshake reads no file and
/// compiles nothing.
public struct ACL: Sendable, Hashable {
    /// The name of an `acl` line; nil for an anonymous ACL.
    public var name: String?
    public var fetch: ACLFetch
    public var patterns: Patterns
    /// `-f FILE` arguments as given (resolved paths), for messages and `show acl`-like tooling.
    public var patternFiles: [String]
    public var location: SourceLocation

    public init(
        name: String? = nil, fetch: ACLFetch, patterns: Patterns, patternFiles: [String] = [],
        location: SourceLocation
    ) {
        self.name = name
        self.fetch = fetch
        self.patterns = patterns
        self.patternFiles = patternFiles
        self.location = location
    }

    /// The patterns, already in the form the fetch's values are compared with.
    public enum Patterns: Sendable, Hashable {
        /// A boolean fetch with no pattern: true when the fetch is.
        case boolean
        /// `ssl_c_verify`: values and ranges (`0`, `10:23`, `ge 1` as `1...max`).
        case integers([ClosedRange<Int64>])
        /// `src`: addresses and CIDR blocks.
        case addresses([IPPattern])
        /// String fetches with `-m str|beg|end|sub`. With `ignoreCase`, the patterns are lower-cased already.
        case strings([String], method: StringMethod, ignoreCase: Bool)
        /// String fetches with `-m reg`.
        case regexes([ACLRegex])
    }

    /// HAProxy's `-m` matching methods for strings (`-m reg` is `Patterns.regexes`).
    public enum StringMethod: String, Sendable, Hashable, CaseIterable {
        /// Exact match: the default.
        case str
        /// The value starts with the pattern.
        case beg
        /// The value ends with the pattern.
        case end
        /// The pattern occurs anywhere in the value.
        case sub
    }

    /// The number of patterns, for messages (a boolean counts as none).
    public var patternCount: Int {
        switch patterns {
        case .boolean: return 0
        case .integers(let ranges): return ranges.count
        case .addresses(let addresses): return addresses.count
        case .strings(let strings, _, _): return strings.count
        case .regexes(let regexes): return regexes.count
        }
    }
}
