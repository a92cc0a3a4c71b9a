import Foundation
import Testing

@testable import SidecarConfig

/// sidecar.cfg(5), the configuration reference installed as a man page, names every keyword and option the
/// parser accepts, like the README (ReadmeReferenceTests), so the two cannot drift apart.
@Suite struct ManualReferenceTests {
    /// The page's text with roff's escapes for the hyphen and font changes taken out, as a reader sees it.
    static let manual: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let source = (try? String(contentsOf: root.appendingPathComponent("man/sidecar.cfg.5"), encoding: .utf8)) ?? ""
        return source.replacingOccurrences(of: "\\-", with: "-").replacingOccurrences(of: "\\fB", with: "")
            .replacingOccurrences(of: "\\fI", with: "").replacingOccurrences(of: "\\fR", with: "")
            .replacingOccurrences(of: "\\&", with: "")
    }()

    @Test func manualExists() {
        #expect(Self.manual.contains(".TH SIDECAR.CFG 5"))
    }

    @Test(arguments: Set(ReadmeReferenceTests.keywords).sorted())
    func keywordIsInTheManual(_ keyword: String) {
        let words = Self.manual.split(whereSeparator: { " \n\t,;()|/".contains($0) }).map(String.init)
        let found =
            keyword.contains(" ")
            ? Self.manual.contains(keyword) : words.contains { $0 == keyword || $0 == keyword + "." }
        #expect(found, "man/sidecar.cfg.5 does not mention '\(keyword)'")
    }
}
