#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// `acl` and `tcp-request` lines: HAProxy's access-control language, for the fetches sidecar evaluates.
extension Parser {
    /// `acl NAME FETCH [-i] [-m METHOD] [-f FILE]... [--] [PATTERN...]`.
    mutating func parseACL(_ words: [String], into draft: inout ProxyDraft, at location: SourceLocation) {
        guard words.count >= 3 else {
            error("'acl' expects a name and a fetch, e.g. 'acl ok_cn ssl_c_s_dn(CN) -m str node1'", at: location)
            return
        }
        let name = words[1]
        checkName(name, what: "acl", at: location)
        if name == "or" || name.hasPrefix("!") || name == "||" {
            error("'\(name)' cannot be an ACL name", at: location)
            return
        }
        guard let acl = aclBody(words[2...], name: name, at: location) else { return }
        draft.acls[name, default: []].append(acl)
    }

    /// Reads a fetch, its flags and its patterns: the part of an `acl` line after the name, or the inside of
    /// `{ ... }`. Pattern files are read here, regular expressions compiled, addresses parsed.
    package mutating func aclBody(_ words: ArraySlice<String>, name: String?, at location: SourceLocation) -> ACL? {
        guard let fetchText = words.first else {
            error("an ACL needs a fetch, e.g. '{ ssl_c_s_dn(CN) node1 }'", at: location)
            return nil
        }
        let fetch: ACLFetch
        switch ACLFetch.parse(fetchText) {
        case .success(let parsed): fetch = parsed
        case .failure(let failure):
            error(
                failure.message, at: location,
                suggestion: failure.unknownName.flatMap { EditDistance.suggestion(for: $0, among: ACLFetch.names) })
            return nil
        }
        var ignoreCase = false
        var method: String?
        var files: [String] = []
        var index = words.index(after: words.startIndex)
        flags: while index < words.endIndex, words[index].hasPrefix("-") {
            let flag = words[index]
            switch flag {
            case "--":
                index += 1
                break flags
            case "-i":
                ignoreCase = true
            case "-m", "-f":
                guard index + 1 < words.endIndex else {
                    error("'\(flag)' expects \(flag == "-m" ? "a method" : "a file")", at: location)
                    return nil
                }
                index += 1
                if flag == "-m" {
                    method = words[index]
                } else {
                    files.append(patternFilePath(words[index], at: location))
                }
            default:
                error(
                    "unsupported ACL flag '\(flag)' (supported: -i, -m METHOD, -f FILE, --; write '--' before a "
                        + "pattern that starts with '-')",
                    at: location)
                return nil
            }
            index += 1
        }
        var patterns = Array(words[index...])
        for file in files {
            guard let lines = patternFileLines(file, at: location) else { return nil }
            patterns += lines
        }
        guard let compiled = compilePatterns(patterns, for: fetch, method: method, ignoreCase: ignoreCase, at: location)
        else { return nil }
        if patterns.isEmpty && files.isEmpty && fetch.valueKind != .boolean {
            warning("ACL '\(name ?? "{ \(fetchText) }")' has no pattern: it never matches", at: location)
        }
        return ACL(name: name, fetch: fetch, patterns: compiled, patternFiles: files, location: location)
    }

