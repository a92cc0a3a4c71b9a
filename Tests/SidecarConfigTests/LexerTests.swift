import Testing

@testable import SidecarConfig

/// One line of input and what the lexer must make of it.
struct LexerCase: Sendable, CustomTestStringConvertible {
    var input: String
    /// The words, or nil when the line is an error.
    var words: [String]?
    /// A substring of the error message, when `words` is nil.
    var error: String? = nil

    var testDescription: String { input.debugDescription }
}

let lexerEnvironment = ["HOME": "/root", "EMPTY": "", "LIST": "x y  z", "PORT": "2021", "WITH_SPACE": "a b"]

@Suite("Lexer")
struct LexerTests {
    static let cases: [LexerCase] = [
        // Words, spaces, tabs, comments.
        LexerCase(input: "bind *:80", words: ["bind", "*:80"]),
        LexerCase(input: "  a\tb    c  ", words: ["a", "b", "c"]),
        LexerCase(input: "a b # comment", words: ["a", "b"]),
        LexerCase(input: "global#x", words: ["global"]),
        LexerCase(input: "a#b c", words: ["a"]),
        LexerCase(input: "# only a comment", words: []),
        LexerCase(input: "a\\", words: ["a\\"]),
        // Quotes.
        LexerCase(input: "\"a b\"", words: ["a b"]),
        LexerCase(input: "'a b'", words: ["a b"]),
        LexerCase(input: "\"a#b\" c", words: ["a#b", "c"]),
        LexerCase(input: "\"it's\"", words: ["it's"]),
        LexerCase(input: "'say \"hi\"'", words: ["say \"hi\""]),
        LexerCase(input: "a\"b c\"'d e'f", words: ["ab cd ef"]),
        LexerCase(input: "'#' '\\x41' '$HOME'", words: ["#", "\\x41", "$HOME"]),
        // Escapes.
        LexerCase(input: "a\\ b", words: ["a b"]),
        LexerCase(input: "\\\\", words: ["\\"]),
        LexerCase(input: "\\#x", words: ["#x"]),
        LexerCase(input: "\\' \\\"", words: ["'", "\""]),
        LexerCase(input: "a\\tb a\\nb a\\rb", words: ["a\tb", "a\nb", "a\rb"]),
        LexerCase(input: "\\x41\\x62", words: ["Ab"]),
        LexerCase(input: "\\xZZ", words: nil, error: "invalid '\\x' escape"),
        LexerCase(input: "\\x4", words: nil, error: "invalid '\\x' escape"),
        LexerCase(input: "\\q", words: ["\\q"]),
        LexerCase(input: "\"\\$HOME\"", words: ["$HOME"]),
        LexerCase(input: "\\$HOME", words: ["\\$HOME"]),
        LexerCase(input: "\"a\\\"b\"", words: ["a\"b"]),
        // Environment variables, only inside double quotes.
        LexerCase(input: "\"$HOME\"", words: ["/root"]),
        LexerCase(input: "$HOME", words: ["$HOME"]),
        LexerCase(input: "\"${HOME}x\" \"$HOME/x\"", words: ["/rootx", "/root/x"]),
        LexerCase(input: "\"*:$PORT\"", words: ["*:2021"]),
        LexerCase(input: "\"${UNSET-dflt}\"", words: ["dflt"]),
        LexerCase(input: "\"${HOME-dflt}\"", words: ["/root"]),
        LexerCase(input: "\"a${EMPTY-dflt}b\"", words: ["ab"]),
        LexerCase(input: "\"a${UNSET}b\"", words: ["ab"]),
        LexerCase(input: "\"$WITH_SPACE\"", words: ["a b"]),
        LexerCase(input: "server \"${LIST[*]}\"", words: ["server", "x", "y", "z"]),
        LexerCase(input: "\"$UNSET\"", words: nil, error: "is empty"),
        LexerCase(input: "a \"\" b", words: nil, error: "word 2 is empty"),
        LexerCase(input: "\"${1BAD}\"", words: nil, error: "invalid variable name"),
        LexerCase(input: "\"$ x\"", words: nil, error: "invalid variable name"),
        LexerCase(input: "\"${HOME\"", words: nil, error: "unmatched brace"),
        LexerCase(input: "\"${HOME-x\"", words: nil, error: "unmatched brace"),
        LexerCase(input: "\"${HOME[1]}\"", words: nil, error: "only '[*]'"),
        // Pseudo-variables.
        LexerCase(input: "\"$.LINE\" \"${.FILE}\"", words: ["1", "test.cfg"]),
        // Fatal lines.
        LexerCase(input: "\"abc", words: nil, error: "unmatched double quote"),
        LexerCase(input: "'abc", words: nil, error: "unmatched single quote"),
        LexerCase(input: "a\u{0}b", words: nil, error: "NUL character"),
        LexerCase(
            input: Array(repeating: "w", count: 64).joined(separator: " "),
            words: Array(repeating: "w", count: 64)
        ),
        LexerCase(input: Array(repeating: "w", count: 65).joined(separator: " "), words: nil, error: "too many words"),
        LexerCase(
            input: "a \"${LIST[*]}\" " + Array(repeating: "w", count: 61).joined(separator: " "),
            words: nil,
            error: "too many words"
        ),
        // A lone CR ends the statement.
        LexerCase(input: "a\rb", words: ["a"]),
    ]

