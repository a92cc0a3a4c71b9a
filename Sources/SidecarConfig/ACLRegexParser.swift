/// Parses a `-m reg` expression into an `ACLRegexNode`: POSIX extended syntax with the PCRE2 additions operators
/// bring from HAProxy (Debian's HAProxy is built with PCRE2), limited to what a linear-time matcher can do.
///
/// Accepted: literals; `.`; `^` `$`; `( )` and `(?: )`; `|`; `* + ? {m} {m,} {m,n} {,n}` and their lazy forms
/// (`*?` ...: the same yes/no answer); bracket expressions with ranges, negation, a leading `]`, POSIX classes
/// (`[:alpha:]`...) and escapes; `\d \D \w \W \s \S \b \B`; `\t \n \r \f \v \e \a`; `\xHH`, `\x{HHHH}`; any
/// escaped punctuation; `(?i)` at the very start.
///
/// Refused, each with its own message and the 1-based position of the construct: backreferences, lookaround,
/// atomic groups and possessive quantifiers (all need backtracking), other inline flags, named groups, `\p{...}`,
/// `\A \z \Z \G`, `\Q...\E`, collating elements, a quantifier with nothing to repeat, and `{` that does not start
/// a repetition (write `\{`).
struct ACLRegexParser {
    /// How deep groups may nest: the parser, the size count and the emitter recurse once per level.
    static let nestingLimit = 100

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var depth = 0
    /// `-i`, or a leading `(?i)`.
    private(set) var ignoreCase: Bool

    init(_ source: String, ignoreCase: Bool) {
        self.scalars = Array(source.unicodeScalars)
        self.ignoreCase = ignoreCase
    }

    /// - Throws: `ACLRegex.CompileError` naming the construct and its position.
    mutating func parse() throws(ACLRegex.CompileError) -> ACLRegexNode {
        if scalars.starts(with: "(?i)".unicodeScalars) {
            ignoreCase = true
            index = 4
        }
        let node = try parseAlternation()
        if index < scalars.count {
            // parseAlternation stops only at the end or at a ')' it did not open.
            throw error("unmatched ')'", at: index)
        }
        return node
    }

    // MARK: Structure

