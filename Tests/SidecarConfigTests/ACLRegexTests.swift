import Testing

@testable import SidecarConfig

/// `-m reg`: the syntax `ACLRegex` accepts, what it refuses, and that matching stays linear in the value.
@Suite struct ACLRegexTests {
    /// (pattern, value, matches) with case respected; one row or more per construct.
    static let syntax: [(String, String, Bool)] = [
        // literals, search semantics
        ("node", "mynode1", true), ("node", "nod", false), ("", "anything", true), ("", "", true),
        ("a b", "a b", true), ("é", "café", true), ("#", "a#b", true), ("a}", "a}", true), ("]", "]", true),
        // `.` is one scalar, newline included
        ("^.$", "é", true), ("^.{3}$", "été", true), ("^.$", "\n", true), ("^a.c$", "a\nc", true),
        ("^...$", "ab", false),
        // anchors: `^` only at the start, `$` only at the very end
        ("^node", "node1", true), ("^node", "xnode", false), ("1$", "node1", true), ("1$", "node1\n", false),
        ("^$", "", true), ("^$", "\n", false), ("a^b", "a^b", false), ("a$b", "a$b", false),
        ("x|^b", "ab", false), ("^(a|b)$", "b", true),
        // groups and alternation
        ("^(ab)+$", "ababab", true), ("^(ab)+$", "aba", false), ("^(?:ab|cd)$", "cd", true),
        ("^(a|)$", "", true), ("^()$", "", true), ("^(a|b|c)$", "c", true), ("^(a|b|c)$", "d", false),
        ("^a|b$", "xb", true), ("^(a|b)c$", "bc", true), ("^((a)(b(c)))$", "abc", true),
        // repetition
        ("^a*$", "", true), ("^a*$", "aaa", true), ("^a+$", "", false), ("^a+$", "aa", true),
        ("^ab?c$", "ac", true), ("^ab?c$", "abbc", false), ("^a{3}$", "aaa", true), ("^a{3}$", "aaaa", false),
        ("^a{2,}$", "a", false), ("^a{2,}$", "aaaaa", true), ("^a{2,3}$", "aaa", true), ("^a{2,3}$", "aaaa", false),
        ("^a{,2}$", "aa", true), ("^a{,2}$", "aaa", false), ("^a{0}$", "", true), ("^a{0,0}b$", "b", true),
        ("^(ab){2}$", "abab", true), ("^((((a+)+)+)+)+$", "aaaa", true), ("^(a*)+$", "", true),
        ("^(a*)+$", "aab", false), ("^(a|b){2,}$", "ab", true), ("^(a|b){2,}$", "a", false),
        ("^(a|bc){1,}$", "abca", true), ("^(a?){3}$", "a", true),
        ("^a{1000}$", String(repeating: "a", count: 1000), true),
        // lazy forms: the same yes/no answer
        ("^a*?$", "aa", true), ("^a+?b$", "aab", true), ("^a??b$", "ab", true), ("^a{2,3}?$", "aaa", true),
        ("a+?", "", false),
        // bracket expressions
        ("^[abc]+$", "cab", true), ("^[abc]+$", "cad", false), ("^[a-z0-9-]+$", "node-1", true),
        ("^[a-z0-9-]+$", "Node", false), ("^[^a-z]$", "A", true), ("^[^a-z]$", "q", false),
        ("^[^a]$", "\n", true), ("^[]a]+$", "]a]", true), ("^[^]a]$", "]", false), ("^[^]a]$", "b", true),
        ("^[a-]$", "-", true), ("^[-a]$", "-", true), ("^[.]$", "x", false), ("^[.*+?(){}|^$]+$", "(.*)", true),
        ("^[é-ë]$", "ê", true), ("^[[]$", "[", true),
        // POSIX classes
        ("^[[:alpha:]]+$", "Node", true), ("^[[:alpha:]]$", "1", false), ("^[[:digit:]]{2,}$", "42", true),
        ("^[[:alnum:]]+$", "n0de", true), ("^[[:alnum:]]+$", "n-1", false), ("^[[:upper:]]+$", "AB", true),
        ("^[[:upper:]]$", "a", false), ("^[[:lower:]]+$", "ab", true), ("^[[:lower:]]$", "A", false),
        ("^[[:space:]]+$", " \t\n\r\u{0B}\u{0C}", true), ("^[[:space:]]$", "x", false),
        ("^[[:punct:]]+$", "!-/:@[`{~", true), ("^[[:punct:]]$", "a", false), ("^[[:xdigit:]]+$", "09afAF", true),
        ("^[[:xdigit:]]$", "g", false), ("^[[:blank:]]+$", " \t", true), ("^[[:cntrl:]]$", "\u{01}", true),
        ("^[[:graph:]]$", " ", false), ("^[[:print:]]$", " ", true), ("^[[:word:]]+$", "a_1", true),
        ("^[^[:digit:]]+$", "ab", true), ("^[^[:digit:]]+$", "a1", false), ("^[[:digit:]a-c]+$", "1b2", true),
        // escapes inside brackets
        ("^[\\d]+$", "12", true), ("^[\\w.]+$", "a_b.c", true), ("^[\\s]$", "\t", true), ("^[\\D]$", "1", false),
        ("^[\\D]$", "x", true), ("^[a\\]]+$", "a]", true), ("^[\\\\]$", "\\", true), ("^[\\-a]$", "-", true),
        ("^[\\x41-\\x43]+$", "ABC", true), ("^[\\t]$", "\t", true), ("^[\\b]$", "\u{08}", true),
        ("^[\\^]$", "^", true),
        // class escapes (ASCII)
        ("^\\d+$", "123", true), ("^\\d$", "a", false), ("^\\D$", "a", true), ("^\\D$", "1", false),
        ("^\\w+$", "Node_1", true), ("^\\w$", "-", false), ("^\\W$", "-", true), ("^\\W$", "a", false),
        ("^\\s$", " ", true), ("^\\s$", "a", false), ("^\\S$", "a", true), ("^\\S$", "\n", false),
        // word boundaries
        ("\\bnode\\b", "a node here", true), ("\\bnode\\b", "nodes", false), ("\\bnode", "node", true),
        ("\\Bode", "node", true), ("\\Bnode", "node", false), ("^\\b$", "", false), ("^\\B$", "", true),
        ("a\\b", "a-", true), ("a\\b", "ab", false),
        // character escapes
        ("^\\t\\n\\r\\f\\v\\e\\a$", "\t\n\r\u{0C}\u{0B}\u{1B}\u{07}", true), ("^\\x41$", "A", true),
        ("^\\x4$", "\u{04}", true), ("^\\x{e9}$", "é", true), ("^\\x{1F600}$", "😀", true), ("^\\x413$", "A3", true),
        // escaped metacharacters
        ("^\\.$", ".", true), ("^\\.$", "x", false),
        ("^\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\$", "*+?()[]{}|^$\\", true),
        ("^a\\{2\\}$", "a{2}", true), ("^\\/$", "/", true),
        // realistic patterns
        ("^node[0-9]+$", "node12", true), ("^node[0-9]+$", "node12x", false),
        ("/O=Example/", "/C=FR/O=Example/CN=node1", true), ("^([a-z0-9-]+\\.)+example\\.com$", "a.b.example.com", true),
        ("^([a-z0-9-]+\\.)+example\\.com$", "example.com", false), ("^[0-9A-F]{2}(:[0-9A-F]{2})*$", "0A:FF:10", true),
    ]

