import Testing

@testable import SidecarRuntime

/// Every event is one line whatever its values hold: certificate names and TLS alerts come from peers.
@Suite struct LineLogHandlerTests {
    private func line(_ message: String, _ metadata: [(String, String)] = []) -> String {
        LineLogHandler.line(timestamp: "T", level: "warning", message: message, metadata: metadata)
    }

    @Test func aNewlineOrANULInAValueCannotStartAnotherLine() {
        let written = line(
            "connection refused",
            [("reason", "CN 'a\nT warning forged'"), ("subject", "/CN=a\u{0}tail"), ("peer", "10.0.0.7:1")])
        #expect(written.filter { $0 == "\n" }.count == 1)
        #expect(
            written
                == #"T warning connection refused reason="CN 'a\nT warning forged'" subject="/CN=a\0tail" peer=10.0.0.7:1"#
                + "\n")
    }

    @Test func quotesAndBackslashesCannotEndAQuotedValueEarly() {
        let written = line("m", [("reason", #"x" forged="y \"#)])
        #expect(written == #"T warning m reason="x\" forged=\"y \\""# + "\n")
    }

    @Test func controlCharactersInTheMessageAreEscapedAndBackslashesKept() {
        #expect(
            line("a\r\nb\t\u{1B}[31m\u{7F}\u{85}\u{2028}c\\2F") == #"T warning a\r\nb\t\x1B[31m\x7F\u{85}\u{2028}c\2F"#
                + "\n")
    }

    @Test func plainValuesStayUnquotedAndEmptyOnesAreQuoted() {
        #expect(line("m", [("a", "b"), ("c", ""), ("d", "x=y")]) == #"T warning m a=b c="" d="x=y""# + "\n")
    }
}
