import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import SidecarRuntime

/// The handshake metrics: a duration histogram of successful client handshakes and failures by reason,
/// driven by a real peer (`openssl s_client`) against the fixture's TLS frontend `tls`.
@Suite struct MetricsHandshakeTests {
    /// Runs `openssl s_client` against 127.0.0.1:`port`, sending one line, with or without a certificate.
    private func sClient(port: Int, workspace: ProbeWorkspace, withCertificate: Bool) throws {
        let process = Process()
        // Bounded: `timeout` ends it should it ever wait; without -quiet, s_client ends at stdin's EOF.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        var arguments = [
            "10", "openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", workspace.pki.caCertificate.path,
        ]
        if withCertificate {
            arguments += ["-cert", workspace.pki.clientCertificate.path, "-key", workspace.pki.clientKey.path]
        }
        process.arguments = arguments
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data("hello\n".utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    @Test func garbageCountsAsProtocolAndSilenceAsTimeout() async throws {
        try await MetricsFixture.with(handshakeTimeout: .milliseconds(200)) { fixture in
            let tlsPort = try #require(
                fixture.proxy.boundAddresses.compactMap(\.port).first { $0 != 0 && $0 != fixture.port })
            let garbage = try await ClientBootstrap(group: fixture.group).connect(host: "127.0.0.1", port: tlsPort)
                .get()
            try await garbage.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.0\r\n\r\n")).get()
            try await garbage.closeFuture.get()
            let silent = try await ClientBootstrap(group: fixture.group).connect(host: "127.0.0.1", port: tlsPort).get()
            try await silent.closeFuture.get()
            var samples: [String: Double] = [:]
            try await waitFor("one protocol failure and one timeout") {
                samples = try await fixture.metrics()
                return samples["sidecar_frontend_handshake_failures_total{frontend=\"tls\",reason=\"protocol\"}"] == 1
                    && samples["sidecar_frontend_handshake_failures_total{frontend=\"tls\",reason=\"timeout\"}"] == 1
            }
            #expect(samples["sidecar_frontend_handshake_failures_total{frontend=\"tls\",reason=\"certificate\"}"] == 0)
            #expect(samples["sidecar_frontend_connections_refused_total{frontend=\"tls\",reason=\"handshake\"}"] == 2)
        }
    }

    @Test func histogramCountsHandshakesAndFailuresHaveReasons() async throws {
        try await MetricsFixture.with { fixture in
            let tlsPort = try #require(
                fixture.proxy.boundAddresses.compactMap(\.port).first { $0 != 0 && $0 != fixture.port })
            try sClient(port: tlsPort, workspace: fixture.workspace, withCertificate: true)
            try sClient(port: tlsPort, workspace: fixture.workspace, withCertificate: false)
            var samples: [String: Double] = [:]
            try await waitFor("one handshake counted and one failure") {
                samples = try await fixture.metrics()
                return samples["sidecar_frontend_handshake_duration_seconds_count{frontend=\"tls\"}"] == 1
                    && samples["sidecar_frontend_handshake_failures_total{frontend=\"tls\",reason=\"certificate\"}"]
                        == 1
            }
            #expect(samples["sidecar_frontend_handshake_duration_seconds_bucket{frontend=\"tls\",le=\"+Inf\"}"] == 1)
            let sum = try #require(samples["sidecar_frontend_handshake_duration_seconds_sum{frontend=\"tls\"}"])
            #expect(sum > 0 && sum < 10)
            #expect(samples["sidecar_frontend_handshake_failures_total{frontend=\"tls\",reason=\"timeout\"}"] == 0)
            #expect(samples["sidecar_frontend_connections_refused_total{frontend=\"tls\",reason=\"handshake\"}"] == 1)
            // Plain frontends have no handshake series.
            #expect(samples.keys.allSatisfy { !$0.contains("handshake_duration_seconds_count{frontend=\"fe\"}") })
        }
    }
}
