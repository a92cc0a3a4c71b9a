import Foundation
import Testing

@testable import SidecarConfig

/// `ACLRegex` against PCRE2, the library Debian's HAProxy is built with (`haproxy -vv`: `+PCRE2`), through
/// `grep -P`, on the PCRE2 forms sidecar accepts beyond POSIX: `\d \w \s \b`, `(?:)`, lazy quantifiers, `\x`,
/// escapes inside brackets, a leading `(?i)`. Values are one line each (grep's unit), ASCII, in the C locale.
@Suite struct ACLRegexPCRE2Tests {
    static let patterns = [
        "^\\d{2,}$", "\\bnode\\d+\\b", "^\\w+$", "\\W", "^\\S+\\s\\S+$", "^(?:ab|cd)+$", "^a+?b$", "^a{2,3}?$",
        "(?i)^node[0-9]$", "^\\x41\\x{42}$", "^[\\d.]+$", "^[\\w-]+\\.example\\.com$", "\\Bde", "^[^\\s]+$",
        "^node\\.[a-z]+$", "^x\\t?y$", "^[[:alpha:]]+\\d$", "^\\e?a", "^(a|b)*?c", "\\b\\w+\\b \\b", "^\\D+$",
        "^[\\]\\[]+$", "^a\\.b$", "^\\(x\\)$", "(?:^|\\.)example\\.com$", "^[a-f\\d]{2}(?::[a-f\\d]{2})*$",
        "^(?:node|agent)-\\d{1,3}$", "^\\s*$", "[[:punct:]]\\w",
    ]

    static let values = [
        "node1", "node12", "Node7", "NODE1", "ab", "abcd", "aab", "aaab", "aaa", "AB", "12", "1.2.3", "a-b.example.com",
        "a_b.example.com", "example.com", "x y", "x\ty", "xy", "node.lab", "abc1", "x", "\u{1B}a", "", "a b c",
        "ac", "bbc", "[]", "a.b", "axb", "(x)", "0a:ff:10", "0A:FF", "agent-12", "node-1234", "  ", "-de", "nodes",
        "node 1", "x!y",
    ]

    @Test(arguments: patterns)
    func agreesWithPCRE2(pattern: String) throws {
        for ignoreCase in [false, true] {
            let expected = try Self.pcre2MatchingLines(pattern, ignoreCase: ignoreCase, values: Self.values)
            let regex = try ACLRegex(pattern, ignoreCase: ignoreCase)
            for (index, value) in Self.values.enumerated() {
                #expect(
                    regex.matches(value) == expected.contains(index),
                    "'\(pattern)'\(ignoreCase ? " -i" : "") against \(value.debugDescription)")
            }
        }
    }

    /// The indices of the values `grep -P` (PCRE2) finds the pattern in, one value per line.
    static func pcre2MatchingLines(_ pattern: String, ignoreCase: Bool, values: [String]) throws -> Set<Int> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/grep")
        process.arguments = ["-P", "-n"] + (ignoreCase ? ["-i"] : []) + ["-e", pattern]
        process.environment = ["LC_ALL": "C"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data((values.joined(separator: "\n") + "\n").utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: try output.fileHandleForReading.readToEnd() ?? Data(), as: UTF8.self)
        process.waitUntilExit()
        // 0: some line matched; 1: none did; anything else: grep refused the pattern.
        try #require(process.terminationStatus <= 1, "grep -P refused '\(pattern)'")
        return Set(
            text.split(separator: "\n").compactMap { line in line.split(separator: ":").first.flatMap { Int($0) } }.map
            { $0 - 1 })
    }
}