    @Test(arguments: syntax)
    func syntaxMatchesAsDocumented(pattern: String, value: String, expected: Bool) throws {
        let regex = try ACLRegex(pattern, ignoreCase: false)
        #expect(regex.matches(value) == expected, "'\(pattern)' against '\(value)'")
    }

    /// (pattern, value, matches) with `-i`.
    static let ignoringCase: [(String, String, Bool)] = [
        ("^node$", "NODE", true), ("^NODE$", "node", true), ("^[a-z]+$", "NoDe", true), ("^[A-Z]+$", "node", true),
        ("^[^a-z]$", "Q", false), ("^[^a]$", "A", false), ("^[[:upper:]]$", "a", true), ("^[[:lower:]]$", "A", true),
        ("^é$", "É", true), ("^\\x{C9}$", "é", true), ("^node$", "nodf", false), ("^\\w$", "K", true),
        ("^σασ$", "ΣΑΣ", true), ("^[α-ω]+$", "ΑΒΓ", true),
    ]

    @Test(arguments: ignoringCase)
    func ignoreCaseComparesLowerCaseMappings(pattern: String, value: String, expected: Bool) throws {
        let regex = try ACLRegex(pattern, ignoreCase: true)
        #expect(regex.matches(value) == expected, "'\(pattern)' -i against '\(value)'")
    }

