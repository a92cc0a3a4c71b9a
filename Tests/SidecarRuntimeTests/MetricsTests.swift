import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarProxy
import SidecarTestSupport
import Testing

@testable import SidecarRuntime

/// `metrics-bind`: `/metrics` in Prometheus text format with counters that follow the traffic, `/health`
/// flipping to 503 when the only server is down, and the keyword's parsing.
@Suite struct MetricsTests {
    @Test func metricsParseAndCountTheTraffic() async throws {
        try await MetricsFixture.with { fixture in
            let client = try await fixture.client()
            try await client.echo(1000)
            try await client.echo(234)
            await client.close()
            var samples: [String: Double] = [:]
            try await waitFor("metrics counting the closed connection") {
                samples = try await fixture.metrics()
                return samples["sidecar_frontend_connections_active{frontend=\"fe\"}"] == 0
                    && samples["sidecar_frontend_bytes_in_total{frontend=\"fe\"}"] == 1234
            }
            #expect(samples["sidecar_frontend_connections_total{frontend=\"fe\"}"] == 1)
            #expect(samples["sidecar_frontend_bytes_in_total{frontend=\"fe\"}"] == 1234)
            #expect(samples["sidecar_frontend_bytes_out_total{frontend=\"fe\"}"] == 1234)
            #expect(samples["sidecar_frontend_connections_total{frontend=\"tls\"}"] == 0)
            #expect(samples["sidecar_backend_bytes_in_total{backend=\"be\"}"] == 1234)
            #expect(samples["sidecar_backend_bytes_out_total{backend=\"be\"}"] == 1234)
            #expect(samples["sidecar_server_bytes_in_total{backend=\"be\",server=\"s1\"}"] == 1234)
            #expect(samples["sidecar_server_connections_total{backend=\"be\",server=\"s1\"}"] == 1)
            #expect(samples["sidecar_server_up{backend=\"be\",server=\"s1\"}"] == 1)
            #expect(samples["sidecar_frontend_connections_refused_total{frontend=\"fe\",reason=\"handshake\"}"] == 0)
            #expect(samples["sidecar_reloads_total{result=\"success\"}"] == 0)
            let build = samples.filter { $0.key.hasPrefix("sidecar_build_info{version=\"dev\",openssl=\"OpenSSL 3.") }
            #expect(build.count == 1 && build.values.first == 1, "\(samples.keys.sorted())")
            let notAfter = samples.filter { $0.key.hasPrefix("sidecar_certificate_not_after_timestamp_seconds{") }
            #expect(!notAfter.isEmpty)
            #expect(notAfter.values.allSatisfy { $0 > Date().timeIntervalSince1970 })

            // A live connection shows as active, with its bytes so far.
            let open = try await fixture.client()
            try await open.echo(10)
            try await waitFor("an active connection") {
                samples = try await fixture.metrics()
                return samples["sidecar_frontend_connections_active{frontend=\"fe\"}"] == 1
            }
            #expect(samples["sidecar_frontend_bytes_in_total{frontend=\"fe\"}"] == 1244)
            await open.close()

            fixture.reloads.record(success: false)
            samples = try await fixture.metrics()
            #expect(samples["sidecar_reloads_total{result=\"failure\"}"] == 1)

            let missing = try await HTTPGet.fetch(fixture.port, "/nothing")
            #expect(missing.status == 404)
        }
    }

    @Test func healthFlipsWhenTheOnlyServerIsDown() async throws {
        try await MetricsFixture.with { fixture in
            let healthy = try await HTTPGet.fetch(fixture.port, "/health")
            #expect(healthy.status == 200)
            #expect(healthy.body == "{\"status\":\"ok\"}\n")
            #expect(fixture.api.execute("disable server be/s1", level: .admin) == "\n")
            let down = try await HTTPGet.fetch(fixture.port, "/health")
            #expect(down.status == 503)
            #expect(down.body == "{\"status\":\"unhealthy\",\"problems\":[\"backend 'be' has no server up\"]}\n")
            let samples = try PrometheusText.parse(try await HTTPGet.fetch(fixture.port, "/metrics").body)
            #expect(samples["sidecar_server_up{backend=\"be\",server=\"s1\"}"] == 0)
            #expect(fixture.api.execute("enable server be/s1", level: .admin) == "\n")
            #expect(try await HTTPGet.fetch(fixture.port, "/health").status == 200)
            fixture.server.markStopping()
            let stopping = try await HTTPGet.fetch(fixture.port, "/health")
            #expect(stopping.status == 503)
            #expect(stopping.body.contains("not listening"))
        }
    }

