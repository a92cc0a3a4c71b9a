import Foundation
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// The whole tunnel in one process over loopback: client → forward (Unix) → TLS → reverse (TCP) → echo (Unix).
@Suite struct TunnelTests {
    @Test func sixteenMebibytesRoundTripIntactWithHalfClose() async throws {
        // 16 MiB: 16 times what the relay reads per wake-up and many socket buffers' worth, so backpressure
        // holds both directions many times over; the size only costs time under the sanitizers CI runs.
        let size = 16 << 20
        let tunnel = try await TunnelFixture()
        var payload = ByteBuffer()
        var generator = SystemRandomNumberGenerator()
        payload.reserveCapacity(size)
        for _ in 0..<size / 8 { payload.writeInteger(generator.next() as UInt64) }
        let client = try await tunnel.client()
        try await client.send(payload)
        // The client is done sending but keeps reading: the echo must still come back whole.
        try await client.shutdownOutput()
        try await eventually("the echo ends", timeout: .seconds(120)) { client.ended }
        #expect(client.received.readableBytes == payload.readableBytes)
        #expect(client.received == payload)
        try await tunnel.reverseLogs.waitFor("connection closed", "bytes_in=\(size)")
        try await tunnel.forwardLogs.waitFor("connection closed", "bytes_out=\(size)")
        await tunnel.shutdown()
    }

    @Test func hundredConcurrentConnectionsAllIntact() async throws {
        let tunnel = try await TunnelFixture()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<100 {
                group.addTask {
                    let client = try await tunnel.client()
                    var payload = ByteBuffer()
                    for round in 0..<64 { payload.writeString("connection \(index) round \(round);") }
                    try await client.send(payload, chunk: 97)
                    try await client.shutdownOutput()
                    try await eventually("connection \(index) echoed", timeout: .seconds(60)) { client.ended }
                    #expect(client.received == payload, "connection \(index)")
                }
            }
            try await group.waitForAll()
        }
        #expect(tunnel.echo.accepted == 100)
        await tunnel.shutdown()
    }

    @Test func forwardRefusesAServerWhoseNameDoesNotMatch() async throws {
        let tunnel = try await TunnelFixture(forwardTLS: { $0.verifyHost = "manager.example.com" })
        let client = try await tunnel.client()
        // The forward may close the client before the write lands; either way nothing may come back.
        try? await client.send(ByteBuffer(string: "hello"))
        try await eventually("the client is closed") { client.ended }
        #expect(client.received.readableBytes == 0)
        try await tunnel.forwardLogs.waitFor("server refused the tunnel", "name mismatch", "manager.example.com")
        #expect(tunnel.echo.accepted == 0)
        await tunnel.shutdown()
    }

    @Test func forwardRefusesAServerFromAnotherCA() async throws {
        let pki = try TestPKI.make(in: URL(fileURLWithPath: "/tmp/sc-rogue-\(UUID().uuidString.prefix(8))"))
        defer { try? FileManager.default.removeItem(at: pki.directory) }
        let tunnel = try await TunnelFixture(reverseTLS: { settings in
            settings.certificateFiles = [pki.rogueServerCertificate.path]
            settings.keyFile = pki.rogueServerKey.path
        })
        let client = try await tunnel.client()
        // The forward may close the client before the write lands; either way nothing may come back.
        try? await client.send(ByteBuffer(string: "hello"))
        try await eventually("the client is closed") { client.ended }
        #expect(client.received.readableBytes == 0)
        try await tunnel.forwardLogs.waitFor("server refused the tunnel", "unknown CA")
        #expect(tunnel.echo.accepted == 0)
        await tunnel.shutdown()
    }
}