    private mutating func parseAlternation() throws(ACLRegex.CompileError) -> ACLRegexNode {
        var branches = [try parseConcatenation()]
        while peek() == "|" {
            index += 1
            branches.append(try parseConcatenation())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseConcatenation() throws(ACLRegex.CompileError) -> ACLRegexNode {
        var items: [ACLRegexNode] = []
        while let scalar = peek(), scalar != "|", scalar != ")" {
            let atom = try parseAtom()
            items.append(try parseQuantifiers(of: atom))
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .concatenation(items)
        }
    }

    /// One quantifier after `atom`, if any, and its lazy `?`. A second quantifier is an error: `a**` has nothing
    /// to repeat in PCRE, and `a*+` is possessive.
    private mutating func parseQuantifiers(of atom: ACLRegexNode) throws(ACLRegex.CompileError) -> ACLRegexNode {
        let quantifierStart = index
        guard let (minimum, maximum) = try parseQuantifier() else { return atom }
        if case .assertion = atom {
            throw error(
                "'\(text(from: quantifierStart))' repeats an anchor or word boundary, which matches no character",
                at: quantifierStart)
        }
        if peek() == "?" {
            index += 1  // lazy: same yes/no answer
        } else if peek() == "+" {
            throw error(
                "possessive quantifiers ('\(text(from: quantifierStart))') are not supported: sidecar matches in "
                    + "linear time, without backtracking; remove the '+'",
                at: index)
        }
        let next = index
        if try parseQuantifier() != nil {
            throw error("'\(text(from: next))' follows another repetition and has nothing to repeat", at: next)
        }
        return .repetition(atom, minimum: minimum, maximum: maximum)
    }

    /// `*`, `+`, `?` or `{...}` at the current position, consumed; nil if there is none.
    private mutating func parseQuantifier() throws(ACLRegex.CompileError) -> (Int, Int?)? {
        switch peek() {
        case "*":
            index += 1
            return (0, nil)
        case "+":
            index += 1
            return (1, nil)
        case "?":
            index += 1
            return (0, 1)
        case "{":
            return try parseBraces()
        default:
            return nil
        }
    }

    /// `{m}`, `{m,}`, `{m,n}`, `{,n}` (PCRE2 10.43 and glibc read the last as `{0,n}`).
    private mutating func parseBraces() throws(ACLRegex.CompileError) -> (Int, Int?) {
        let start = index
        index += 1
        let minimum = parseNumber()
        var maximum = minimum
        if peek() == "," {
            index += 1
            maximum = parseNumber()
        }
        guard peek() == "}", minimum != nil || maximum != nil else {
            throw error("'{' does not start a repetition {m}, {m,} or {m,n}; write '\\{' for a brace", at: start)
        }
        index += 1
        let written = text(from: start)
        for count in [minimum, maximum].compactMap({ $0 }) where count > ACLRegexProgram.repetitionLimit {
            throw error(
                "repetition count in '\(written)' is larger than \(ACLRegexProgram.repetitionLimit)", at: start)
        }
        let low = minimum ?? 0
        if let maximum, maximum < low {
            throw error("repetition '\(written)' has its minimum above its maximum", at: start)
        }
        return (low, maximum)
    }

    /// Decimal digits at the current position (capped, so a long run cannot overflow), or nil if there are none.
    private mutating func parseNumber() -> Int? {
        var value: Int?
        while let scalar = peek(), scalar >= "0" && scalar <= "9" {
            value = min((value ?? 0) * 10 + Int(scalar.value - 0x30), 1_000_000)
            index += 1
        }
        return value
    }

    private mutating func parseAtom() throws(ACLRegex.CompileError) -> ACLRegexNode {
        let start = index
        let scalar = scalars[index]
        index += 1
        switch scalar {
        case "(":
            return try parseGroup(openedAt: start)
        case "[":
            return .set(try parseBracket(openedAt: start))
        case ".":
            return .any
        case "^":
            return .assertion(.start)
        case "$":
            return .assertion(.end)
        case "\\":
            switch try parseEscape(inBracket: false, at: start) {
            case .scalar(let scalar): return literal(scalar)
            case .set(let set): return .set(set)
            case .assertion(let assertion): return .assertion(assertion)
            }
        case "*", "+", "?":
            throw error("'\(scalar)' has nothing to repeat (write '\\\(scalar)' for the character)", at: start)
        case "{":
            index = start
            if (try? parseBraces()) != nil {
                throw error("'\(text(from: start))' has nothing to repeat", at: start)
            }
            throw error("'{' does not start a repetition {m}, {m,} or {m,n}; write '\\{' for a brace", at: start)
        default:
            return literal(scalar)
        }
    }

    private func literal(_ scalar: Unicode.Scalar) -> ACLRegexNode {
        .scalar(ignoreCase ? ACLRegexCharacterSet.lowercase(scalar) : scalar)
    }

    /// After `(`: `(?:...)` or a plain group (which captures nothing here); every other `(?` form is refused.
    private mutating func parseGroup(openedAt start: Int) throws(ACLRegex.CompileError) -> ACLRegexNode {
        if peek() == "?" {
            let next = scalars.count > index + 1 ? scalars[index + 1] : nil
            let third = scalars.count > index + 2 ? scalars[index + 2] : nil
            switch next {
            case ":":
                index += 2
            case "=", "!":
                throw error("lookahead ('(?\(next!)') is not supported: sidecar matches in linear time", at: start)
            case "<" where third == "=" || third == "!":
                throw error(
                    "lookbehind ('(?<\(third!)') is not supported: sidecar matches in linear time", at: start)
            case "<", "P", "'":
                throw error("named groups are not supported: use '(' or '(?:'", at: start)
            case ">":
                throw error(
                    "atomic groups ('(?>') are not supported: sidecar matches in linear time, without "
                        + "backtracking; use '(?:'",
                    at: start)
            case "i" where third == ")":
                throw error("'(?i)' is only supported at the very start of the expression (or use -i)", at: start)
            default:
                throw error(
                    "'(?\(next.map { String($0) } ?? "")' is not supported (inline flags other than a leading "
                        + "'(?i)', comments, conditionals...)",
                    at: start)
            }
        }
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.nestingLimit else {
            throw error("groups nested more than \(Self.nestingLimit) deep", at: start)
        }
        let node = try parseAlternation()
        guard peek() == ")" else { throw error("unmatched '('", at: start) }
        index += 1
        return node
    }

    // MARK: Bracket expressions

    /// After `[`: up to the closing `]`. A `]` right after `[` or `[^` is a literal, as is `-` first or last.
    private mutating func parseBracket(openedAt start: Int) throws(ACLRegex.CompileError) -> ACLRegexCharacterSet {
        var negated = false
        if peek() == "^" {
            negated = true
            index += 1
        }
        var set = ACLRegexCharacterSet()
        var first = true
        while true {
            guard let scalar = peek() else { throw error("unmatched '['", at: start) }
            if scalar == "]" && !first {
                index += 1
                break
            }
            first = false
            let itemStart = index
            let item = try parseBracketItem()
            guard case .scalar(let low) = item else {
                if case .set(let members) = item { set.formUnion(members) }
                if peek() == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                    throw error("a range cannot start with a class, at '\(text(from: itemStart))-'", at: index)
                }
                continue
            }
            // A range: `a-z`, unless the `-` is last (`[a-]`).
            if peek() == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                index += 1
                let highStart = index
                guard case .scalar(let high) = try parseBracketItem() else {
                    throw error("a range cannot end with a class, at '\(text(from: itemStart))'", at: highStart)
                }
                guard low.value <= high.value else {
                    throw error("range '\(text(from: itemStart))' is out of order", at: itemStart)
                }
                set.formUnion(ACLRegexCharacterSet(ranges: [low.value...high.value]))
            } else {
                set.formUnion(ACLRegexCharacterSet(ranges: [low.value...low.value]))
            }
        }
        return negated ? set.inverted() : set
    }