    @Test func healthTurns503WhenTheOnlyBackendDies() async throws {
        try await MetricsFixture.with(checked: true) { fixture in
            try await waitFor("the first check passed") {
                fixture.proxy.plan.frontends[0].backend.checkReport(of: 0).lastDurationMilliseconds != nil
            }
            #expect(try await HTTPGet.fetch(fixture.port, "/health").status == 200)
            await fixture.echo.close()
            var response = HTTPGet.Response(status: 0, body: "")
            try await waitFor("/health turning 503") {
                response = try await HTTPGet.fetch(fixture.port, "/health")
                return response.status == 503
            }
            #expect(response.body == "{\"status\":\"unhealthy\",\"problems\":[\"backend 'be' has no server up\"]}\n")
            let samples = try await fixture.metrics()
            #expect(samples["sidecar_server_up{backend=\"be\",server=\"s1\"}"] == 0)
            #expect(samples["sidecar_server_check_failing{backend=\"be\",server=\"s1\"}"] == 1)
            #expect(samples["sidecar_server_check_failures_total{backend=\"be\",server=\"s1\"}"] == 1)
        }
    }

    @Test func checkFailuresStartAgainAfterAReloadInsteadOfStalling() async throws {
        try await MetricsFixture.with(checked: true, fall: 3) { fixture in
            let series = "sidecar_server_check_failures_total{backend=\"be\",server=\"s1\"}"
            await fixture.echo.close()
            try await waitFor("three failed checks") { try await fixture.metrics()[series] == 3 }
            // The reloaded configuration's check counts from 0 and, with fall 1, stops at 1.
            let configuration = RuntimeFixture.configuration(fixture.workspace, servers: ["s1"], checked: true)
            let reloaded = try await fixture.proxy.reload(
                to: try ProxyPlan(configuration: configuration), logger: quietLogger)
            fixture.api.adopt(reloaded)
            try await waitFor("the new check failed once") {
                reloaded.plan.frontends[0].backend.checkReport(of: 0).failedChecks == 1
            }
            // A counter stuck at 3 would hide the new failures until there were more than 3 of them; the
            // series starts again instead (a counter reset, for Prometheus).
            #expect(try await fixture.metrics()[series] == 1)
            await reloaded.stopListening()
        }
    }

    @Test func seriesOfWhatAReloadRemovedDisappear() async throws {
        try await MetricsFixture.with { fixture in
            var samples = try await fixture.metrics()
            #expect(samples["sidecar_frontend_handshake_duration_seconds_count{frontend=\"tls\"}"] == 0)
            #expect(samples["sidecar_server_up{backend=\"be\",server=\"s1\"}"] == 1)
            // The reloaded configuration has no TLS frontend, and its one server is called s9.
            var configuration = RuntimeFixture.configuration(fixture.workspace, servers: ["s9"])
            configuration.frontends.removeAll { $0.name == "tls" }
            let reloaded = try await fixture.proxy.reload(
                to: try ProxyPlan(configuration: configuration), logger: quietLogger)
            fixture.api.adopt(reloaded)
            samples = try await fixture.metrics()
            #expect(!samples.keys.contains { $0.contains("frontend=\"tls\"") }, "\(samples.keys.sorted())")
            #expect(!samples.keys.contains { $0.contains("server=\"s1\"") }, "\(samples.keys.sorted())")
            #expect(samples["sidecar_server_up{backend=\"be\",server=\"s9\"}"] == 1)
            #expect(samples["sidecar_frontend_connections_total{frontend=\"fe\"}"] == 0)
            await reloaded.stopListening()
        }
    }

