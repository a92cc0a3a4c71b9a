#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `-m reg` pattern compiled once, at load, with the C library's POSIX extended regular expressions: the
/// engine HAProxy itself uses when built without PCRE. The match is a search (unanchored), as in HAProxy;
/// write `^...$` to match a whole value.
///
/// Threading: `regexec` is thread-safe on a compiled `regex_t` (glibc documents it MT-Safe), so one value
/// is shared by every connection. The `regex_t` is owned by this object and freed in `deinit`.
public final class ACLRegex: @unchecked Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    public let ignoreCase: Bool
    private let compiled: UnsafeMutablePointer<regex_t>

    /// Compiles `source`.
    /// - Throws: `ACLRegex.CompileError` with the C library's message.
    public init(_ source: String, ignoreCase: Bool) throws(CompileError) {
        self.source = source
        self.ignoreCase = ignoreCase
        // Compiled into a local first: once `compiled` is set, a throw would run `deinit` on a failed regex_t.
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let flags = REG_EXTENDED | REG_NOSUB | (ignoreCase ? REG_ICASE : 0)
        let status = regcomp(regex, source, flags)
        guard status == 0 else {
            var message = [CChar](repeating: 0, count: 256)
            regerror(status, regex, &message, message.count)
            regex.deallocate()
            throw CompileError(message: String(cString: message))
        }
        compiled = regex
    }

    deinit {
        regfree(compiled)
        compiled.deallocate()
    }

    /// Whether the expression matches somewhere in `value`.
    public func matches(_ value: String) -> Bool {
        // regexec needs a NUL-terminated string; a value holding a NUL cannot be a certificate name.
        guard !value.utf8.contains(0) else { return false }
        return value.withCString { regexec(compiled, $0, 0, nil, 0) == 0 }
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
