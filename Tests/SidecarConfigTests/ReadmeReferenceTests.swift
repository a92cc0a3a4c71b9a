import Foundation
import Testing

@testable import SidecarConfig

/// The README's configuration reference is the operator's manual: every keyword and option the parser
/// accepts must appear in it, so the two cannot drift apart.
@Suite struct ReadmeReferenceTests {
    static let readme: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }()

    static var keywords: [String] {
        Parser.globalKeywords + Parser.proxyKeywords.map(\.keyword) + Array(Parser.bindOptions.keys)
            + Array(Parser.serverOptions.keys) + IgnoredKeyword.all.map(\.keyword)
    }

    @Test func readmeExists() {
        #expect(!Self.readme.isEmpty)
    }

    @Test(arguments: Set(keywords).sorted())
    func keywordIsDocumented(_ keyword: String) {
        #expect(
            Self.readme.contains("`\(keyword)") || Self.readme.contains(" \(keyword) ")
                || Self.readme.contains(" \(keyword)`"), "README.md does not mention '\(keyword)'")
    }
}

/// Settings sidecar cannot honour are said, not silently ignored.
@Suite struct UnhonouredSettingTests {
    @Test(arguments: ["no option redispatch", "option redispatch 0"])
    func turningRedispatchOffWarns(_ line: String) throws {
        let text =
            "backend b\n    \(line)\n    server s /tmp/s.sock\nfrontend f\n    bind /tmp/f.sock\n    default_backend b\n"
        let configuration = try ConfigLoader(environment: [:]).load(text: text, file: "r.cfg")
        let warning = configuration.warnings.first { $0.message.contains("always retries") }
        #expect(warning?.location.line == 2, "\(configuration.warnings)")
    }
}