    @Test func reloadKeepsOrReplacesTheEndpoint() async throws {
        let fixture = try await MetricsFixture()
        // The configured address (port 0 here) is what a reload compares, not the port bound.
        let address = ListenAddress.tcp(host: "127.0.0.1", port: 0)
        let kept = await MetricsServer.reload(
            fixture.server, to: address, location: nil, api: fixture.api, metrics: fixture.exporter,
            group: fixture.group, logger: quietLogger)
        #expect(kept === fixture.server)
        let moved = await MetricsServer.reload(
            fixture.server, to: .tcp(host: "", port: 0), location: nil, api: fixture.api,
            metrics: fixture.exporter, group: fixture.group, logger: quietLogger)
        let movedPort = moved?.localAddress?.port ?? 0
        #expect(moved !== fixture.server && movedPort != 0)
        let health = try await HTTPGet.fetch(movedPort, "/health")
        #expect(health.status == 200)
        let removed = await MetricsServer.reload(
            moved, to: nil, location: nil, api: fixture.api, metrics: fixture.exporter, group: fixture.group,
            logger: quietLogger)
        #expect(removed == nil)
        await fixture.shutdown()
    }

    @Test func metricsBindParses() throws {
        let loader = ConfigLoader(environment: [:])
        let base =
            "frontend fe\n    bind 127.0.0.1:8443\n    default_backend be\nbackend be\n    server s1 127.0.0.1:80\n"
        let v4 = try loader.load(text: "global\n    metrics-bind 127.0.0.1:9100\n" + base, file: "m.cfg")
        #expect(v4.global.metricsBind == .tcp(host: "127.0.0.1", port: 9100))
        #expect(v4.global.metricsBindLocation?.line == 2)
        let v6 = try loader.load(text: "global\n    metrics-bind [::1]:9100\n" + base, file: "m.cfg")
        #expect(v6.global.metricsBind == .tcp(host: "::1", port: 9100))
        let none = try loader.load(text: "global\n" + base, file: "m.cfg")
        #expect(none.global.metricsBind == nil)
        for bad in ["metrics-bind 127.0.0.1", "metrics-bind 127.0.0.1:99999", "metrics-bind ::1:9100", "metrics-bind"] {
            do {
                _ = try loader.load(text: "global\n    \(bad)\n" + base, file: "m.cfg")
                Issue.record("'\(bad)' was accepted")
            } catch {
                #expect("\(error)".contains("m.cfg:2"), "\(error)")
                #expect("\(error)".contains("metrics-bind"), "\(error)")
            }
        }
    }
}

/// A proxy with frontends `fe` (Unix) and `tls` into backend `be` with the single server `s1`, its runtime
/// API and a metrics endpoint on 127.0.0.1 with a port of the system's choosing.
final class MetricsFixture: Sendable {
    let workspace: ProbeWorkspace
    let group: MultiThreadedEventLoopGroup
    let echo: EchoServer
    let proxy: Proxy
    let api: RuntimeAPI
    let exporter = MetricsExporter()
    var reloads: ReloadHistory { exporter.reloads }
    let server: MetricsServer
    let port: Int

    /// - Parameters:
    ///   - checked: give `s1` a health check (inter 100 ms, fall 1, rise 1).
    ///   - handshakeTimeout: the `tls` frontend's `handshake-timeout`.
    ///   - dbus: `option dbus` on frontend `fe`.
    init(
        checked: Bool = false, fall: Int = 1, handshakeTimeout: Duration? = nil, dbus: DBusSettings? = nil
    ) async throws {
        workspace = try ProbeWorkspace()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        echo = try await EchoServer.start(path: workspace.path("s1.sock"), group: group)
        var configuration = RuntimeFixture.configuration(workspace, servers: ["s1"], checked: checked, fall: fall)
        if let handshakeTimeout {
            for index in configuration.frontends.indices where configuration.frontends[index].name == "tls" {
                configuration.frontends[index].binds[0].handshakeTimeout = handshakeTimeout
            }
        }
        configuration.frontends[0].dbus = dbus
        proxy = try await Proxy.start(
            plan: ProxyPlan(configuration: configuration),
            group: group, registry: ConnectionRegistry(metrics: exporter.factory), logger: quietLogger)
        api = RuntimeAPI(proxy: proxy)
        server = try await MetricsServer.start(
            .tcp(host: "127.0.0.1", port: 0), location: nil, api: api, metrics: exporter, group: group,
            logger: quietLogger)
        port = server.localAddress?.port ?? 0
    }

