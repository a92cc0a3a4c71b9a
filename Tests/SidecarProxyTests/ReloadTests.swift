import Foundation
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy

/// Reloads that fail part-way: nothing of the new configuration may serve, and socket files are only ever
/// changed through the socket sidecar bound, never through whatever someone put at the path.
@Suite struct ReloadTests {
    /// Frontend `fe` with two Unix binds (`one.sock`, `two.sock`) in front of one server at `backend`.
    static func configuration(
        _ workspace: Workspace, backend: String, secondBind: UnixSocketOptions = UnixSocketOptions()
    ) -> Configuration {
        let location = SourceLocation.commandLine("test")
        return Configuration(
            frontends: [
                Frontend(
                    name: "fe",
                    binds: [
                        Bind(address: .unix(path: workspace.path("one.sock")), location: location),
                        Bind(
                            address: .unix(path: workspace.path("two.sock")), unixSocket: secondBind,
                            location: SourceLocation(file: "conf.d/fe.cfg", line: 3)),
                    ],
                    defaultBackend: "be", location: location)
            ],
            backends: [
                Backend(
                    name: "be", servers: [Server(name: "s", address: .unix(path: backend), location: location)],
                    location: location)
            ])
    }

    /// One byte through `path`; returns when it came back.
    static func roundTrip(_ path: String, group: any EventLoopGroup) async throws {
        let client = try await CollectingClient.connect(unixPath: path, group: group)
        try await client.send(ByteBuffer(string: "x"))
        try await client.echo(1)
        await client.close()
    }

    @Test func reloadFailingOnTheSecondBindLeavesTheFirstOnTheOldBackend() async throws {
        let workspace = try Workspace()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let old = try await EchoServer.start(path: workspace.path("old.sock"), group: group)
        let new = try await EchoServer.start(path: workspace.path("new.sock"), group: group)
        let logs = LogCapture()
        let proxy = try await Proxy.start(
            plan: ProxyPlan(configuration: Self.configuration(workspace, backend: old.path)), group: group,
            logger: logs.logger)
        let broken = Self.configuration(
            workspace, backend: new.path, secondBind: UnixSocketOptions(user: "no-such-user-sidecar-test"))
        await #expect {
            _ = try await proxy.reload(to: ProxyPlan(configuration: broken), logger: logs.logger)
        } throws: { error in
            "\(error)".contains("conf.d/fe.cfg:3") && "\(error)".contains("unknown user 'no-such-user-sidecar-test'")
        }
        try await Self.roundTrip(workspace.path("one.sock"), group: group)
        try await Self.roundTrip(workspace.path("two.sock"), group: group)
        #expect(old.accepted == 2)
        #expect(new.accepted == 0, "a listener switched to the configuration whose reload failed")
        await proxy.stopListening()
        try await group.shutdownGracefully()
    }

    @Test func reloadNeverChangesAFilePlantedAtTheSocketPath() async throws {
        let workspace = try Workspace()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await EchoServer.start(path: workspace.path("echo.sock"), group: group)
        let logs = LogCapture()
        let proxy = try await Proxy.start(
            plan: ProxyPlan(configuration: Self.configuration(workspace, backend: echo.path)), group: group,
            logger: logs.logger)
        // Someone with write access to the directory swaps the socket for a link to a file of theirs.
        let victim = workspace.path("victim.txt")
        try "secret\n".write(toFile: victim, atomically: false, encoding: .utf8)
        #expect(chmod(victim, 0o600) == 0)
        var before = stat()
        #expect(stat(victim, &before) == 0)
        let socketPath = workspace.path("two.sock")
        #expect(unlink(socketPath) == 0)
        #expect(symlink(victim, socketPath) == 0)

        let chmodded = Self.configuration(workspace, backend: echo.path, secondBind: UnixSocketOptions(mode: 0o666))
        await #expect {
            _ = try await proxy.reload(to: ProxyPlan(configuration: chmodded), logger: logs.logger)
        } throws: { error in
            "\(error)".contains("conf.d/fe.cfg:3") && "\(error)".contains("replaced by another file (a symbolic link)")
        }
        var after = stat()
        #expect(stat(victim, &after) == 0)
        #expect(after.st_mode & 0o7777 == 0o600, "the planted link's target had its mode changed")
        #expect(after.st_uid == before.st_uid && after.st_gid == before.st_gid)
        // At shutdown the link is not ours to remove either.
        await proxy.stopListening()
        var link = stat()
        #expect(lstat(socketPath, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK)
        try await group.shutdownGracefully()
    }

    /// Connections of every loaded configuration hold descriptors of this one process, so the global
    /// `maxconn` (derived from the descriptor limit) counts them all, across reloads.
    @Test func globalMaxconnCountsConnectionsOfThePreviousConfiguration() async throws {
        let workspace = try Workspace()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await EchoServer.start(path: workspace.path("echo.sock"), group: group)
        var configuration = Self.configuration(workspace, backend: echo.path)
        configuration.global.maxconn = 1
        // One listener: an idle listener holds a reserved slot of its own (AcceptLimitHandler).
        configuration.frontends[0].binds.removeLast()
        let first = try ProxyPlan(configuration: configuration)
        let proxy = try await Proxy.start(plan: first, group: group, logger: LogCapture().logger)
        let old = try await CollectingClient.connect(unixPath: workspace.path("one.sock"), group: group)
        try await old.send(ByteBuffer(string: "x"))
        try await old.echo(1)

        let reloaded = try await proxy.reload(
            to: ProxyPlan(configuration: configuration, continuing: first), logger: LogCapture().logger)
        let new = try await CollectingClient.connect(unixPath: workspace.path("one.sock"), group: group)
        try await new.send(ByteBuffer(string: "y"))
        // Held in the backlog while the old configuration's connection is open...
        try await Task.sleep(for: .milliseconds(300))
        #expect(new.received.readableBytes == 0, "a second connection was served beyond global maxconn 1")
        #expect(echo.accepted == 1)
        // ...and served as soon as it closes.
        await old.close()
        try await new.echo(1)
        await new.close()
        await reloaded.stopListening()
        try await group.shutdownGracefully()
    }
}
