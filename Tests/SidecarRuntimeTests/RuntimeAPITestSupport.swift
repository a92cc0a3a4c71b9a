import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarProxy
import SidecarTLS
import SidecarTestSupport
import Testing

@testable import SidecarRuntime

/// Fixtures for runtime API tests: a proxy in this process with a plain Unix frontend `fe` and a TLS frontend
/// `tls` in front of backend `be` (servers `s1` and `s2`, two counting echo servers), its runtime API, and an
/// admin and a user stats socket. (Echo server and client adapted from SidecarProxyTests' support.)
final class RuntimeFixture: Sendable {
    let workspace: ProbeWorkspace
    let group: MultiThreadedEventLoopGroup
    let echoes: [String: EchoServer]
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
        var echoes: [String: EchoServer] = [:]
        for name in ["s1", "s2"] {
            echoes[name] = try await EchoServer.start(path: workspace.path("\(name).sock"), group: group)
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
        checked: Bool = false, fall: Int = 1
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
                            inter: .milliseconds(100), rise: 1, fall: fall, location: location)
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

    func client() async throws -> CollectingClient {
        try await CollectingClient.connect(unixPath: frontendPath, group: group)
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
