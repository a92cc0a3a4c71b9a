/// The few number and text formats the runtime prints, without Foundation's `String(format:)`: sidecar
/// links FoundationEssentials only, which leaves out ICU and its resident memory.
enum TextFormat {
    /// `12.3`: one decimal, rounded half away from zero (`%.1f` for the non-negative values shown here).
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    /// `07`: at least two digits (`%02d`).
    static func twoDigits(_ value: Int) -> String {
        value < 10 && value >= 0 ? "0\(value)" : "\(value)"
    }

    /// `001f`: four lower-case hex digits (`%04x`).
    static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// `text` padded with spaces to `width` characters (never cut).
    static func padded(_ text: String, to width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    /// `text` without leading and trailing white space.
    static func trimmed<S: StringProtocol>(_ text: S) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
