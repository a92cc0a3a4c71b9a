/// A `-m reg` pattern, compiled once, at load, into an `ACLRegexProgram` that matches in time linear in the value.
/// The syntax is POSIX extended regular expressions with the PCRE2 additions operators bring from HAProxy
/// (`\d`, `\w`, `\b`, `(?:...)`, lazy quantifiers, a leading `(?i)`); what needs backtracking (backreferences,
/// lookaround, atomic groups, possessive quantifiers) is refused at load with its position (see
/// `ACLRegexParser`). The match is a search (unanchored), as in HAProxy; write `^...$` to match a whole value. As
/// in POSIX, `.` also matches a newline and `$` only matches at the very end. The value is read as Unicode
/// scalars, so `.` is one character, not one byte.
///
/// Threading: the program is immutable and `Sendable`; every connection, on every event loop, matches with it at
/// once, without a lock.
public final class ACLRegex: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    public let ignoreCase: Bool
    /// The compiled expression.
    package let program: ACLRegexProgram

    /// Compiles `source`.
    /// - Throws: `ACLRegex.CompileError` in the operator's words with the 1-based position in `source`, e.g.
    ///   `unmatched ')' at 7`.
    public init(_ source: String, ignoreCase: Bool) throws(CompileError) {
        self.source = source
        self.ignoreCase = ignoreCase
        self.program = try ACLRegexProgram(source, ignoreCase: ignoreCase)
    }

    /// Whether the expression matches somewhere in `value`.
    public func matches(_ value: String) -> Bool {
        // As with the C library, which saw the value as a C string: a value holding a NUL is no certificate name.
        guard !value.utf8.contains(0) else { return false }
        return program.search(Array(value.unicodeScalars)).matched
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