    /// Runs `body` with a new fixture and shuts the fixture down afterwards, whether `body` throws or not.
    static func with(
        checked: Bool = false, fall: Int = 1, handshakeTimeout: Duration? = nil, dbus: DBusSettings? = nil,
        _ body: (MetricsFixture) async throws -> Void
    ) async throws {
        let fixture = try await MetricsFixture(
            checked: checked, fall: fall, handshakeTimeout: handshakeTimeout, dbus: dbus)
        do {
            try await body(fixture)
        } catch {
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    func client() async throws -> CollectingClient {
        try await CollectingClient.connect(unixPath: workspace.path("fe.sock"), group: group)
    }

    /// `/metrics` as prometheus_client reads it: sample name with labels to value.
    func metrics() async throws -> [String: Double] {
        let response = try await HTTPGet.fetch(port, "/metrics")
        #expect(response.status == 200)
        #expect(response.contentType == "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusText.parse(response.body)
    }

    func shutdown() async {
        await server.close()
        await proxy.stopListening()
        proxy.registry.closeAll()
        await echo.close()
        try? await group.shutdownGracefully()
    }
}

/// The Prometheus text format as the reference implementation reads it: `prometheus_client`'s parser
/// (Debian's python3-prometheus-client, run by /usr/bin/python3), not a reader of our own.
enum PrometheusText {
    struct Rejected: Error, CustomStringConvertible {
        let description: String
    }

    /// Every sample, `name{labels}` (labels in the order written) to value. Fails when the parser rejects
    /// the text or a family has no `# TYPE`.
    static func parse(_ text: String) throws -> [String: Double] {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            samples = {}
            for family in text_string_to_metric_families(sys.stdin.read()):
                if family.type == "unknown":
                    sys.exit("no TYPE for " + family.name)
                for sample in family.samples:
                    labels = ",".join('%s="%s"' % item for item in sample.labels.items())
                    key = sample.name + ("{" + labels + "}" if labels else "")
                    if key in samples:
                        sys.exit("duplicate series " + key)
                    samples[key] = sample.value
            json.dump(samples, sys.stdout)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Rejected(description: "prometheus_client rejected /metrics: \(message)\n\(text)")
        }
        return try JSONDecoder().decode([String: Double].self, from: json)
    }
}

/// A minimal HTTP/1.1 client: one `GET` with `Connection: close`, read to EOF.
enum HTTPGet {
    struct Response {
        var status: Int
        var contentType: String?
        var body: String
    }

    static func fetch(_ port: Int, _ path: String) async throws -> Response {
        let group = MultiThreadedEventLoopGroup.singleton
        let received = NIOLockedValueBox<[UInt8]>([])
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(received: received))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        try await waitFor("the response to GET \(path)") { !channel.isActive }
        try await channel.closeFuture.get()
        let text = String(decoding: received.withLockedValue { $0 }, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw PrometheusText.Rejected(description: "no HTTP head: \(text)")
        }
        let headLines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusWords = headLines[0].split(separator: " ")
        guard statusWords.count >= 2, statusWords[0] == "HTTP/1.1", let status = Int(statusWords[1]) else {
            throw PrometheusText.Rejected(description: "bad status line: \(headLines[0])")
        }
        var contentType: String?
        var length: Int?
        for line in headLines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0].lowercased() == "content-type" { contentType = parts[1] }
            if parts[0].lowercased() == "content-length" { length = Int(parts[1]) }
        }
        let body = String(text[split.upperBound...])
        #expect(length == body.utf8.count)
        return Response(status: status, contentType: contentType, body: body)
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<[UInt8]>
        init(received: NIOLockedValueBox<[UInt8]>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLockedValue { $0 += buffer.readableBytesView }
        }
    }
}
