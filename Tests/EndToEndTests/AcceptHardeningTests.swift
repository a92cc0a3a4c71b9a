import Foundation
import Testing

/// What a client that is not yet (or never) authenticated can make the reverse side do: `tcp-request
/// connection` rules act before any TLS byte, and descriptors and handshakes are bounded.
@Suite struct AcceptHardeningTests {
    /// `reverse.d/manager.cfg` with extra `global` and `frontend` lines.
    static func writeConfig(
        _ scenario: Scenario, pki: PKI, port: UInt16, backend: String, global: [String] = [],
        frontend: [String] = [], server: String = ""
    ) throws -> String {
        let directory = scenario.path("reverse.d")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let globalSection = global.isEmpty ? "" : "global\n" + global.map { "    \($0)\n" }.joined()
        try """
        \(globalSection)frontend manager
            bind 127.0.0.1:\(port) ssl crt \(pki.certificate("manager")) verify required ca-file \(pki.ca)
        \(frontend.map { "    \($0)\n" }.joined())    default_backend local
        backend local
            server bus \(backend) \(server)

        """.write(toFile: directory + "/manager.cfg", atomically: true, encoding: .utf8)
        return directory
    }

    @Test func tcpRequestConnectionRejectSendsNoServerHello() async throws {
        try await withScenario { scenario in
            let openssl = try Harness.tool("openssl", package: "openssl")
            let pki = try await scenario.makePKI()
            let backend = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let config = try Self.writeConfig(
                scenario, pki: pki, port: port, backend: backend.path,
                frontend: ["tcp-request connection reject if { src 127.0.0.1 }"])
            let reverse = try scenario.start("reverse", try Harness.sidecarBinary(), ["reverse", "-f", config])
            try await reverse.waitForLine(containing: ["info ready"])

            let client = try await scenario.run(
                "s_client", openssl,
                [
                    "s_client", "-connect", "127.0.0.1:\(port)", "-cert", pki.certificate("node1"), "-key",
                    pki.key("node1"), "-CAfile", pki.ca,
                ])
            let refused = try await reverse.waitForLine(containing: ["connection refused"])
            #expect(refused.contains("source 127.0.0.1 not allowed"), "\(refused)")
            #expect(refused.contains("tcp-request connection reject"), "\(refused)")
            // s_client prints the server's certificate once a ServerHello and Certificate arrived.
            #expect(client.stdout.contains("no peer certificate available"), "\(client.transcript)")
            #expect(!client.stdout.contains("BEGIN CERTIFICATE"), "\(client.transcript)")
            #expect(!client.stdout.contains("Server certificate"), "\(client.transcript)")
            #expect(backend.acceptedConnections == 0)
        }
    }

    /// `count` TCP connections to 127.0.0.1:`port` that never send a byte (descriptors of this process).
    static func openSilentConnections(port: UInt16, count: Int) throws -> [Int32] {
        var descriptors: [Int32] = []
        for _ in 0..<count {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard result == 0 else {
                close(descriptor)
                throw HarnessError("connect: \(String(cString: strerror(errno)))")
            }
            descriptors.append(descriptor)
        }
        return descriptors
    }

