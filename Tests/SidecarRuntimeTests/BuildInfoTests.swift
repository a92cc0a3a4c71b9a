import Foundation
import Testing

@testable import SidecarRuntime

/// The release number is written in three places; the packages and the binary must agree.
@Suite struct BuildInfoTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func file(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func debianChangelogHasTheBinarysVersion() throws {
        let first = try Self.file("debian/changelog").split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("sidecar (\(BuildInfo.version)) "), "debian/changelog: \(first)")
    }

    @Test func rpmSpecHasTheBinarysVersion() throws {
        let lines = try Self.file("sidecar.spec").split(separator: "\n")
        let version = lines.first { $0.hasPrefix("Version:") }?.dropFirst("Version:".count)
            .trimmingCharacters(in: .whitespaces)
        #expect(version == BuildInfo.version, "sidecar.spec: Version: \(version ?? "missing")")
    }

    @Test func reportStartsWithTheRelease() {
        #expect(BuildInfo.report.hasPrefix("sidecar \(BuildInfo.version)\n"))
        #expect(BuildInfo.report.contains("\nOpenSSL: OpenSSL 3."))
    }
}
