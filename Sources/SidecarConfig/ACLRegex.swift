import Synchronization

/// A `-m reg` pattern, compiled once, at load. The syntax is Swift's `Regex`: a superset of POSIX extended
/// regular expressions for the patterns operators write (`^node[0-9]+$`, `(a|b)`, `[[:digit:]]{2,}`), which
/// is what HAProxy built without PCRE takes. The match is a search (unanchored), as in HAProxy; write `^...$`
/// to match a whole value. As in POSIX, `.` also matches a newline and `$` only matches at the very end.
///
/// Threading: one value is shared by every connection, on every event loop, but `Regex` is not `Sendable`
/// and builds its matching program lazily, on first use. So the expression lives in a `Mutex` and each match
/// runs under it. Matches are short (certificate names and DNs) and ACLs are evaluated once per connection,
/// so contention is negligible. `init` runs one match, so that the lazy step happens at load rather than on
/// a connection.
public final class ACLRegex: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    public let ignoreCase: Bool
    private let regex: Mutex<Regex<AnyRegexOutput>>

    /// Compiles `source`.
    /// - Throws: `ACLRegex.CompileError` with the parser's message, e.g. `expected ')'`.
    public init(_ source: String, ignoreCase: Bool) throws(CompileError) {
        self.source = source
        self.ignoreCase = ignoreCase
        var regex: Regex<AnyRegexOutput>
        do {
            regex = try Regex(source).dotMatchesNewlines()
            if ignoreCase { regex = regex.ignoresCase() }
            _ = try regex.firstMatch(in: "")
        } catch {
            throw CompileError(message: "\(error)")
        }
        self.regex = Mutex(regex)
    }

    /// Whether the expression matches somewhere in `value`.
    public func matches(_ value: String) -> Bool {
        // As with the C library, which saw the value as a C string: a value holding a NUL is no certificate name.
        guard !value.utf8.contains(0) else { return false }
        return regex.withLock { value.contains($0) }
    }

    public static func == (lhs: ACLRegex, rhs: ACLRegex) -> Bool {
        lhs.source == rhs.source && lhs.ignoreCase == rhs.ignoreCase
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(ignoreCase)
    }

    public var description: String { source }

    /// Why an expression does not compile.
    public struct CompileError: Error, Sendable {
        public var message: String
    }
}