/// Reverse-side refusals: each client is turned away before any backend connection exists.
@Suite struct ReverseRefusalTests {
    /// Connects a TLS client straight to the reverse listener with the given certificate and reports the log.
    private func attempt(
        _ tunnel: TunnelFixture, certificate: (URL, URL)?, expect fragments: String...
    ) async throws {
        var settings = TLSSettings(
            caFile: tunnel.workspace.pki.caCertificate.path, verify: .required, verifyHost: "localhost")
        if let (certificate, key) = certificate {
            settings.certificateFiles = [certificate.path]
            settings.keyFile = key.path
        }
        let context = try TLSContext(settings: settings, role: .client)
        let channel = try await ClientBootstrap(group: tunnel.group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TLSHandler(context: context, serverName: "localhost", expectedPeerName: "localhost"))
                }
            }
            .connect(host: "127.0.0.1", port: tunnel.reversePort).get()
        // The refusal may close the channel before this write lands.
        try? await channel.writeAndFlush(ByteBuffer(string: "\0AUTH EXTERNAL\r\n")).get()
        let line = try await tunnel.reverseLogs.waitFor(["connection refused"] + fragments)
        try await channel.closeFuture.get()
        #expect(tunnel.echo.accepted == 0, "the backend saw a connection: \(line)")
    }

    @Test func clientWithoutCertificateIsRefused() async throws {
        let tunnel = try await TunnelFixture()
        try await attempt(tunnel, certificate: nil, expect: "no certificate presented")
        await tunnel.shutdown()
    }

    @Test func clientFromAnotherCAIsRefusedWithItsSubject() async throws {
        let tunnel = try await TunnelFixture()
        let pki = tunnel.workspace.pki
        try await attempt(
            tunnel, certificate: (pki.rogueClientCertificate, pki.rogueClientKey), expect: "unknown CA",
            "subject=/CN=client", "issuer=/CN=rogue")
        await tunnel.shutdown()
    }

    @Test func expiredClientIsRefused() async throws {
        let tunnel = try await TunnelFixture()
        let pki = tunnel.workspace.pki
        try await attempt(
            tunnel, certificate: (pki.expiredClientCertificate, pki.expiredClientKey), expect: "certificate has expired"
        )
        await tunnel.shutdown()
    }
}

extension LogCapture {
    func waitFor(_ fragments: [String]) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let line = all.first(where: { line in fragments.allSatisfy { line.contains($0) } }) { return line }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no log line with \(fragments); lines: \(all.joined(separator: "\n"))")
        throw CancellationError()
    }
}

/// `timeout client-fin`: once the client has finished sending, a server that never finishes does not hold
/// the connection forever.
@Suite struct HalfClosedTimeoutTests {
    @Test func halfClosedConnectionIsClosedAtClientFin() async throws {
        let workspace = try Workspace()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let logs = LogCapture()
        let holder = try await EchoServer.start(
            path: workspace.path("hold.sock"), group: group, closesAfterInput: false)
        let configuration = Configuration(
            frontends: [
                Frontend(
                    name: "fwd",
                    binds: [Bind(address: .unix(path: workspace.path("in.sock")), location: .commandLine("t"))],
                    defaultBackend: "fwd", timeouts: Timeouts(clientFin: .milliseconds(300)),
                    location: .commandLine("t"))
            ],
            backends: [
                Backend(
                    name: "fwd",
                    servers: [Server(name: "hold", address: .unix(path: holder.path), location: .commandLine("t"))],
                    location: .commandLine("t"))
            ])
        let proxy = try await Proxy.start(
            plan: ProxyPlan(configuration: configuration), group: group, logger: logs.logger)
        let client = try await CollectingClient.connect(unixPath: workspace.path("in.sock"), group: group)
        try await client.send(ByteBuffer(string: "last words"))
        try await eventually("echo") { client.received.readableBytes == 10 }
        let finishedAt = ContinuousClock.now
        try await client.shutdownOutput()
        try await eventually("closed at client-fin", timeout: .seconds(3)) { client.ended }
        let waited = ContinuousClock.now - finishedAt
        #expect(waited >= .milliseconds(250) && waited < .seconds(2), "closed after \(waited)")
        try await logs.waitFor("connection closed", "timeout")
        await proxy.stopListening()
        await holder.close()
        try await group.shutdownGracefully()
    }
}
