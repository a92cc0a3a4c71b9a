import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// Fixtures for the backend tests (balancing, checks, failover, timeouts, limits, logs): a forward-style
/// proxy (plain Unix listener) in front of several Unix echo servers, built from a configuration the test
/// shapes.
final class BackendFixture: Sendable {
    let workspace: Workspace
    let group: MultiThreadedEventLoopGroup
    let logs = LogCapture()
    let echoes: [EchoServer]
    let proxy: Proxy

    var listenPath: String { workspace.path("front.sock") }

    /// - Parameters:
    ///   - servers: one `Server` per echo server, given the echo path; the fixture starts the echo servers.
    ///   - backend / frontend / global: adjust the model before the proxy starts.
    init(
        echoes count: Int,
        server: @Sendable (Int, String) -> Server = { index, path in
            Server(name: "s\(index + 1)", address: .unix(path: path), location: .commandLine("test"))
        },
        backend: (inout Backend) -> Void = { _ in },
        frontend: (inout Frontend) -> Void = { _ in },
        global: (inout Global) -> Void = { _ in }
    ) async throws {
        workspace = try Workspace()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var echoes: [EchoServer] = []
        for index in 0..<count {
            echoes.append(try await EchoServer.start(path: workspace.path("echo\(index + 1).sock"), group: group))
        }
        self.echoes = echoes
        var backendModel = Backend(
            name: "be", servers: echoes.enumerated().map { server($0, $1.path) }, location: .commandLine("test"))
        backend(&backendModel)
        var frontendModel = Frontend(
            name: "fe",
            binds: [Bind(address: .unix(path: workspace.path("front.sock")), location: .commandLine("test"))],
            defaultBackend: "be", location: .commandLine("test"))
        frontend(&frontendModel)
        var globalModel = Global()
        global(&globalModel)
        let configuration = Configuration(global: globalModel, frontends: [frontendModel], backends: [backendModel])
        proxy = try await Proxy.start(plan: ProxyPlan(configuration: configuration), group: group, logger: logs.logger)
    }

    var backendPlan: BackendPlan { proxy.plan.frontends[0].backend }

    /// Accepts per echo server.
    var accepts: [Int] { echoes.map(\.accepted) }

    /// Restarts echo server `index` (0-based) on its path after it was closed.
    func restart(_ index: Int) async throws -> EchoServer {
        try await EchoServer.start(path: echoes[index].path, group: group)
    }

    func client() async throws -> CollectingClient {
        try await CollectingClient.connect(unixPath: listenPath, group: group)
    }

    /// One connection that sends a byte and waits for its echo; true when the echo came back.
    func roundTrip(timeout: Duration = .seconds(5)) async throws -> Bool {
        let client = try await client()
        defer { Task { await client.close() } }
        try await client.send(ByteBuffer(string: "x"))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if client.received.readableBytes == 1 { return true }
            if client.ended { return false }
            try await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    /// `count` round trips, `parallel` at a time; the number that failed.
    func roundTrips(_ count: Int, parallel: Int = 10) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { tasks in
            for worker in 0..<parallel {
                tasks.addTask {
                    var failures = 0
                    for _ in stride(from: worker, to: count, by: parallel) where !(try await self.roundTrip()) {
                        failures += 1
                    }
                    return failures
                }
            }
            return try await tasks.reduce(0, +)
        }
    }

    func shutdown(extra: [EchoServer] = []) async {
        await proxy.stopListening()
        for echo in echoes + extra { await echo.close() }
        try? await group.shutdownGracefully()
    }
}

/// A model `Server` on a Unix path with health checks.
func checkedServer(
    _ index: Int, _ path: String, inter: Duration = .milliseconds(100), rise: Int = 2, fall: Int = 2,
    backup: Bool = false
) -> Server {
    Server(
        name: "s\(index + 1)", address: .unix(path: path), check: true, inter: inter, rise: rise, fall: fall,
        backup: backup, location: .commandLine("test"))
}

/// A raw TCP client that sends nothing unless told and notes when the other side closes.
final class TCPProbeClient: Sendable {
    let channel: Channel
    private let endedBox: NIOLockedValueBox<Bool>

    var ended: Bool { endedBox.withLockedValue { $0 } }

    static func connect(port: Int, group: any EventLoopGroup) async throws -> TCPProbeClient {
        let ended = NIOLockedValueBox(false)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EndWatcher(ended: ended))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return TCPProbeClient(channel: channel, ended: ended)
    }

    private init(channel: Channel, ended: NIOLockedValueBox<Bool>) {
        self.channel = channel
        self.endedBox = ended
    }

    private final class EndWatcher: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let ended: NIOLockedValueBox<Bool>
        init(ended: NIOLockedValueBox<Bool>) { self.ended = ended }
        func channelInactive(context: ChannelHandlerContext) { ended.withLockedValue { $0 = true } }
    }
}

/// The message part of a captured log line (`level message key=value...`).
func logMessage(_ line: String) -> String {
    var rest = Substring(line)
    if let space = rest.firstIndex(of: " ") { rest = rest[rest.index(after: space)...] }
    return rest.trimmingCharacters(in: .whitespaces)
}
