import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// `option dbus` through real sockets and a real TLS handshake, in process: a forward proxy without it (as an
/// HAProxy agent side would be), a reverse proxy with `dbus-register-name`, and a backend that answers
/// authentication lines with `OK` and records every byte it receives.
@Suite struct DBusTunnelTests {
    /// A Unix-socket backend that plays a D-Bus server's authentication (`OK` to each line but `BEGIN`) and
    /// records what reaches it.
    final class RecordingServer: Sendable {
        let channel: Channel
        private let received = NIOLockedValueBox<[UInt8]>([])
        var bytes: [UInt8] { received.withLockedValue { $0 } }

        /// - Parameter greeting: a line sent as soon as a client connects (no D-Bus server does that).
        init(path: String, group: any EventLoopGroup, greeting: String? = nil) async throws {
            let received = self.received
            channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Handler(received: received))
                        if let greeting { channel.writeAndFlush(ByteBuffer(string: greeting), promise: nil) }
                    }
                }
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        }

        private final class Handler: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            typealias OutboundOut = ByteBuffer
            let received: NIOLockedValueBox<[UInt8]>
            var begun = false
            init(received: NIOLockedValueBox<[UInt8]>) { self.received = received }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                let bytes = Array(unwrapInboundIn(data).readableBytesView)
                received.withLockedValue { $0 += bytes }
                guard !begun else { return }
                for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n") where !begun {
                    if line.hasPrefix("BEGIN") {
                        begun = true
                    } else {
                        let reply = ByteBuffer(string: "OK 0123456789abcdef0123456789abcdef\r\n")
                        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
                    }
                }
            }
        }
    }

    /// Forward (plain relay) → reverse (`option dbus`, `dbus-register-name`) → `RecordingServer`.
    final class Fixture: Sendable {
        let workspace: Workspace
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let backend: RecordingServer
        let reverse: Proxy
        let forward: Proxy
        let reverseLogs = LogCapture()
        let forwardLogs = LogCapture()

        /// - Parameters:
        ///   - rule: the reverse side's `dbus-register-name` (with `option dbus`); nil: no `option dbus` there.
        ///   - forwardDBus: `option dbus` on the forward side.
        ///   - greeting: see `RecordingServer`.
        init(rule: DBusRegisterName.Rule?, forwardDBus: Bool = false, greeting: String? = nil) async throws {
            workspace = try Workspace()
            backend = try await RecordingServer(path: workspace.path("bus.sock"), group: group, greeting: greeting)
            var reverseConfiguration = TestConfigurations.reverse(
                tls: workspace.listenerTLS, backend: workspace.path("bus.sock"))
            if let rule {
                reverseConfiguration.frontends[0].dbus = DBusSettings(
                    registerName: DBusRegisterName(rule: rule, location: .commandLine("test")))
            }
            reverse = try await Proxy.start(
                plan: ProxyPlan(configuration: reverseConfiguration), group: group, logger: reverseLogs.logger)
            var forwardConfiguration = TestConfigurations.forward(
                socket: workspace.path("fwd.sock"), server: "rev", port: reverse.boundAddresses[0].port!,
                tls: workspace.serverTLS)
            if forwardDBus { forwardConfiguration.frontends[0].dbus = DBusSettings() }
            forward = try await Proxy.start(
                plan: ProxyPlan(configuration: forwardConfiguration), group: group, logger: forwardLogs.logger)
        }

        func client() async throws -> CollectingClient {
            try await CollectingClient.connect(unixPath: workspace.path("fwd.sock"), group: group)
        }

        func shutdown() async {
            await forward.stopListening()
            await reverse.stopListening()
            try? await backend.channel.close()
            try? await group.shutdownGracefully()
        }
    }

    static let authentication = "\0AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n"

    @Test func registrationWithAnotherNodesNameNeverReachesTheServer() async throws {
        let fixture = try await Fixture(rule: .cn)
        let client = try await fixture.client()
        try await client.send(ByteBuffer(string: Self.authentication))
        let answer = "OK 0123456789abcdef0123456789abcdef\r\n" + DBusFilter.refusalLine
        try await eventually("the server's OK, then sidecar's ERROR") { client.receivedCount >= answer.utf8.count }
        #expect(String(decoding: client.received.readableBytesView, as: UTF8.self) == answer)
        try await client.send(ByteBuffer(bytes: DBusMessageBuilder.register("node2").bytes))
        try await eventually("the tunnel closed") { client.ended }
        let line = try await fixture.reverseLogs.waitFor("D-Bus registration refused", "claimed=node2")
        #expect(line.contains("rule=cn"))
        #expect(line.contains("subject=/CN=client"))
        try await fixture.reverseLogs.waitFor("connection closed", "termination=PD", "end=D-Bus registration refused")
        #expect(fixture.backend.bytes == Array("\0AUTH EXTERNAL 30\r\nBEGIN\r\n".utf8))
        await client.close()
        await fixture.shutdown()
    }

    @Test func refusedCallInTheFirstBurstNeverOpensTheBackendStream() async throws {
        let fixture = try await Fixture(rule: .cn)
        let client = try await fixture.client()
        var burst = ByteBuffer(string: Self.authentication)
        burst.writeBytes(DBusMessageBuilder.register("node2").bytes)
        try await client.send(burst)
        try await eventually("the tunnel closed") { client.ended }
        try await fixture.reverseLogs.waitFor("D-Bus registration refused", "claimed=node2")
        #expect(fixture.backend.bytes.firstRange(of: Array("Register".utf8)) == nil)
        await client.close()
        await fixture.shutdown()
    }

    @Test func registrationUnderTheURIsNameIsForwarded() async throws {
        let fixture = try await Fixture(rule: .uri)
        let client = try await fixture.client()
        let call = DBusMessageBuilder.register("client").bytes
        var register = ByteBuffer(string: Self.authentication)
        register.writeBytes(call)
        try await client.send(register)
        try await fixture.reverseLogs.waitFor("D-Bus registration accepted", "name=client", "subject=/CN=client")
        try await eventually("the call reached the server") { fixture.backend.bytes.count >= 26 + call.count }
        #expect(fixture.backend.bytes == Array("\0AUTH EXTERNAL 30\r\nBEGIN\r\n".utf8) + call)
        #expect(!client.ended)
        await client.close()
        await fixture.shutdown()
    }

    @Test func forwardSideNamesTheServerCertificateWhenTheServerBreaksTheProtocol() async throws {
        let fixture = try await Fixture(
            rule: nil, forwardDBus: true, greeting: "OK 0123456789abcdef0123456789abcdef\r\n")
        // The client says nothing: the server's unsolicited line is refused as soon as it reaches the forward side.
        let client = try await fixture.client()
        try await eventually("the tunnel closed") { client.ended }
        let line = try await fixture.forwardLogs.waitFor("D-Bus stream closed", "from=server")
        #expect(line.contains("reason=server sent a SASL reply nobody asked for"))
        #expect(line.contains("subject=/CN=server"), "the forward side names the server's certificate")
        #expect(client.received.readableBytes == 0)
        await client.close()
        await fixture.shutdown()
    }
}
