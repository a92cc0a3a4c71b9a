import Foundation
import Testing

/// BlueChi's HAProxy double-proxy configurations run unchanged (only paths, host and port substituted), and
/// sidecar interoperates with HAProxy itself on the other side of the tunnel.
@Suite struct HAProxyCompatibilityTests {
    /// The controller-side configuration from BlueChi's "securing multi-node" guide.
    static func managerConfig(port: UInt16, certificate: String, ca: String, backend: String) -> String {
        """
        frontend hirte-manager
            bind *:\(port) ssl crt \(certificate) verify required ca-file \(ca)
            default_backend hirte-manager
        backend hirte-manager
            balance roundrobin
            server hirte-manager \(backend)

        """
    }

    /// The agent-side configuration from the same guide.
    static func agentConfig(socket: String, port: UInt16, certificate: String, ca: String) -> String {
        """
        frontend hirte-agent
            bind \(socket)
            default_backend hirte-agent
        backend hirte-agent
            balance roundrobin
            server hirte-agent 127.0.0.1:\(port) ssl crt \(certificate) verify required ca-file \(ca)

        """
    }

    /// HAProxy's `crt` takes one PEM with the certificate, its chain and the key.
    private func combined(_ scenario: Scenario, pki: PKI, _ name: String) throws -> String {
        let path = scenario.path("\(name)-combined.pem")
        let text =
            try String(contentsOfFile: pki.certificate(name), encoding: .utf8)
            + String(contentsOfFile: pki.key(name), encoding: .utf8)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func blueChiGuideConfigsCarryRealDBusTraffic() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let bus = try await scenario.startDBusDaemon()
            let port = try Harness.freePort()
            try write(
                Self.managerConfig(
                    port: port, certificate: try combined(scenario, pki: pki, "manager"), ca: pki.ca, backend: bus),
                scenario.path("reverse.d/hirte.cfg"))
            let reverse = try scenario.start(
                "reverse", try Harness.sidecarBinary(), ["reverse", "-f", scenario.path("reverse.d"), "--threads", "1"])
            try await reverse.waitForLine(containing: ["info ready"])
            let agentSocket = scenario.path("hirte-agent.sock")
            try write(
                Self.agentConfig(
                    socket: agentSocket, port: port, certificate: try combined(scenario, pki: pki, "node1"), ca: pki.ca),
                scenario.path("conf.d/hirte.cfg"))
            let forward = try scenario.start(
                "forward", try Harness.sidecarBinary(), ["forward", "-f", scenario.path("conf.d"), "--threads", "1"])
            try await forward.waitForLine(containing: ["info ready"])

            let busctl = try Harness.tool("busctl", package: "systemd")
            let call = try await scenario.run(
                "busctl", busctl,
                [
                    "--address=unix:path=" + agentSocket, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                    "org.freedesktop.DBus", "GetId",
                ])
            let direct = try await scenario.run(
                "direct", busctl,
                [
                    "--address=unix:path=" + bus, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                    "org.freedesktop.DBus", "GetId",
                ])
            #expect(call.exitStatus == 0, "\(scenario.transcripts)")
            #expect(DBusTests.busId(in: call.stdout) != nil)
            #expect(DBusTests.busId(in: call.stdout) == DBusTests.busId(in: direct.stdout), "\(scenario.transcripts)")
            // The guide's agent line has neither verifyhost nor sni: HAProxy checks the chain only, and so do we,
            // with a warning.
            #expect(forward.stderr.contains("peer name not checked"))
            try await reverse.waitForLine(containing: ["connection closed", "/CN=node1"])
        }
    }

    @Test func nbthreadSetsTheEventLoopThreadsUnlessTheEnvironmentOrTheFlagDoes() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let directory = try scenario.writeReverseConfig(pki: pki, port: try Harness.freePort(), backend: echo.path)
            try write("global\n    nbthread 3\n", directory + "/00-global.cfg")
            let reverse = try scenario.start("reverse", try Harness.sidecarBinary(), ["reverse", "-f", directory])
            try await reverse.waitForLine(containing: ["info ready", "threads=3"])
            reverse.stop()
            // $SIDECAR_THREADS is the default of --threads: it outranks nbthread, and the flag outranks it.
            let environment = URL(fileURLWithPath: "/usr/bin/env")
            let fromEnvironment = try scenario.start(
                "reverse-env", environment,
                ["SIDECAR_THREADS=4", try Harness.sidecarBinary().path, "reverse", "-f", directory])
            try await fromEnvironment.waitForLine(containing: ["info ready", "threads=4"])
            fromEnvironment.stop()
            let flagged = try scenario.start(
                "reverse-flag", environment,
                ["SIDECAR_THREADS=4", try Harness.sidecarBinary().path, "reverse", "-f", directory, "--threads", "2"])
            try await flagged.waitForLine(containing: ["info ready", "threads=2"])
        }
    }

    @Test func haproxyForwardTalksToSidecarReverse() async throws {
        try await withScenario { scenario in
            let haproxy = try Harness.tool("haproxy", package: "haproxy")
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let reverse = try await scenario.startReverse(pki: pki, backend: echo.path)
            let agentSocket = scenario.path("haproxy-agent.sock")
            try write(
                "global\n    nbthread 1\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n"
                    + "    timeout server 30s\n"
                    + Self.agentConfig(
                        socket: agentSocket, port: reverse.port, certificate: try combined(scenario, pki: pki, "node1"),
                        ca: pki.ca),
                scenario.path("haproxy-agent.cfg"))
            let forward = try scenario.start("haproxy", haproxy, ["-db", "-f", scenario.path("haproxy-agent.cfg")])
            try await Harness.waitUntil("haproxy listens on \(agentSocket)", details: forward.transcript) {
                Scenario.isSocket(agentSocket)
            }
            let client = try UnixSocketClient(path: agentSocket)
            try client.send("from haproxy to sidecar\n")
            try await client.receive(until: "from haproxy to sidecar\n")
            client.close()
            try await reverse.process.waitForLine(containing: ["connection closed", "/CN=node1"])
        }
    }

    @Test func sidecarForwardTalksToHAProxyReverse() async throws {
        try await withScenario { scenario in
            let haproxy = try Harness.tool("haproxy", package: "haproxy")
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let port = try Harness.freePort()
            try write(
                "global\n    nbthread 1\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n"
                    + "    timeout server 30s\n"
                    + Self.managerConfig(
                        port: port, certificate: try combined(scenario, pki: pki, "manager"), ca: pki.ca,
                        backend: echo.path
                    )
                    .replacingOccurrences(of: "bind *:", with: "bind 127.0.0.1:"),
                scenario.path("haproxy-manager.cfg"))
            let reverse = try scenario.start("haproxy", haproxy, ["-db", "-f", scenario.path("haproxy-manager.cfg")])
            try await Harness.waitUntil("haproxy listens on \(port)", details: reverse.transcript) {
                (try? TCPProbe.canConnect(port: port)) == true
            }
            let forward = try await scenario.startForward(pki: pki, port: port, serverName: "localhost")
            let client = try UnixSocketClient(path: forward.socketPath)
            try client.send("from sidecar to haproxy\n")
            try await client.receive(until: "from sidecar to haproxy\n")
            client.close()
            try await forward.process.waitForLine(containing: ["connection closed"])
        }
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:port.
enum TCPProbe {
    static func canConnect(port: UInt16) throws -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket(): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
