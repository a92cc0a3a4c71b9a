import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler writing one line per event to stderr:
/// `2026-11-23T03:59:01.123Z warning connection refused frontend=bluechi peer=10.0.0.7:51234 reason="..."`.
///
/// Keys keep their order of insertion's sort (alphabetical), values with spaces are quoted, so lines grep
/// and parse easily; journald adds its own timestamp, but the one here keeps stderr logs self-contained.
///
/// One event is always one line: values come from peers (certificate names, addresses, TLS alerts), so
/// nothing is written as it is. In the message, control characters become `\n`, `\r`, `\t`, `\0`,
/// `\xNN` (C0 and DEL) or `\u{NNNN}` (C1, U+2028, U+2029). A value is quoted when it is empty or holds a
/// space, `=`, `"`, `\` or a control character, and inside the quotes `"` and `\` are escaped too
/// (`\"`, `\\`), so `key="..."` always ends at the first unescaped quote. Keys get the message's escaping
/// and never hold a space or `=`.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line = Self.line(
            timestamp: Self.timestamp(), level: "\(event.level)", message: "\(event.message)",
            metadata: merged.keys.sorted().map { ($0, "\(merged[$0]!)") })
        // One write(2) per line, so lines from several threads never interleave. The byte count, not strlen:
        // nothing in the line can cut it short.
        _ = line.withUTF8 { write(2, $0.baseAddress, $0.count) }
    }

    /// The whole line, newline included, every part escaped.
    static func line(timestamp: String, level: String, message: String, metadata: [(String, String)]) -> String {
        var line = "\(timestamp) \(level) \(escaped(message))"
        for (key, value) in metadata {
            line += " \(escapedKey(key))=\(quoted(value))"
        }
        return line + "\n"
    }

    /// `text` with control characters escaped (see the type's documentation); backslashes are kept.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) { result += escape(scalar) } else { result.unicodeScalars.append(scalar) }
        }
        return result
    }

    static func quoted(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || isControl($0) }
        if !needsQuotes { return value }
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where isControl(scalar): result += escape(scalar)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private static func escapedKey(_ key: String) -> String {
        escaped(key).replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "=", with: "_")
    }

    /// C0 controls, DEL, C1 controls and the Unicode line and paragraph separators: anything a terminal,
    /// journald or a log shipper could take as the end of a line or an instruction.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0) || scalar.value == 0x2028
            || scalar.value == 0x2029
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\u{0}": return "\\0"
        default:
            let hex = String(scalar.value, radix: 16, uppercase: true)
            if scalar.value < 0x80 { return "\\x" + (hex.count < 2 ? "0" + hex : hex) }
            return "\\u{" + hex + "}"
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