    @Test(arguments: cases)
    func lexesOneLine(_ testCase: LexerCase) {
        let lexer = Lexer(environment: lexerEnvironment)
        let (statements, diagnostics) = lexer.statements(in: Array((testCase.input + "\n").utf8), file: "test.cfg")
        if let words = testCase.words {
            #expect(diagnostics.isEmpty, "\(diagnostics)")
            #expect((statements.first?.words ?? []) == words)
        } else {
            #expect(statements.isEmpty)
            #expect(diagnostics.count == 1)
            #expect(diagnostics.first?.severity == .error)
            #expect(diagnostics.first?.location == SourceLocation(file: "test.cfg", line: 1))
            #expect(diagnostics.first?.message.contains(testCase.error ?? "?") == true, "\(diagnostics)")
        }
    }

    @Test func missingFinalLineFeedIsAWarning() {
        let (statements, diagnostics) = Lexer(environment: [:]).statements(in: Array("a\nb c".utf8), file: "f.cfg")
        #expect(statements.map(\.words) == [["a"], ["b", "c"]])
        #expect(diagnostics.map(\.severity) == [.warning])
        #expect(diagnostics.first?.location.line == 2)
        #expect(diagnostics.first?.message.contains("missing LF") == true)
    }

    @Test func acceptsCRLF() {
        let (statements, diagnostics) = Lexer(environment: [:]).statements(
            in: Array("a b\r\n\r\nc\r\n".utf8),
            file: "f.cfg"
        )
        #expect(diagnostics.isEmpty)
        #expect(statements.map(\.words) == [["a", "b"], ["c"]])
        #expect(statements.map(\.location.line) == [1, 3])
    }

    @Test func sectionPseudoVariableFollowsSections() {
        let text = "global\n  x \"${.SECTION}\"\nfrontend fe\n  y \"$.SECTION:$.LINE\"\n"
        let (statements, diagnostics) = Lexer(environment: [:]).statements(in: Array(text.utf8), file: "f.cfg")
        #expect(diagnostics.isEmpty)
        #expect(statements.map(\.words) == [["global"], ["x", "global"], ["frontend", "fe"], ["y", "frontend:4"]])
    }

    @Test func keepsGoingAfterAnErrorLine() {
        let text = "a\n\"bad\nb\n"
        let (statements, diagnostics) = Lexer(environment: [:]).statements(in: Array(text.utf8), file: "f.cfg")
        #expect(statements.map(\.words) == [["a"], ["b"]])
        #expect(diagnostics.map(\.location.line) == [2])
    }

    static let times: [(String, Duration?)] = [
        ("100", .milliseconds(100)), ("100ms", .milliseconds(100)), ("5s", .seconds(5)), ("2m", .seconds(120)),
        ("1h", .seconds(3600)), ("1d", .seconds(86_400)), ("250us", .microseconds(250)), ("0", .zero),
        ("", nil), ("s", nil), ("5x", nil), ("-5s", nil), ("5 s", nil), ("1.5s", nil),
        ("99999999999999999999", nil), ("9999999999999d", nil),
    ]

    @Test(arguments: times)
    func parsesTimes(_ text: String, _ expected: Duration?) {
        #expect(Duration(haproxyTime: text) == expected)
    }
}
