import Testing

@testable import SidecarRuntime

/// The formats that replace Foundation's `String(format:)` (`%.1f`, `%02d`, `%04x`).
@Suite struct TextFormatTests {
    @Test func oneDecimalRoundsHalfAwayFromZero() {
        #expect(TextFormat.oneDecimal(0) == "0.0")
        #expect(TextFormat.oneDecimal(1.25) == "1.3")
        #expect(TextFormat.oneDecimal(12.04) == "12.0")
        #expect(TextFormat.oneDecimal(999.96) == "1000.0")
    }

    @Test func twoDigitsAndHex() {
        #expect(TextFormat.twoDigits(7) == "07")
        #expect(TextFormat.twoDigits(59) == "59")
        #expect(TextFormat.hex4(0x1f) == "001f")
        #expect(TextFormat.hex4(0xabcd) == "abcd")
    }

    @Test func paddingAndTrimming() {
        #expect(TextFormat.padded("ab", to: 5) == "ab   ")
        #expect(TextFormat.padded("abcdef", to: 3) == "abcdef")
        #expect(TextFormat.trimmed("  a b \t") == "a b")
        #expect(TextFormat.trimmed("   ") == "")
    }
}