    @Test func leadingInlineFlagIsIgnoreCase() throws {
        let regex = try ACLRegex("(?i)^node[0-9]$", ignoreCase: false)
        #expect(regex.matches("NODE1"))
        #expect(regex.matches("node1"))
        #expect(!regex.matches("NODE12"))
        #expect(try !ACLRegex("^node[0-9]$", ignoreCase: false).matches("NODE1"))
    }

    @Test func valueWithNULNeverMatches() throws {
        #expect(try !ACLRegex("node", ignoreCase: false).matches("node\u{0}"))
        #expect(try !ACLRegex("", ignoreCase: false).matches("\u{0}"))
        #expect(try ACLRegex("", ignoreCase: false).matches(""))
    }

    /// (pattern, message): every refused construct names itself and its 1-based position.
    static let refused: [(String, String)] = [
        ("(a", "unmatched '(' at 1"), ("a)", "unmatched ')' at 2"), ("(a))b", "unmatched ')' at 4"),
        ("^(ab)c)$", "unmatched ')' at 7"), ("[a", "unmatched '[' at 1"), ("x[^]", "unmatched '[' at 2"),
        ("(a)\\1", "backreferences ('\\1') are not supported: sidecar matches in linear time at 4"),
        ("\\k<n>", "backreferences ('\\k') are not supported"),
        ("a(?=b)", "lookahead ('(?=') is not supported: sidecar matches in linear time at 2"),
        ("a(?!b)", "lookahead ('(?!') is not supported"),
        ("(?<=a)b", "lookbehind ('(?<=') is not supported: sidecar matches in linear time at 1"),
        ("(?<!a)b", "lookbehind ('(?<!') is not supported"), ("(?>a+)b", "atomic groups ('(?>') are not supported"),
        ("a++", "possessive quantifiers ('+') are not supported"), ("a{2}+", "possessive quantifiers ('{2}')"),
        ("(?<n>a)", "named groups are not supported"), ("(?P<n>a)", "named groups are not supported"),
        ("a(?i)b", "'(?i)' is only supported at the very start of the expression (or use -i) at 2"),
        ("(?s)a", "'(?s' is not supported"), ("(?i:a)", "'(?i' is not supported"), ("(?#c)a", "'(?#' is not supported"),
        ("\\p{L}", "Unicode properties ('\\p{...}') are not supported: use a bracket expression at 1"),
        ("\\PL", "Unicode properties"),
        ("\\Aa", "'\\A' is not supported: use '^' and '$' at 1"), ("a\\z", "'\\z' is not supported"),
        ("\\Qa\\E", "quoting with '\\Q...\\E' is not supported"), ("\\0", "octal escapes ('\\0') are not supported"),
        ("\\y", "unknown escape '\\y' at 1"), ("a\\", "'\\' at the end of the expression escapes nothing at 2"),
        ("*a", "'*' has nothing to repeat (write '\\*' for the character) at 1"),
        ("a|+", "'+' has nothing to repeat (write '\\+' for the character) at 3"),
        ("(?a)", "'(?a' is not supported"), ("a**", "'*' follows another repetition and has nothing to repeat at 3"),
        ("a{2}{3}", "'{3}' follows another repetition"), ("{2}", "'{2}' has nothing to repeat at 1"),
        ("^*", "'*' repeats an anchor or word boundary, which matches no character at 2"),
        ("\\b+", "repeats an anchor"),
        ("a{", "'{' does not start a repetition {m}, {m,} or {m,n}; write '\\{' for a brace at 2"),
        ("a{x}", "'{' does not start a repetition"), ("a{,}", "'{' does not start a repetition"),
        ("a{1001}", "repetition count in '{1001}' is larger than 1000 at 2"),
        ("a{1,99999999999999999999}", "larger than 1000"),
        ("a{3,2}", "repetition '{3,2}' has its minimum above its maximum at 2"),
        ("[z-a]", "range 'z-a' is out of order at 2"),
        ("[[:alfa:]]", "unknown character class '[:alfa:]' (known: alnum"),
        ("[[:alpha:]", "unmatched '[' at 1"), ("[[:alpha]", "'[:' is not closed by ':]' at 2"),
        ("[[.a.]]", "collating elements and equivalence classes ('[.a.]') are not supported"),
        ("[[=a=]]", "('[=a=]') are not supported"), ("[\\d-z]", "a range cannot start with a class"),
        ("[a-\\d]", "a range cannot end with a class"), ("[a-[:digit:]]", "a range cannot end with a class"),
        ("[\\B]", "'\\B' means nothing inside a bracket expression"), ("\\x", "'\\x' must be followed by hex digits"),
        ("\\x{}", "'\\x{' must be followed by hex digits and '}'"),
        ("\\x{110000}", "'\\x{110000}' is not a Unicode scalar value"),
        ("\\x{D800}", "is not a Unicode scalar value"), ("\\x{1234567}", "more than six hex digits"),
        (
            String(repeating: "(", count: 101) + String(repeating: ")", count: 101),
            "groups nested more than 100 deep at 101"
        ),
        ("(a{1000}){1000}", "expression too large: it would need more than 20000 instructions"),
        ("((a{100}){100}){100}", "expression too large"),
        (String(repeating: "x", count: 20_000), "expression too large"),
    ]