    /// User plus system CPU seconds `pid` has used (`/proc/PID/stat` fields 14 and 15, in clock ticks).
    static func cpuSeconds(_ pid: pid_t) throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        guard let close = text.lastIndex(of: ")") else { throw HarnessError("odd /proc/\(pid)/stat: \(text)") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime field 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw HarnessError("odd /proc/\(pid)/stat: \(text)")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// `sidecar reverse -f` under a 256-descriptor limit (soft and hard, so raising cannot help), with a
    /// health-checked server.
    static func startLimitedReverse(
        _ scenario: Scenario, pki: PKI, backend: String, global: [String] = []
    ) async throws -> (ChildProcess, UInt16) {
        let prlimit = try Harness.tool("prlimit", package: "util-linux")
        let port = try Harness.freePort()
        let config = try writeConfig(
            scenario, pki: pki, port: port, backend: backend, global: global, server: "check inter 200ms fall 1")
        let reverse = try scenario.start(
            "reverse", prlimit,
            ["--nofile=256:256", "--", try Harness.sidecarBinary().path, "reverse", "-f", config, "--threads", "1"])
        try await reverse.waitForLine(containing: ["info ready"])
        return (reverse, port)
    }

    @Test func silentConnectionsBeyondTheDescriptorLimitKeepNoVerifiedClientOut() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let backend = try scenario.startEchoServer()
            let (reverse, port) = try await Self.startLimitedReverse(scenario, pki: pki, backend: backend.path)
            #expect(reverse.stderr.contains("descriptors: limit 256"), "\(reverse.transcript)")
            let forward = try await scenario.startForward(pki: pki, port: port, serverName: "localhost")

            let started = ContinuousClock.now
            let cpuBefore = try Self.cpuSeconds(reverse.pid)
            let silent = try Self.openSilentConnections(port: port, count: 300)
            defer { for descriptor in silent { close(descriptor) } }
            let client = try UnixSocketClient(path: forward.socketPath)
            try client.send("verified node\n")
            _ = try await client.receive(until: "verified node\n", timeout: .seconds(2))
            #expect(ContinuousClock.now - started < .seconds(2))
            client.close()
            // Over a window of three seconds with the silent connections held open, the listener must idle.
            try await Task.sleep(until: started + .seconds(3))
            let cpu = try Self.cpuSeconds(reverse.pid) - cpuBefore
            #expect(cpu < 0.6, "reverse used \(cpu) CPU-seconds in 3 s\n\(reverse.transcript)")
            #expect(!reverse.stderr.contains("is DOWN"), "\(reverse.transcript)")
            #expect(!reverse.stderr.contains("Too many open files"), "\(reverse.transcript)")
            #expect(reverse.stderr.contains("tune.ssl.max-pending-handshakes"), "no handshake was displaced")
        }
    }

    /// With limits set too high for the descriptors (configured, so not derived), `accept` fails with
    /// EMFILE: the listener backs off instead of spinning, logs it, and accepts again once descriptors free.
    @Test func acceptFailingWithEMFILEBacksOffLogsOnceAndRecovers() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let backend = try scenario.startEchoServer()
            let (reverse, port) = try await Self.startLimitedReverse(
                scenario, pki: pki, backend: backend.path,
                global: ["maxconn 1000", "tune.ssl.max-pending-handshakes 1000"])
            #expect(reverse.stderr.contains("global maxconn 1000 needs about"), "\(reverse.transcript)")
            let forward = try await scenario.startForward(pki: pki, port: port, serverName: "localhost")

            let started = ContinuousClock.now
            let cpuBefore = try Self.cpuSeconds(reverse.pid)
            var silent = try Self.openSilentConnections(port: port, count: 300)
            defer { for descriptor in silent { close(descriptor) } }
            try await reverse.waitForLine(containing: ["cannot accept connections: Too many open files"])
            try await Task.sleep(until: started + .seconds(3))
            let cpu = try Self.cpuSeconds(reverse.pid) - cpuBefore
            #expect(cpu < 0.6, "reverse used \(cpu) CPU-seconds in 3 s\n\(reverse.transcript)")
            let warnings = reverse.stderr.components(separatedBy: "cannot accept connections").count - 1
            #expect(warnings == 1, "logged \(warnings) times in 3 s")

            for descriptor in silent { close(descriptor) }
            silent = []
            // The health check failed with EMFILE as well (this configuration asked for it): wait for it to pass.
            if reverse.stderr.contains("is DOWN") { try await reverse.waitForLine(containing: ["is UP"]) }
            let client = try UnixSocketClient(path: forward.socketPath)
            try client.send("after the flood\n")
            _ = try await client.receive(until: "after the flood\n")
            client.close()
        }
    }
}
