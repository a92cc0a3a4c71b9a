import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// Shared fixtures for in-process proxy tests: a temp directory with a fresh PKI, log capture, an echo
/// backend, forward and reverse proxies built from configurations, and a client that waits on conditions.

/// A temporary directory with a test PKI, removed when the test's fixture is released.
final class Workspace: Sendable {
    let directory: URL
    let pki: TestPKI

    init() throws {
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("sc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        pki = try TestPKI.make(in: directory.appendingPathComponent("pki"))
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Server-role TLS settings (reverse listener) from the PKI, verifying clients.
    var listenerTLS: TLSSettings {
        TLSSettings(
            certificateFiles: [pki.serverCertificate.path], keyFile: pki.serverKey.path,
            caFile: pki.caCertificate.path, verify: .required)
    }

    /// Client-role TLS settings (forward server line) from the PKI, checking the name `localhost`.
    var serverTLS: TLSSettings {
        TLSSettings(
            certificateFiles: [pki.clientCertificate.path], keyFile: pki.clientKey.path,
            caFile: pki.caCertificate.path, verify: .required, serverName: "localhost", verifyHost: "localhost")
    }
}

/// Captures log lines (message plus metadata) for assertions.
final class LogCapture: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    var logger: Logger {
        Logger(label: "test") { _ in CapturingHandler(capture: self) }
    }

    func append(_ line: String) { lines.withLockedValue { $0.append(line) } }
    var all: [String] { lines.withLockedValue { $0 } }

    /// Waits until a line containing every fragment appears, up to `timeout`.
    @discardableResult
    func waitFor(_ fragments: String..., timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = all.first(where: { line in fragments.allSatisfy { line.contains($0) } }) { return line }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no log line with \(fragments) within \(timeout); lines: \(all.joined(separator: "\n"))")
        throw CancellationError()
    }

    private struct CapturingHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
            capture.append("\(event.level) \(event.message) \(fields)")
        }
    }
}

/// Polls `condition` until it holds, up to `timeout`; records an issue otherwise.
func eventually(
    _ what: String, timeout: Duration = .seconds(10), _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("timed out waiting for: \(what)")
    throw CancellationError()
}

/// A forward and a reverse proxy in this process, wired to an echo backend: the whole tunnel.
final class TunnelFixture: Sendable {
    let workspace: Workspace
    let group: MultiThreadedEventLoopGroup
    let echo: EchoServer
    let reverse: Proxy
    let forward: Proxy
    let reverseLogs = LogCapture()
    let forwardLogs = LogCapture()
    let reversePort: Int

    var forwardPath: String { workspace.path("fwd.sock") }

    /// - Parameters:
    ///   - reverseTLS / forwardTLS: adjust the TLS settings of either end before starting.
    init(
        reverseTLS: (inout TLSSettings) -> Void = { _ in }, forwardTLS: (inout TLSSettings) -> Void = { _ in }
    ) async throws {
        workspace = try Workspace()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        echo = try await EchoServer.start(path: workspace.path("echo.sock"), group: group)
        var listenerTLS = workspace.listenerTLS
        reverseTLS(&listenerTLS)
        let reverseConfiguration = TestConfigurations.reverse(tls: listenerTLS, backend: echo.path)
        reverse = try await Proxy.start(
            plan: ProxyPlan(configuration: reverseConfiguration), group: group, logger: reverseLogs.logger)
        reversePort = reverse.boundAddresses[0].port!
        var serverTLS = workspace.serverTLS
        forwardTLS(&serverTLS)
        let forwardConfiguration = TestConfigurations.forward(
            socket: workspace.path("fwd.sock"), server: "rev", port: reversePort, tls: serverTLS)
        forward = try await Proxy.start(
            plan: ProxyPlan(configuration: forwardConfiguration), group: group, logger: forwardLogs.logger)
    }

    func client() async throws -> CollectingClient {
        try await CollectingClient.connect(unixPath: forwardPath, group: group)
    }

    func shutdown() async {
        await forward.stopListening()
        await reverse.stopListening()
        await echo.close()
        try? await group.shutdownGracefully()
    }
}
