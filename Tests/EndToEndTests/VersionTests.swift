import Foundation
import Testing

/// `sidecar --version`: the release, the commit, the compiler and the OpenSSL the binary runs with.
@Suite struct VersionTests {
    @Test func versionNamesReleaseCommitCompilerAndTheRunningOpenSSL() async throws {
        try await withScenario { scenario in
            let result = try await scenario.runSidecar(["--version"])
            #expect(result.exitStatus == 0, "\(result.transcript)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(result.transcript)")
            #expect(lines.first?.hasPrefix("sidecar 0.") == true, "\(result.transcript)")
            // A plain `swift build` knows no commit and says so; `make` passes it (checked on the release
            // build by scripts/package-check.sh).
            let commit = lines.count > 1 ? lines[1] : ""
            #expect(
                commit == "commit: unknown" || commit.wholeMatch(of: /commit: [0-9a-f]{12}(-modified)?/) != nil,
                "\(lines)")
            #expect(lines.contains { $0.hasPrefix("compiler: Swift version 6.") }, "\(lines)")
            // The library loaded at run time, as the openssl tool (the same libssl3) reports it.
            let openssl = try await scenario.run(
                "openssl", try Harness.tool("openssl", package: "openssl"), ["version"])
            let running = String(openssl.stdout.prefix { $0 != "(" && $0 != "\n" }).trimmingCharacters(in: .whitespaces)
            #expect(running.hasPrefix("OpenSSL 3."), "\(openssl.transcript)")
            #expect(
                lines.contains { $0 == "OpenSSL: \(running)" || $0.hasPrefix("OpenSSL: \(running) (built against ") },
                "\(lines) vs \(running)")
        }
    }
}
