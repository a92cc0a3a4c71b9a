/// Turns statements into a `Configuration`, with HAProxy 2.6's meaning for the supported TCP subset.
///
/// Feed every file in load order with `parse(_:file:)`: `defaults` carry from one file to the next, as
/// in HAProxy. Then `finish()` builds the model and validates it. Errors never stop parsing early, so an
/// operator sees all of them at once; like HAProxy, the parser gives up after `maximumErrors`.
package struct Parser: Sendable {
    /// HAProxy stops after this many alerts.
    package static let maximumErrors = 50

    package private(set) var diagnostics: [ConfigDiagnostic] = []
    package private(set) var errorCount = 0

    let lexer: Lexer
    var global = GlobalDraft()
    var proxies: [ProxyDraft] = []
    var namedDefaults: [String: ProxyDraft] = [:]
    var currentDefaults = ProxyDraft.builtIn(location: SourceLocation(file: "built-in defaults", line: 0))
    var section = Section.none
    /// The last line read, where findings about the whole configuration are reported.
    var endLocation: SourceLocation?

    /// What the statements being read belong to.
    enum Section {
        case none
        case global
        case defaults
        case proxy(Int)
        /// A section kind sidecar does not support; its lines are skipped after one error.
        case unsupported
    }

    package init(environment: [String: String]) {
        lexer = Lexer(environment: environment)
    }

    /// Whether the error limit was reached; later input is not parsed.
    package var isFull: Bool { errorCount >= Self.maximumErrors }

    /// Parses one file's bytes; `file` names it in diagnostics and in `.FILE`.
    package mutating func parse(_ bytes: [UInt8], file: String) {
        guard !isFull else { return }
        let (statements, lexical) = lexer.statements(in: bytes, file: file)
        var pending = lexical[...]
        for statement in statements {
            while let next = pending.first, next.location.line < statement.location.line {
                record(next)
                pending = pending.dropFirst()
            }
            if isFull { return }
            parse(statement)
        }
        for diagnostic in pending { record(diagnostic) }
        let lineFeeds = bytes.count { $0 == UInt8(ascii: "\n") }
        let lineCount = lineFeeds + (bytes.last.map { $0 == UInt8(ascii: "\n") ? 0 : 1 } ?? 0)
        endLocation = SourceLocation(file: file, line: max(1, lineCount))
        // A section does not continue into the next file (HAProxy resets the section at each file).
        closeSection()
        section = .none
    }

    mutating func record(_ diagnostic: ConfigDiagnostic) {
        guard !isFull else { return }
        diagnostics.append(diagnostic)
        if diagnostic.severity == .error {
            errorCount += 1
            if isFull {
                diagnostics.append(
                    ConfigDiagnostic(
                        .error,
                        "too many errors (\(Self.maximumErrors)); giving up",
                        at: diagnostic.location
                    )
                )
            }
        }
    }

    mutating func error(_ message: String, at location: SourceLocation, suggestion: String? = nil) {
        record(ConfigDiagnostic(.error, message, at: location, suggestion: suggestion))
    }

    mutating func warning(_ message: String, at location: SourceLocation) {
        record(ConfigDiagnostic(.warning, message, at: location))
    }

    private mutating func parse(_ statement: Lexer.Statement) {
        let keyword = statement.words[0]
        if Lexer.sectionKeywords.contains(keyword) {
            openSection(statement)
            return
        }
        switch section {
        case .none:
            error(
                "'\(keyword)' outside of any section (start with 'global', 'defaults', 'frontend', 'backend' "
                    + "or 'listen')",
                at: statement.location
            )
        case .unsupported:
            return
        case .global:
            parseGlobal(statement)
        case .defaults:
            var draft = currentDefaults
            parseProxy(statement, into: &draft)
            currentDefaults = draft
        case .proxy(let index):
            var draft = proxies[index]
            parseProxy(statement, into: &draft)
            proxies[index] = draft
        }
    }

    /// Remembers a named `defaults` section when it ends, so that `from NAME` can find it.
    mutating func closeSection() {
        if case .defaults = section, !currentDefaults.name.isEmpty {
            namedDefaults[currentDefaults.name] = currentDefaults
        }
    }

    private mutating func openSection(_ statement: Lexer.Statement) {
        closeSection()
        let words = statement.words
        let location = statement.location
        guard let kind = SectionKind(rawValue: words[0]) else {
            error("'\(words[0])' sections are not supported by sidecar", at: location)
            section = .unsupported
            return
        }
        switch kind {
        case .global:
            if words.count > 1 { error("'global' takes no argument", at: location) }
            section = .global
        case .defaults:
            var arguments = Array(words.dropFirst())
            let base = parseFrom(&arguments, at: location)
            if arguments.count > 1 { error("'defaults' takes at most a name and 'from NAME'", at: location) }
            let name = arguments.first ?? ""
            if !name.isEmpty { checkName(name, what: "defaults", at: location) }
            // A new `defaults` resets every setting to HAProxy's built-in value, unless `from` names a base.
            var draft = base ?? ProxyDraft.builtIn(location: location)
            draft.kind = .defaults
            draft.name = name
            draft.location = location
            currentDefaults = draft
            section = .defaults
        case .frontend, .backend, .listen:
            var arguments = Array(words.dropFirst())
            let base = parseFrom(&arguments, at: location)
            guard let name = arguments.first else {
                error("'\(kind.rawValue)' needs a name", at: location)
                section = .unsupported
                return
            }
            if arguments.count > 1 {
                error("'\(kind.rawValue)' takes a name and optionally 'from DEFAULTS'", at: location)
            }
            checkName(name, what: kind.rawValue, at: location)
            checkDuplicate(name, kind: kind, at: location)
            var draft = base ?? currentDefaults
            draft.kind = kind
            draft.name = name
            draft.location = location
            draft.binds = []
            draft.servers = []
            if !kind.hasFrontend {
                draft.defaultBackend = nil
                draft.useBackend = nil
            }
            proxies.append(draft)
            section = .proxy(proxies.count - 1)
        }
    }

    /// Removes a trailing `from NAME` from `arguments` and returns that named `defaults`.
    private mutating func parseFrom(_ arguments: inout [String], at location: SourceLocation) -> ProxyDraft? {
        guard let fromIndex = arguments.firstIndex(of: "from") else { return nil }
        guard fromIndex + 1 < arguments.count else {
            error("'from' needs the name of a 'defaults' section", at: location)
            arguments.removeSubrange(fromIndex...)
            return nil
        }
        let baseName = arguments[fromIndex + 1]
        if fromIndex + 2 < arguments.count {
            error("unexpected '\(arguments[fromIndex + 2])' after 'from \(baseName)'", at: location)
        }
        arguments.removeSubrange(fromIndex...)
        if let base = namedDefaults[baseName] { return base }
        if case .defaults = section, currentDefaults.name == baseName { return currentDefaults }
        error(
            "'from \(baseName)': no 'defaults' section named '\(baseName)' before this line",
            at: location,
            suggestion: EditDistance.suggestion(for: baseName, among: namedDefaults.keys.sorted())
        )
        return nil
    }

    /// HAProxy's rule for proxy and server names: letters, digits, `-`, `_`, `.` and `:`.
    mutating func checkName(_ name: String, what: String, at location: SourceLocation) {
        if let bad = name.unicodeScalars.first(where: { !Self.isNameCharacter($0) }) {
            error(
                "invalid character '\(bad)' in \(what) name '\(name)' (use letters, digits, '-', '_', '.', ':')",
                at: location
            )
        }
    }

    private static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII
            && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                || "-_.:".unicodeScalars.contains(scalar))
    }

    /// Two frontends (or two backends) may not share a name; a frontend and a backend may (HAProxy 2.6 allows
    /// it, and BlueChi's configurations rely on it). A `listen` is both.
    private mutating func checkDuplicate(_ name: String, kind: SectionKind, at location: SourceLocation) {
        for other in proxies where other.name == name {
            if kind.hasFrontend && other.kind.hasFrontend {
                error("frontend '\(name)' is already defined at \(other.location)", at: location)
                return
            }
            if kind.hasBackend && other.kind.hasBackend {
                error("backend '\(name)' is already defined at \(other.location)", at: location)
                return
            }
        }
    }

    /// Reads a non-negative integer argument, reporting an error when it is missing or malformed.
    mutating func integer(
        _ words: [String],
        _ index: Int,
        for keyword: String,
        in range: ClosedRange<Int> = 0...Int(Int32.max),
        at location: SourceLocation
    ) -> Int? {
        guard index < words.count else {
            error("'\(keyword)' expects a number", at: location)
            return nil
        }
        guard let value = Int(words[index]), range.contains(value) else {
            error(
                "'\(keyword)' expects a number in \(range.lowerBound)...\(range.upperBound), not '\(words[index])'",
                at: location
            )
            return nil
        }
        return value
    }

    /// Reads a time argument (`5s`, `100ms`, `2m`; no unit means milliseconds).
    mutating func time(_ words: [String], _ index: Int, for keyword: String, at location: SourceLocation) -> Duration? {
        guard index < words.count else {
            error("'\(keyword)' expects a time (a number with an optional unit: us, ms, s, m, h, d)", at: location)
            return nil
        }
        // HAProxy's timers are signed 32-bit milliseconds.
        guard let value = Duration(haproxyTime: words[index]), value <= .milliseconds(Int32.max) else {
            error(
                "invalid time '\(words[index])' for '\(keyword)' (a number with an optional unit: us, ms, s, m, h, "
                    + "d; at most 24.8 days)",
                at: location
            )
            return nil
        }
        return value
    }

    /// Reads the one argument `keyword` needs.
    mutating func argument(
        _ words: [String],
        _ index: Int,
        for keyword: String,
        what: String,
        at location: SourceLocation
    ) -> String? {
        guard index < words.count else {
            error("'\(keyword)' expects \(what)", at: location)
            return nil
        }
        return words[index]
    }

    /// Reports words after the last argument a keyword takes.
    mutating func expectEnd(_ words: [String], after count: Int, for keyword: String, at location: SourceLocation) {
        if words.count > count {
            error("unexpected '\(words[count])' after '\(keyword)'", at: location)
        }
    }

    /// An unknown keyword, with the closest valid one as a suggestion.
    mutating func unknown(_ word: String, in context: String, candidates: [String], at location: SourceLocation) {
        error(
            "unknown keyword '\(word)' in '\(context)' section",
            at: location,
            suggestion: EditDistance.suggestion(for: word, among: candidates)
        )
    }
}
