import Foundation
import SidecarConfig
import SidecarSystemd
import Testing

@testable import SidecarRuntime

/// `sidecar check` prints the descriptor budget, and warns when a configured global `maxconn` needs more
/// descriptors than the limit allows.
@Suite struct DescriptorCheckTests {
    private func check(global: String) throws -> ConfigCheck {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = """
            global
                \(global)
            frontend fwd
                bind /tmp/nowhere-front.sock
                default_backend fwd
            backend fwd
                timeout connect 1s
                server s /tmp/nowhere.sock

            """
        let file = directory.appendingPathComponent("fwd.cfg")
        try Data(text.utf8).write(to: file)
        return CheckRunner.check(paths: [file.path], mode: nil, loadFiles: true)
    }

    @Test func checkPrintsTheDerivedMaxconnForThisProcesssLimit() throws {
        let result = try check(global: "nbthread 1")
        let hard = DescriptorLimit.current().hard
        let expected = hard == Int.max ? "limit unlimited" : "limit \(hard)"
        #expect(result.isValid, "\(result.lines)")
        #expect(
            result.lines.contains { $0.hasPrefix("descriptors: \(expected), 33 reserved; global maxconn") },
            "\(result.lines)")
        #expect(result.lines.contains { $0.contains("(derived from the limit)") }, "\(result.lines)")
        #expect(result.lines.last?.hasPrefix("configuration valid") == true)
    }

    @Test func checkWarnsWhenAConfiguredMaxconnExceedsTheLimit() throws {
        let hard = DescriptorLimit.current().hard
        try #require(hard < 1_000_000_000, "this test needs a finite hard descriptor limit")
        let result = try check(global: "maxconn \(hard)")
        #expect(result.isValid)
        #expect(
            result.lines.contains { $0.hasPrefix("warning: global maxconn \(hard) needs about") }, "\(result.lines)")
    }
}