    /// One member of a bracket expression: a scalar, a POSIX class or a class escape.
    private mutating func parseBracketItem() throws(ACLRegex.CompileError) -> Escape {
        let start = index
        let scalar = scalars[index]
        index += 1
        if scalar == "\\" {
            return try parseEscape(inBracket: true, at: start)
        }
        if scalar == "[", let kind = peek(), kind == ":" || kind == "." || kind == "=" {
            guard let end = closing(kind, from: index + 1) else {
                throw error("'[\(kind)' is not closed by '\(kind)]'", at: start)
            }
            let name = String(String.UnicodeScalarView(scalars[(index + 1)..<end]))
            index = end + 2
            guard kind == ":" else {
                throw error(
                    "collating elements and equivalence classes ('[\(kind)\(name)\(kind)]') are not supported",
                    at: start)
            }
            guard let set = ACLRegexCharacterSet.posixClasses[name] else {
                let known = ACLRegexCharacterSet.posixClasses.keys.sorted().joined(separator: ", ")
                throw error("unknown character class '[:\(name):]' (known: \(known))", at: start)
            }
            return .set(set)
        }
        return .scalar(scalar)
    }

    /// The index of `kind` followed by `]` (the end of `[:name:]`), searching from `from`.
    private func closing(_ kind: Unicode.Scalar, from: Int) -> Int? {
        var position = from
        while position + 1 < scalars.count {
            if scalars[position] == kind && scalars[position + 1] == "]" { return position }
            if scalars[position] == "]" { return nil }
            position += 1
        }
        return nil
    }

    // MARK: Escapes

