import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarProxy
import SidecarTLS
import Testing

@testable import SidecarRuntime

/// Fixtures for runtime API tests: a proxy in this process with a plain Unix frontend `fe` and a TLS frontend
/// `tls` in front of backend `be` (servers `s1` and `s2`, two counting echo servers), its runtime API, and an
/// admin and a user stats socket. (Echo server and client adapted from SidecarProxyTests' support.)
final class RuntimeFixture: Sendable {
    let workspace: ProbeWorkspace
    let group: MultiThreadedEventLoopGroup
    let echoes: [String: CountingEchoServer]
    let proxy: Proxy
    let api: RuntimeAPI
    let adminSocket: StatsSocketServer
    let userSocket: StatsSocketServer

    var frontendPath: String { workspace.path("fe.sock") }
    var adminPath: String { workspace.path("admin.sock") }
    var userPath: String { workspace.path("user.sock") }

    /// - Parameter expiredCertificate: serve the TLS frontend with an expired certificate.
    init(expiredCertificate: Bool = false) async throws {
        workspace = try ProbeWorkspace()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var echoes: [String: CountingEchoServer] = [:]
        for name in ["s1", "s2"] {
            echoes[name] = try await CountingEchoServer.start(path: workspace.path("\(name).sock"), group: group)
        }
        self.echoes = echoes
        proxy = try await Proxy.start(
            plan: ProxyPlan(configuration: Self.configuration(workspace, expiredCertificate: expiredCertificate)),
            group: group, logger: quietLogger)
        api = RuntimeAPI(proxy: proxy)
        let location = SourceLocation.commandLine("test")
        adminSocket = try await StatsSocketServer.start(
            StatsSocket(address: .unix(path: workspace.path("admin.sock")), level: .admin, location: location),
            api: api, group: group, logger: quietLogger)
        userSocket = try await StatsSocketServer.start(
            StatsSocket(address: .unix(path: workspace.path("user.sock")), level: .user, location: location),
            api: api, group: group, logger: quietLogger)
    }

    /// Frontends `fe` (Unix) and `tls` (TCP with TLS) into backend `be` with servers `s1` and `s2`.
    static func configuration(
        _ workspace: ProbeWorkspace, expiredCertificate: Bool = false, servers: [String] = ["s1", "s2"],
        checked: Bool = false
    ) -> Configuration {
        let location = SourceLocation.commandLine("test")
        let certificate = expiredCertificate ? workspace.expiredServer.certificateFile : workspace.pki.serverCertificate
        let key = expiredCertificate ? workspace.expiredServer.keyFile : workspace.pki.serverKey
        let tls = TLSSettings(
            certificateFiles: [certificate.path], keyFile: key.path, caFile: workspace.pki.caCertificate.path,
            verify: .required)
        return Configuration(
            frontends: [
                Frontend(
                    name: "fe", binds: [Bind(address: .unix(path: workspace.path("fe.sock")), location: location)],
                    defaultBackend: "be", location: location),
                Frontend(
                    name: "tls", binds: [Bind(address: .tcp(host: "127.0.0.1", port: 0), tls: tls, location: location)],
                    defaultBackend: "be", location: location),
            ],
            backends: [
                Backend(
                    name: "be",
                    servers: servers.map {
                        Server(
                            name: $0, address: .unix(path: workspace.path("\($0).sock")), check: checked,
                            inter: .milliseconds(100), rise: 1, fall: 1, location: location)
                    },
                    retries: 0, location: location)
            ])
    }

    /// Sends one command to the admin socket (or `path`) and returns the answer.
    func command(_ line: String, socket path: String? = nil) async throws -> String {
        try await RuntimeAPIClient.send(line, to: path ?? adminPath)
    }

    /// The `show stat` answer, parsed.
    func report() async throws -> StatusReport {
        StatusReport(stat: try await command("show stat"), certificates: [])
    }

    /// One server's row of `show stat`.
    func server(_ name: String) async throws -> StatusReport.Server? {
        try await report().backends.first { $0.name == "be" }?.servers.first { $0.name == name }
    }

    func client() async throws -> EchoClient {
        try await EchoClient.connect(unixPath: frontendPath, group: group)
    }

    func shutdown() async {
        await adminSocket.close()
        await userSocket.close()
        await proxy.stopListening()
        proxy.registry.closeAll()
        for echo in echoes.values { await echo.close() }
        try? await group.shutdownGracefully()
    }
}

/// The proxy's and the stats sockets' logger in these tests: silent.
let quietLogger = Logger(label: "runtime-test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Polls `condition` until it holds, up to `timeout`; records an issue otherwise.
func waitFor(
    _ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for: \(what)")
    throw CancellationError()
}

/// An echo server on a Unix socket that counts the connections it accepted.
final class CountingEchoServer: Sendable {
    let channel: Channel
    private let acceptedBox: NIOLockedValueBox<Int>

    var accepted: Int { acceptedBox.withLockedValue { $0 } }

    static func start(path: String, group: any EventLoopGroup) async throws -> CountingEchoServer {
        let accepted = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Echo())
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        return CountingEchoServer(channel: channel, accepted: accepted)
    }

    private init(channel: Channel, accepted: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.acceptedBox = accepted
    }

    func close() async { try? await channel.close() }

    private final class Echo: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.write(data, promise: nil) }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
    }
}

/// A plain client that collects what it receives and notices when the connection ends.
final class EchoClient: Sendable {
    let channel: Channel
    private let box: NIOLockedValueBox<(count: Int, ended: Bool)>

    var receivedCount: Int { box.withLockedValue { $0.count } }
    var ended: Bool { box.withLockedValue { $0.ended } }

    static func connect(unixPath: String, group: any EventLoopGroup) async throws -> EchoClient {
        let box = NIOLockedValueBox<(count: Int, ended: Bool)>((0, false))
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(box: box))
                }
            }
            .connect(unixDomainSocketPath: unixPath).get()
        return EchoClient(channel: channel, box: box)
    }

    private init(channel: Channel, box: NIOLockedValueBox<(count: Int, ended: Bool)>) {
        self.channel = channel
        self.box = box
    }

    /// Sends `count` bytes and waits until they have come back.
    func echo(_ count: Int) async throws {
        let before = receivedCount
        try await channel.writeAndFlush(ByteBuffer(repeating: UInt8(ascii: "x"), count: count)).get()
        try await waitFor("\(count) bytes echoed") { self.receivedCount >= before + count || self.ended }
        #expect(receivedCount >= before + count)
    }

    func close() async { try? await channel.close() }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let box: NIOLockedValueBox<(count: Int, ended: Bool)>
        init(box: NIOLockedValueBox<(count: Int, ended: Bool)>) { self.box = box }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let count = unwrapInboundIn(data).readableBytes
            box.withLockedValue { $0.count += count }
        }
        func channelInactive(context: ChannelHandlerContext) { box.withLockedValue { $0.ended = true } }
    }
}
