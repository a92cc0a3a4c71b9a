/// Splits configuration text into statements with HAProxy 2.6's lexical rules (`src/tools.c:parse_line`).
///
/// One physical line is one statement. Words are separated by unprotected spaces and tabs; an unprotected `#`
/// starts a comment anywhere. `"…"` protects spaces, tabs, `'` and `#` and expands environment variables;
/// `'…'` protects everything; pieces that touch form one word. Outside single quotes the escapes
/// `\␠ \\ \# \' \" \t \n \r \xNN` apply (`\$` only inside double quotes); any other `\c` keeps its backslash.
///
/// Deliberate deviations from HAProxy 2.6, both safer for an operator:
/// - a last line without LF is a warning, not a fatal error;
/// - an empty word (`""`, or a variable that expands to nothing) is an error: 2.6 silently ignores the rest
///   of the line, which could drop `ssl` from a `server` line (HAProxy 3.3 makes it fatal too).
package struct Lexer: Sendable {
    /// One statement: its words and where it was written.
    package struct Statement: Sendable, Hashable {
        package var words: [String]
        package var location: SourceLocation

        package init(words: [String], location: SourceLocation) {
            self.words = words
            self.location = location
        }
    }

    /// HAProxy's `MAX_LINE_ARGS`: a line with more words is fatal ("too many words").
    package static let maximumWords = 64

    /// The first words that open a section; they set the `.SECTION` pseudo-variable.
    package static let sectionKeywords: Set<String> = [
        "global", "defaults", "frontend", "backend", "listen", "peers", "resolvers", "userlist", "mailers",
        "program", "http-errors", "ring", "cache", "dynamic-update", "namespace_list",
    ]

    /// The variables `$NAME` expands from; injected so tests are deterministic.
    package var environment: [String: String]

    package init(environment: [String: String]) {
        self.environment = environment
    }

    /// Splits a whole file into statements; lines without words are dropped.
    ///
    /// A line with a lexical error produces an error diagnostic and no statement; lexing goes on with the
    /// next line so that every error of a file is reported at once.
    package func statements(in bytes: [UInt8], file: String) -> (
        statements: [Statement], diagnostics: [ConfigDiagnostic]
    ) {
        var statements: [Statement] = []
        var diagnostics: [ConfigDiagnostic] = []
        var section = ""
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let location = SourceLocation(file: file, line: lineNumber)
            if end == bytes.count {
                diagnostics.append(
                    ConfigDiagnostic(.warning, "missing LF on last line (HAProxy 2.6 refuses this file)", at: location)
                )
            }
            var line = bytes[start..<end]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            switch words(in: line, file: file, line: lineNumber, section: section) {
            case .success(let words):
                if !words.isEmpty {
                    if Self.sectionKeywords.contains(words[0]) { section = words[0] }
                    statements.append(Statement(words: words, location: location))
                }
            case .failure(let error):
                diagnostics.append(ConfigDiagnostic(.error, error.message, at: location))
            }
            start = end + 1
        }
        return (statements, diagnostics)
    }

    /// A lexical error on one line, in the operator's words.
    package struct Failure: Error, Sendable, Hashable {
        package var message: String
    }

    /// The words of one physical line (without its LF).
    ///
    /// - Parameters:
    ///   - file: the value of `.FILE`.
    ///   - line: the value of `.LINE`.
    ///   - section: the value of `.SECTION`: the keyword of the section being parsed.
    package func words(
        in line: ArraySlice<UInt8>,
        file: String,
        line lineNumber: Int,
        section: String
    ) -> Result<[String], Failure> {
        if line.contains(0) {
            return .failure(Failure(message: "NUL character in line"))
        }
        var tokenizer = Tokenizer()
        let bytes = Array(line)
        var index = 0
        var singleQuoted = false
        var doubleQuoted = false

        while index < bytes.count {
            let byte = bytes[index]
            if singleQuoted {
                if byte == UInt8(ascii: "'") {
                    singleQuoted = false
                } else {
                    tokenizer.append(byte)
                }
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                if doubleQuoted {
                    tokenizer.append(byte)
                } else {
                    tokenizer.endWord()
                }
                index += 1
            case UInt8(ascii: "#") where !doubleQuoted, UInt8(ascii: "\r") where !doubleQuoted:
                index = bytes.count
            case UInt8(ascii: "'"):
                if doubleQuoted {
                    tokenizer.append(byte)
                } else {
                    singleQuoted = true
                    tokenizer.startWord()
                }
                index += 1
            case UInt8(ascii: "\""):
                doubleQuoted.toggle()
                tokenizer.startWord()
                index += 1
            case UInt8(ascii: "\\"):
                switch unescape(bytes, at: index, doubleQuoted: doubleQuoted) {
                case .success(let (output, consumed)):
                    tokenizer.append(contentsOf: output)
                    index += consumed
                case .failure(let failure):
                    return .failure(failure)
                }
            case UInt8(ascii: "$") where doubleQuoted:
                switch expandVariable(bytes, at: index, file: file, line: lineNumber, section: section) {
                case .success(let (value, consumed, splitsWords)):
                    if splitsWords {
                        tokenizer.appendSplittingOnSpaces(value)
                    } else {
                        tokenizer.append(contentsOf: value)
                    }
                    index += consumed
                case .failure(let failure):
                    return .failure(failure)
                }
            default:
                tokenizer.append(byte)
                index += 1
            }
            if tokenizer.words.count > Self.maximumWords {
                return .failure(
                    Failure(message: "too many words: HAProxy allows at most \(Self.maximumWords) per line")
                )
            }
        }
        if singleQuoted || doubleQuoted {
            return .failure(Failure(message: "unmatched \(singleQuoted ? "single" : "double") quote"))
        }
        tokenizer.endWord()
        if tokenizer.words.count > Self.maximumWords {
            return .failure(Failure(message: "too many words: HAProxy allows at most \(Self.maximumWords) per line"))
        }
        if let empty = tokenizer.words.firstIndex(where: \.isEmpty) {
            return .failure(
                Failure(
                    message: "word \(empty + 1) is empty (\"\" or a variable set to nothing); HAProxy 2.6 would "
                        + "silently ignore the rest of the line"
                )
            )
        }
        return .success(tokenizer.words.map { String(decoding: $0, as: UTF8.self) })
    }

    /// Decodes the escape sequence starting with the backslash at `index`.
    private func unescape(
        _ bytes: [UInt8],
        at index: Int,
        doubleQuoted: Bool
    ) -> Result<([UInt8], Int), Failure> {
        guard index + 1 < bytes.count else { return .success(([UInt8(ascii: "\\")], 1)) }
        let next = bytes[index + 1]
        switch next {
        case UInt8(ascii: " "), UInt8(ascii: "\\"), UInt8(ascii: "#"), UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .success(([next], 2))
        case UInt8(ascii: "t"): return .success(([UInt8(ascii: "\t")], 2))
        case UInt8(ascii: "n"): return .success(([UInt8(ascii: "\n")], 2))
        case UInt8(ascii: "r"): return .success(([UInt8(ascii: "\r")], 2))
        case UInt8(ascii: "$") where doubleQuoted: return .success(([next], 2))
        case UInt8(ascii: "x"):
            guard index + 3 < bytes.count, let high = Self.hexValue(bytes[index + 2]),
                let low = Self.hexValue(bytes[index + 3])
            else {
                return .failure(Failure(message: "invalid '\\x' escape: two hexadecimal digits must follow"))
            }
            return .success(([high << 4 | low], 4))
        default:
            return .success(([UInt8(ascii: "\\"), next], 2))
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Expands `$NAME`, `${NAME}`, `${NAME-default}` or `${NAME[*]}` starting at the `$` at `index`.
    ///
    /// - Returns: the value, the bytes consumed, and whether the value is split into words (`[*]`).
    private func expandVariable(
        _ bytes: [UInt8],
        at index: Int,
        file: String,
        line: Int,
        section: String
    ) -> Result<([UInt8], Int, Bool), Failure> {
        var cursor = index + 1
        let braced = cursor < bytes.count && bytes[cursor] == UInt8(ascii: "{")
        if braced { cursor += 1 }
        guard cursor < bytes.count, Self.isNameStart(bytes[cursor]) || bytes[cursor] == UInt8(ascii: ".") else {
            return .failure(Failure(message: "invalid variable name after '$': it must start with a letter or '_'"))
        }
        let nameStart = cursor
        if bytes[cursor] == UInt8(ascii: ".") { cursor += 1 }
        while cursor < bytes.count && Self.isNameCharacter(bytes[cursor]) { cursor += 1 }
        let name = String(decoding: bytes[nameStart..<cursor], as: UTF8.self)
        var value: [UInt8]? = lookUp(name, file: file, line: line, section: section).map { Array($0.utf8) }
        var splitsWords = false
        if braced {
            if cursor < bytes.count && bytes[cursor] == UInt8(ascii: "[") {
                let star: [UInt8] = Array("[*]".utf8)
                guard cursor + 3 <= bytes.count, Array(bytes[cursor..<cursor + 3]) == star else {
                    return .failure(Failure(message: "only '[*]' may follow a variable name inside '${…}'"))
                }
                splitsWords = true
                cursor += 3
            }
            if cursor < bytes.count && bytes[cursor] == UInt8(ascii: "-") {
                let defaultStart = cursor + 1
                while cursor < bytes.count && bytes[cursor] != UInt8(ascii: "}") { cursor += 1 }
                if value == nil && cursor <= bytes.count { value = Array(bytes[defaultStart..<cursor]) }
            }
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "}") else {
                return .failure(Failure(message: "unmatched brace in variable '${\(name)…'"))
            }
            cursor += 1
        }
        return .success((value ?? [], cursor - index, splitsWords))
    }

    /// An environment variable, or one of the pseudo-variables `.FILE`, `.LINE`, `.SECTION`.
    private func lookUp(_ name: String, file: String, line: Int, section: String) -> String? {
        switch name {
        case ".FILE": return file
        case ".LINE": return String(line)
        case ".SECTION": return section
        default: return name.hasPrefix(".") ? nil : environment[name]
        }
    }

    private static func isNameStart(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || byte == UInt8(ascii: "_")
    }

    private static func isNameCharacter(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// Accumulates the words of one line: a word exists as soon as a character or a quote starts it, so `""`
/// is an (empty) word while two spaces are not.
private struct Tokenizer {
    var words: [[UInt8]] = []
    private var current: [UInt8] = []
    private var inWord = false

    mutating func startWord() { inWord = true }

    mutating func append(_ byte: UInt8) {
        current.append(byte)
        inWord = true
    }

    mutating func append(contentsOf bytes: [UInt8]) {
        current.append(contentsOf: bytes)
        inWord = true
    }

    /// `${NAME[*]}`: spaces in the value separate words, as if they had been written unquoted.
    mutating func appendSplittingOnSpaces(_ bytes: [UInt8]) {
        for byte in bytes {
            if byte == UInt8(ascii: " ") {
                endWord()
            } else {
                append(byte)
            }
        }
    }

    mutating func endWord() {
        if inWord { words.append(current) }
        current = []
        inWord = false
    }
}