    @Test(arguments: refused)
    func unsupportedSyntaxIsRefusedWithItsPosition(pattern: String, message: String) {
        #expect {
            _ = try ACLRegex(pattern, ignoreCase: false)
        } throws: { error in
            let text = (error as? ACLRegex.CompileError)?.message ?? ""
            return text.contains(message)
        }
    }

    /// The largest program compiles and matches; one instruction more is refused.
    @Test func largestProgramStillCompiles() throws {
        let regex = try ACLRegex("((x?){1000}){9}(x?){999}y", ignoreCase: false)
        #expect(regex.program.instructions.count == ACLRegexProgram.instructionLimit)
        #expect(regex.matches("xxy"))
        let scalars = Array(String(repeating: "x", count: 64).unicodeScalars)
        let (matched, steps) = regex.program.search(scalars)
        #expect(!matched)
        #expect(steps <= (scalars.count + 1) * ACLRegexProgram.instructionLimit)
        #expect(throws: ACLRegex.CompileError.self) { try ACLRegex("((x?){1000}){9}(x?){999}yz", ignoreCase: false) }
    }

    /// Patterns that take a backtracking engine (Swift `Regex`, the old implementation) exponential time: the
    /// first took 1.6 s against 16 `a`s and a `!`, 12 s against 18, and would not finish against a 64-character
    /// CN. Here each must finish within `(scalars + 1) × instructions` steps, a bound that does not depend on the
    /// pattern's shape.
    static let catastrophic: [(String, String, String)] = [
        ("^(a+)+$", String(repeating: "a", count: 63) + "!", String(repeating: "a", count: 64)),
        (
            "^([a-z0-9-]+\\.?)+\\.example\\.com$", String(repeating: "a", count: 63) + "!",
            String(repeating: "a", count: 52) + ".example.com"
        ),
        ("(a|aa)*b", String(repeating: "a", count: 64), String(repeating: "a", count: 63) + "b"),
        ("(x+x+)+y", String(repeating: "x", count: 64), String(repeating: "x", count: 63) + "y"),
        ("^(a*)*$", String(repeating: "a", count: 63) + "!", String(repeating: "a", count: 64)),
        ("^(a|a?)+$", String(repeating: "a", count: 63) + "!", String(repeating: "a", count: 64)),
        ("^(\\w+\\s?)*$", String(repeating: "a", count: 63) + "!", String(repeating: "ab ", count: 21) + "a"),
    ]

    @Test(arguments: catastrophic)
    func catastrophicPatternsRunInLinearSteps(pattern: String, failing: String, matching: String) throws {
        let regex = try ACLRegex(pattern, ignoreCase: false)
        for (value, expected) in [(failing, false), (matching, true)] {
            let scalars = Array(value.unicodeScalars)
            #expect(scalars.count == 64)
            let (matched, steps) = regex.program.search(scalars)
            #expect(matched == expected, "'\(pattern)' against '\(value)'")
            let bound = (scalars.count + 1) * regex.program.instructions.count
            #expect(steps <= bound, "'\(pattern)': \(steps) steps, bound \(bound)")
            #expect(regex.matches(value) == expected)
        }
    }

    /// The bound holds for a program of thousands of instructions too.
    @Test func largeRepetitionStaysWithinTheBound() throws {
        let regex = try ACLRegex("^(a?){999}a{999}$", ignoreCase: false)
        let scalars = Array(String(repeating: "a", count: 64).unicodeScalars)
        let (matched, steps) = regex.program.search(scalars)
        #expect(!matched)
        #expect(steps <= (scalars.count + 1) * regex.program.instructions.count)
    }
}