    /// Turns pattern words into the form `fetch` is compared with, reporting the first bad one.
    private mutating func compilePatterns(
        _ patterns: [String], for fetch: ACLFetch, method: String?, ignoreCase: Bool, at location: SourceLocation
    ) -> ACL.Patterns? {
        func refuseMethod(_ allowed: String) -> Bool {
            guard let method, method != allowed else { return false }
            error("'-m \(method)' does not apply to '\(fetch)' (it is matched with '-m \(allowed)')", at: location)
            return true
        }
        switch fetch.valueKind {
        case .boolean:
            if let method, method != "bool", method != "found" {
                error("'-m \(method)' does not apply to the boolean fetch '\(fetch)'", at: location)
                return nil
            }
            if let first = patterns.first {
                error(
                    "the boolean fetch '\(fetch)' takes no pattern, not '\(first)' (write '!' to negate)", at: location)
                return nil
            }
            return .boolean
        case .integer:
            if refuseMethod("int") { return nil }
            var ranges: [ClosedRange<Int64>] = []
            var operation: String?
            for pattern in patterns {
                if ["eq", "lt", "le", "gt", "ge"].contains(pattern) {
                    operation = pattern
                    continue
                }
                guard let range = Self.integerRange(pattern, operation: operation) else {
                    error(
                        "'\(pattern)' is not an integer pattern for '\(fetch)' (a number, 'MIN:MAX', or 'ge N' "
                            + "and the like)",
                        at: location)
                    return nil
                }
                ranges.append(range)
            }
            return .integers(ranges)
        case .address:
            if refuseMethod("ip") { return nil }
            var addresses: [IPPattern] = []
            for pattern in patterns {
                guard let address = IPPattern(pattern) else {
                    error("'\(pattern)' is not an IP address or CIDR block for 'src'", at: location)
                    return nil
                }
                addresses.append(address)
            }
            return .addresses(addresses)
        case .string:
            let methodName = method ?? "str"
            if methodName == "reg" {
                var regexes: [ACLRegex] = []
                for pattern in patterns {
                    do {
                        regexes.append(try ACLRegex(pattern, ignoreCase: ignoreCase))
                    } catch let failure {
                        error("invalid regular expression '\(pattern)': \(failure.message)", at: location)
                        return nil
                    }
                }
                return .regexes(regexes)
            }
            guard let stringMethod = ACL.StringMethod(rawValue: methodName) else {
                error(
                    "unsupported match method '-m \(methodName)' (supported: str, beg, end, sub, reg)",
                    at: location,
                    suggestion: EditDistance.suggestion(for: methodName, among: ["str", "beg", "end", "sub", "reg"]))
                return nil
            }
            var strings = patterns
            if fetch == .serial || fetch == .sha1 {
                // Hex as `openssl x509 -serial|-fingerprint` prints it, with or without colons.
                strings = strings.map { $0.replacing(":", with: "").uppercased() }
            }
            if ignoreCase { strings = strings.map { $0.lowercased() } }
            return .strings(strings, method: stringMethod, ignoreCase: ignoreCase)
        }
    }

    /// `5`, `10:23`, `:9`, `1:`, or a number after `eq|lt|le|gt|ge`.
    static func integerRange(_ text: String, operation: String?) -> ClosedRange<Int64>? {
        if let operation {
            guard let value = Int64(text) else { return nil }
            switch operation {
            case "lt": return value == .min ? nil : Int64.min...(value - 1)
            case "le": return Int64.min...value
            case "gt": return value == .max ? nil : (value + 1)...Int64.max
            case "ge": return value...Int64.max
            default: return value...value
            }
        }
        if let colon = text.firstIndex(of: ":") {
            let low = text[..<colon].isEmpty ? Int64.min : Int64(text[..<colon])
            let high = text[text.index(after: colon)...].isEmpty ? Int64.max : Int64(text[text.index(after: colon)...])
            guard let low, let high, low <= high else { return nil }
            return low...high
        }
        return Int64(text).map { $0...$0 }
    }

    /// An absolute path as is; a relative one under the directory of the file being parsed.
    private func patternFilePath(_ value: String, at location: SourceLocation) -> String {
        guard !value.hasPrefix("/"), let slash = location.file.lastIndex(of: "/") else { return value }
        return String(location.file[...slash]) + value
    }

