import Foundation
import Testing

@testable import SidecarRuntime

/// `sidecar status`'s report, read from a live stats socket: tables, JSON, and the problems that make its exit
/// status non-zero.
@Suite(.serialized)
struct StatusReportTests {
    @Test func healthySetupHasNoProblems() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let client = try await fixture.client()
        try await client.echo(2048)
        let report = try await StatusReport.fetch(from: fixture.adminPath)
        #expect(report.problems.isEmpty)
        #expect(report.frontends.map(\.name) == ["fe", "tls"])
        #expect(report.backends.map(\.name) == ["be"])
        #expect(report.backends.first?.servers.map(\.name) == ["s1", "s2"])
        let certificate = try #require(report.certificates.first)
        #expect(certificate.file == fixture.workspace.pki.serverCertificate.path)
        #expect((certificate.daysLeft ?? -1) > 0)
        let table = report.table
        #expect(table.contains("FRONTEND"))
        #expect(table.contains("  s1"))
        #expect(table.contains(certificate.file))
        #expect(table.hasSuffix("\nOK\n"))
        let json = try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as? [String: Any]
        #expect(json?["ok"] as? Bool == true)
        #expect((json?["backends"] as? [[String: Any]])?.first?["status"] as? String == "UP")
        await client.close()
    }

    @Test func backendWithoutServersUpIsAProblem() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        #expect(try await fixture.command("disable server be/s1; disable server be/s2") == "\n\n")
        let report = try await StatusReport.fetch(from: fixture.adminPath)
        #expect(report.backends.first?.status == "DOWN")
        #expect(report.problems == ["backend be has no server up"])
        #expect(report.table.contains("PROBLEM: backend be has no server up"))
        #expect(report.table.contains("MAINT"))
    }

    @Test func expiredCertificateIsAProblem() async throws {
        let fixture = try await RuntimeFixture(expiredCertificate: true)
        defer { Task { await fixture.shutdown() } }
        let report = try await StatusReport.fetch(from: fixture.adminPath)
        #expect(report.problems.count == 1)
        #expect(
            report.problems.first?.hasPrefix(
                "certificate \(fixture.workspace.expiredServer.certificateFile.path) has expired") == true)
        #expect(report.table.contains("EXPIRED"))
    }

    @Test func userLevelSocketGivesAReportWithoutCertificates() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let report = try await StatusReport.fetch(from: fixture.userPath)
        #expect(report.backends.first?.servers.count == 2)
        #expect(report.certificates.isEmpty)
        #expect(report.problems.isEmpty)
        // Said, not silently skipped.
        #expect(!report.certificatesChecked)
        #expect(report.table.contains("CERTIFICATES not checked: this stats socket's level is user"))
        #expect(try report.json().contains("\"certificatesChecked\" : false"))
        #expect(try await StatusReport.fetch(from: fixture.adminPath).certificatesChecked)
    }

    @Test func unreachableSocketThrows() async throws {
        await #expect(throws: StatsSocketError.self) {
            try await StatusReport.fetch(from: "/tmp/no-such-sidecar-\(UUID().uuidString.prefix(8)).sock")
        }
    }
}
