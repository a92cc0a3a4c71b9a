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

/// Fixtures for probe tests: a temporary directory with a fresh PKI, a D-Bus-like Unix backend, and reverse
/// and forward proxies in this process. (Adapted from SidecarProxyTests' support, which this target cannot
/// import.)

/// A temporary directory with a test PKI and an expired server certificate, removed when released.
final class ProbeWorkspace: Sendable {
    let directory: URL
    let pki: TestPKI
    /// CN=server, SAN DNS:localhost, IP:127.0.0.1, from the trusted CA, expired yesterday.
    let expiredServer: IssuedCertificate

    init() throws {
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("scp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        pki = try TestPKI.make(in: directory.appendingPathComponent("pki"))
        let issuer = try CertificateIssuer(caCertificateFile: pki.caCertificate, caKeyFile: pki.caKey)
        let now = Date()
        expiredServer = try issuer.issueLeaf(
            commonName: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"],
            validity: CertificateValidity(notBefore: now - 30 * 86_400, notAfter: now - 86_400),
            purpose: .server, fileName: "expired-server", in: directory.appendingPathComponent("pki"), force: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A probe of `127.0.0.1:port` with the good client certificate, unless told otherwise.
    func request(
        port: Int, certificate: URL? = nil, key: URL? = nil, serverName: String? = nil,
        timeout: Duration = .seconds(5)
    ) throws -> ProbeRequest {
        try ProbeRequest(
            target: .tls(host: "127.0.0.1", port: port), certificateFile: (certificate ?? pki.clientCertificate).path,
            keyFile: (key ?? pki.clientKey).path, caFile: pki.caCertificate.path, serverName: serverName,
            timeout: timeout)
    }
}

/// Collects a probe's report lines.
final class ProbeOutput: Sendable {
    private let box = NIOLockedValueBox<[String]>([])
    var lines: [String] { box.withLockedValue { $0 } }
    var text: String { lines.joined(separator: "\n") }
    func append(_ line: String) { box.withLockedValue { $0.append(line) } }
}

/// Runs a probe; returns its failure (nil on success) and its report.
func probe(_ request: ProbeRequest) async -> (failure: ProbeFailure?, output: ProbeOutput) {
    let output = ProbeOutput()
    do {
        try await ProbeRunner.run(request) { output.append($0) }
        return (nil, output)
    } catch let failure as ProbeFailure {
        return (failure, output)
    } catch {
        Issue.record("probe threw \(error), not a ProbeFailure")
        return (nil, output)
    }
}

/// A Unix-socket server that answers each line like a D-Bus server answers `AUTH` without a mechanism.
final class DBusLikeServer: Sendable {
    let channel: any Channel

    static func start(path: String, group: any EventLoopGroup) async throws -> DBusLikeServer {
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder())
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        return DBusLikeServer(channel: channel)
    }

    private init(channel: any Channel) { self.channel = channel }

    func close() async { try? await channel.close() }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            guard buffer.readableBytesView.contains(UInt8(ascii: "\n")) else { return }
            let answer = context.channel.allocator.buffer(string: "REJECTED EXTERNAL ANONYMOUS\r\n")
            context.writeAndFlush(wrapOutboundOut(answer), promise: nil)
        }
    }
}

/// A reverse proxy (TLS in, Unix out to a D-Bus-like backend) on 127.0.0.1 with a chosen server certificate.
final class ReverseFixture: Sendable {
    let group: MultiThreadedEventLoopGroup
    let backend: DBusLikeServer
    let proxy: Proxy
    let port: Int

    init(workspace: ProbeWorkspace, certificate: URL, key: URL) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        backend = try await DBusLikeServer.start(path: workspace.path("controller.sock"), group: group)
        let tls = TLSSettings(
            certificateFiles: [certificate.path], keyFile: key.path, caFile: workspace.pki.caCertificate.path,
            verify: .required)
        let configuration = TestConfigurations.reverse(
            tls: tls, backend: workspace.path("controller.sock"), server: "controller")
        proxy = try await Proxy.start(
            plan: ProxyPlan(configuration: configuration), group: group, logger: .init(label: "reverse"))
        port = proxy.boundAddresses[0].port!
    }

    func shutdown() async {
        await proxy.stopListening()
        await backend.close()
        try? await group.shutdownGracefully()
    }
}

/// A forward proxy (Unix in, TLS out) toward `127.0.0.1:port`, verifying the name `localhost`.
final class ForwardFixture: Sendable {
    let group: MultiThreadedEventLoopGroup
    let proxy: Proxy
    let socketPath: String

    init(workspace: ProbeWorkspace, reversePort: Int) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        socketPath = workspace.path("agent.sock")
        let tls = TLSSettings(
            certificateFiles: [workspace.pki.clientCertificate.path], keyFile: workspace.pki.clientKey.path,
            caFile: workspace.pki.caCertificate.path, verify: .required, serverName: "localhost",
            verifyHost: "localhost")
        let configuration = TestConfigurations.forward(
            socket: socketPath, server: "manager", port: reversePort, tls: tls, retries: 0)
        proxy = try await Proxy.start(
            plan: ProxyPlan(configuration: configuration), group: group, logger: .init(label: "forward"))
    }

    func shutdown() async {
        await proxy.stopListening()
        try? await group.shutdownGracefully()
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
func closedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}