    /// HAProxy's pattern file format: one pattern per line, leading blanks stripped, empty lines and lines
    /// starting with `#` skipped; the rest of the line (inner and trailing blanks included) is the pattern.
    private mutating func patternFileLines(_ path: String, at location: SourceLocation) -> [String]? {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = access(path, R_OK) == 0 ? "not a readable file" : String(cString: strerror(errno))
            error("cannot read ACL pattern file '\(path)': \(reason)", at: location)
            return nil
        }
        var lines: [String] = []
        for rawLine in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
            var line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            lines.append(String(line))
        }
        return lines
    }

    /// `tcp-request connection|session accept|reject [if|unless COND]`.
    mutating func parseTCPRequest(_ words: [String], into draft: inout ProxyDraft, at location: SourceLocation) {
        let phases = ["connection", "session"]
        guard words.count >= 3 else {
            error("'tcp-request' expects 'session' or 'connection', then 'accept' or 'reject'", at: location)
            return
        }
        let phase = words[1]
        guard phases.contains(phase) else {
            if phase == "content" || phase == "inspect-delay" {
                error(
                    "'tcp-request \(phase)' is not supported: sidecar never inspects the payload; use "
                        + "'tcp-request session' for decisions on the peer's certificate or address",
                    at: location)
            } else {
                error(
                    "unknown 'tcp-request' phase '\(phase)' (supported: session, connection)", at: location,
                    suggestion: EditDistance.suggestion(for: phase, among: phases))
            }
            return
        }
        guard let action = AccessRule.Action(rawValue: words[2]) else {
            error(
                "'tcp-request \(phase) \(words[2])' is not supported (supported actions: accept, reject)",
                at: location, suggestion: EditDistance.suggestion(for: words[2], among: ["accept", "reject"]))
            return
        }
        var condition: Condition?
        if words.count > 3 {
            guard let polarity = Condition.Polarity(rawValue: words[3]) else {
                error(
                    "expected 'if' or 'unless' after 'tcp-request \(phase) \(action)', not '\(words[3])'",
                    at: location)
                return
            }
            guard let parsed = parseCondition(words[4...], polarity: polarity, acls: draft.acls, at: location) else {
                return
            }
            condition = parsed
        }
        let rule = AccessRule(action: action, condition: condition, location: location)
        if phase == "connection" {
            if let tlsACL = condition?.allACLs.first(where: { $0.fetch.needsHandshake }) {
                let used = tlsACL.name.map { "ACL '\($0)' (\(tlsACL.fetch))" } ?? "'\(tlsACL.fetch)'"
                error(
                    "\(used) cannot be used in 'tcp-request connection': those rules run when the connection is "
                        + "accepted, before the TLS handshake, so there is no certificate yet (HAProxy only warns and "
                        + "the ACL never matches there, so 'reject unless' would reject every connection); write "
                        + "'tcp-request session' instead",
                    at: location)
                return
            }
            draft.connectionRules.append(rule)
        } else {
            draft.sessionRules.append(rule)
        }
    }

    /// Terms are AND-ed, `||`/`or` separates OR-ed alternatives, `!` negates the next term; a term is a
    /// named ACL (defined earlier in the section) or `{ FETCH [flags] PATTERN... }`.
    package mutating func parseCondition(
        _ words: ArraySlice<String>, polarity: Condition.Polarity, acls: [String: [ACL]], at location: SourceLocation
    ) -> Condition? {
        var alternatives: [[Condition.Term]] = []
        var current: [Condition.Term] = []
        var negated = false
        var index = words.startIndex
        while index < words.endIndex {
            var word = words[index]
            index += 1
            if word == "||" || word == "or" {
                guard !current.isEmpty, !negated else {
                    error("'\(word)' needs a term on each side", at: location)
                    return nil
                }
                alternatives.append(current)
                current = []
                continue
            }
            if word == "!" {
                negated.toggle()
                continue
            }
            if word.hasPrefix("!") {
                negated.toggle()
                word.removeFirst()
            }
            if word == "{" {
                guard let close = words[index...].firstIndex(of: "}") else {
                    error("'{' without a matching '}' (braces must be separate words: '{ ssl_c_used }')", at: location)
                    return nil
                }
                guard let acl = aclBody(words[index..<close], name: nil, at: location) else { return nil }
                current.append(Condition.Term(name: nil, acls: [acl], negated: negated))
                negated = false
                index = close + 1
                continue
            }
            if word.hasPrefix("{") || word == "}" || word.hasSuffix("}") {
                error("braces must be separate words, as in '{ ssl_c_s_dn(CN) node1 }', not '\(word)'", at: location)
                return nil
            }
            guard let named = acls[word] else {
                error(
                    "unknown ACL '\(word)' (declare it with an 'acl' line before this rule)", at: location,
                    suggestion: EditDistance.suggestion(for: word, among: acls.keys.sorted()))
                return nil
            }
            current.append(Condition.Term(name: word, acls: named, negated: negated))
            negated = false
        }
        guard !current.isEmpty, !negated else {
            error("the condition after '\(polarity.rawValue)' is empty or ends with an operator", at: location)
            return nil
        }
        alternatives.append(current)
        return Condition(polarity: polarity, alternatives: alternatives)
    }
}