    /// What a backslash sequence stands for.
    private enum Escape {
        case scalar(Unicode.Scalar)
        case set(ACLRegexCharacterSet)
        case assertion(ACLRegexProgram.Assertion)
    }

    /// After `\` (at `start`). Inside a bracket expression `\b` is a backspace, as in PCRE, and `\B` is refused.
    private mutating func parseEscape(inBracket: Bool, at start: Int) throws(ACLRegex.CompileError) -> Escape {
        guard let scalar = peek() else { throw error("'\\' at the end of the expression escapes nothing", at: start) }
        index += 1
        switch scalar {
        case "d": return .set(.digit)
        case "D": return .set(ACLRegexCharacterSet.digit.inverted())
        case "w": return .set(.word)
        case "W": return .set(ACLRegexCharacterSet.word.inverted())
        case "s": return .set(.space)
        case "S": return .set(ACLRegexCharacterSet.space.inverted())
        case "b": return inBracket ? .scalar("\u{08}") : .assertion(.wordBoundary)
        case "B":
            if inBracket { throw error("'\\B' means nothing inside a bracket expression", at: start) }
            return .assertion(.notWordBoundary)
        case "t": return .scalar("\t")
        case "n": return .scalar("\n")
        case "r": return .scalar("\r")
        case "f": return .scalar("\u{0C}")
        case "v": return .scalar("\u{0B}")
        case "e": return .scalar("\u{1B}")
        case "a": return .scalar("\u{07}")
        case "x": return .scalar(try parseHex(at: start))
        case "1"..."9", "k", "g":
            throw error(
                "backreferences ('\\\(scalar)') are not supported: sidecar matches in linear time", at: start)
        case "0":
            throw error("octal escapes ('\\0') are not supported: write '\\x00' or '\\x{...}'", at: start)
        case "p", "P":
            throw error(
                "Unicode properties ('\\\(scalar){...}') are not supported: use a bracket expression", at: start)
        case "A", "z", "Z", "G":
            throw error("'\\\(scalar)' is not supported: use '^' and '$'", at: start)
        case "Q", "E":
            throw error("quoting with '\\Q...\\E' is not supported: escape each character", at: start)
        default:
            guard scalar.properties.isAlphabetic || scalar.properties.numericType != nil else {
                return .scalar(scalar)  // `\.`, `\*`, `\\`, `\{`: the character itself
            }
            throw error("unknown escape '\\\(scalar)'", at: start)
        }
    }

    /// After `\x`: one or two hex digits, or `{` up to six hex digits `}` naming a Unicode scalar.
    private mutating func parseHex(at start: Int) throws(ACLRegex.CompileError) -> Unicode.Scalar {
        let braced = peek() == "{"
        if braced { index += 1 }
        var value: UInt32 = 0
        var digits = 0
        while let scalar = peek(), let digit = scalar.isASCII ? UInt32(String(scalar), radix: 16) : nil,
            braced || digits < 2
        {
            guard digits < 6 else {
                throw error("'\\x{...}' has more than six hex digits", at: start)
            }
            value = value * 16 + digit
            digits += 1
            index += 1
        }
        if braced {
            guard peek() == "}", digits > 0 else {
                throw error("'\\x{' must be followed by hex digits and '}'", at: start)
            }
            index += 1
        } else if digits == 0 {
            throw error("'\\x' must be followed by hex digits ('\\x41' or '\\x{41}')", at: start)
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw error("'\(text(from: start))' is not a Unicode scalar value", at: start)
        }
        return scalar
    }

    // MARK: Helpers

    private func peek() -> Unicode.Scalar? {
        index < scalars.count ? scalars[index] : nil
    }

    /// The expression's text from `start` to the current position, for messages.
    private func text(from start: Int) -> String {
        String(String.UnicodeScalarView(scalars[start..<max(start, min(index, scalars.count))]))
    }

    /// An error naming a 1-based position in the expression.
    private func error(_ message: String, at position: Int) -> ACLRegex.CompileError {
        ACLRegex.CompileError(message: "\(message) at \(position + 1)")
    }
}
