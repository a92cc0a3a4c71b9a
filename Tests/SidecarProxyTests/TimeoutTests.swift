import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy

/// `handshake-timeout`, `timeout tunnel`, and no idle limit when none is configured.
@Suite struct TimeoutTests {
    @Test func silentTCPClientIsDroppedAtTheHandshakeTimeout() async throws {
        let workspace = try Workspace()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let logs = LogCapture()
        let echo = try await EchoServer.start(path: workspace.path("echo.sock"), group: group)
        let configuration = TestConfigurations.reverse(
            tls: workspace.listenerTLS, backend: echo.path, bindName: "tls", handshakeTimeout: .milliseconds(300),
            tcplog: true)
        let proxy = try await Proxy.start(
            plan: ProxyPlan(configuration: configuration), group: group, logger: logs.logger)
        #expect(proxy.plan.frontends[0].binds[0].handshakeTimeout == .milliseconds(300))
        let started = ContinuousClock.now
        let client = try await TCPProbeClient.connect(port: proxy.boundAddresses[0].port!, group: group)
        try await eventually("the silent client is dropped", timeout: .seconds(3)) { client.ended }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(250) && waited < .seconds(2))
        let line = try await logs.waitFor("rev/tls: Timeout during SSL handshake")
        #expect(logMessage(line).hasPrefix("127.0.0.1:"))
        #expect(echo.accepted == 0)
        await proxy.stopListening()
        await echo.close()
        try await group.shutdownGracefully()
    }

    @Test func idleTunnelSurvivesWithoutIdleTimeouts() async throws {
        let fixture = try await BackendFixture(echoes: 1)
        let client = try await fixture.client()
        try await client.send(ByteBuffer(string: "a"))
        try await eventually("first echo") { client.received.readableBytes == 1 }
        // Idle for well over the timeouts the next test uses: nothing may close it.
        try await Task.sleep(for: .milliseconds(800))
        #expect(!client.ended)
        try await client.send(ByteBuffer(string: "b"))
        try await eventually("second echo") { client.received.readableBytes == 2 }
        await client.close()
        await fixture.shutdown()
    }

    @Test func idleTunnelIsClosedAtTimeoutTunnel() async throws {
        // `timeout client` bounds the set-up (long enough for a loaded CI machine); once relaying, the longer
        // `timeout tunnel` replaces it, so gaps longer than `timeout client` do not close the tunnel.
        let fixture = try await BackendFixture(
            echoes: 1, backend: { $0.timeouts.tunnel = .milliseconds(1500) },
            frontend: { $0.timeouts.client = .milliseconds(400) })
        let client = try await fixture.client()
        for round in 1...3 {
            if round > 1 { try await Task.sleep(for: .milliseconds(600)) }
            try await client.send(ByteBuffer(string: "x"))
            try await eventually("echo \(round)") { client.received.readableBytes == round }
        }
        #expect(!client.ended)
        let idleFrom = ContinuousClock.now
        try await eventually("closed at the tunnel timeout", timeout: .seconds(6)) { client.ended }
        let idle = ContinuousClock.now - idleFrom
        #expect(idle >= .milliseconds(1400) && idle < .seconds(5))
        let line = try await fixture.logs.waitFor("connection closed", "termination=cD")
        #expect(line.contains("end=\"client timeout\"") || line.contains("end=client timeout"))
        await fixture.shutdown()
    }

    @Test func serverTimeoutClosesAnIdleConnectionAsServerSide() async throws {
        // Long enough that a loaded CI machine finishes the set-up and the first echo within it.
        let fixture = try await BackendFixture(echoes: 1, backend: { $0.timeouts.server = .milliseconds(1000) })
        let client = try await fixture.client()
        try await client.send(ByteBuffer(string: "x"))
        try await eventually("echo") { client.received.readableBytes == 1 }
        try await eventually("closed at the server timeout", timeout: .seconds(3)) { client.ended }
        try await fixture.logs.waitFor("connection closed", "termination=sD")
        await fixture.shutdown()
    }
}
