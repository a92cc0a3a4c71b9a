import Foundation

/// A running tunnel in front of a D-Bus server: the socket a client connects to, and whichever ends are
/// sidecars (HAProxy's ends are nil).
struct DBusTunnel {
    let socketPath: String
    let forward: ChildProcess?
    let reverse: ChildProcess?
}

extension Scenario {
    /// Starts forward → TLS → reverse in front of the Unix socket `backend`, with `--dbus` where `placement`
    /// says. `reverseArguments` go to a sidecar reverse side (for example `--dbus-register-name cn`).
    func startTunnel(
        pki: PKI,
        backend: String,
        placement: DBusPlacement,
        clientCertificate: String = "node1",
        reverseArguments: [String] = []
    ) async throws -> DBusTunnel {
        switch placement {
        case .bothSides, .neither:
            let dbus = placement == .bothSides ? ["--dbus"] : []
            let reverse = try await startReverse(pki: pki, backend: backend, extraArguments: dbus + reverseArguments)
            let forward = try await startForward(
                pki: pki, port: reverse.port, certificate: clientCertificate, serverName: "localhost",
                extraArguments: dbus)
            return DBusTunnel(socketPath: forward.socketPath, forward: forward.process, reverse: reverse.process)
        case .forwardOnly:
            let port = try await startHAProxyReverse(pki: pki, backend: backend)
            let forward = try await startForward(
                pki: pki, port: port, certificate: clientCertificate, serverName: "localhost",
                extraArguments: ["--dbus"])
            return DBusTunnel(socketPath: forward.socketPath, forward: forward.process, reverse: nil)
        case .reverseOnly:
            let reverse = try await startReverse(
                pki: pki, backend: backend, extraArguments: ["--dbus"] + reverseArguments)
            let socketPath = try await startHAProxyForward(pki: pki, port: reverse.port, certificate: clientCertificate)
            return DBusTunnel(socketPath: socketPath, forward: nil, reverse: reverse.process)
        }
    }

    /// Starts `sidecar reverse -f` with `reverse.d/controller.cfg`: `global` lines, then a frontend `controller`
    /// with a TLS bind on a free loopback port (the `manager` certificate, client certificates required), the
    /// `frontend` lines, and a backend with the one server `backend`. Retries on another port if the one picked
    /// was taken meanwhile. Returns the process, the port and the configuration file.
    func startConfiguredReverse(
        pki: PKI,
        backend: String,
        global: [String] = [],
        frontend: [String]
    ) async throws -> (process: ChildProcess, port: UInt16, file: String) {
        let directory = path("reverse.d")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/controller.cfg"
        for attempt in 1...3 {
            let port = try Harness.freePort()
            let text =
                (global.isEmpty ? "" : "global\n" + global.map { "    \($0)\n" }.joined())
                + "frontend controller\n"
                + "    bind 127.0.0.1:\(port) ssl crt \(pki.certificate("manager")) verify required ca-file \(pki.ca)\n"
                + frontend.map { "    \($0)\n" }.joined()
                + "    default_backend controller\n"
                + "backend controller\n"
                + "    server bluechi \(backend)\n"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let process = try start(
                "reverse", try Harness.sidecarBinary(), ["reverse", "-f", directory, "--threads", "1"])
            do {
                try await process.waitForLine(containing: ["info ready"])
                return (process, port, file)
            } catch  where attempt < 3 && process.stderr.contains("in use") {
                continue
            }
        }
        throw HarnessError("unreachable")
    }

    /// `GET /metrics` from a sidecar's `metrics-bind` address, with the distribution's Python.
    func scrapeMetrics(port: UInt16) async throws -> String {
        let scrape = try await run(
            "scrape",
            try BlueChiPeers.python(),
            [
                "-c",
                "import sys, urllib.request; "
                    + "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:\(port)/metrics', timeout=10)"
                    + ".read().decode())",
            ]
        )
        guard scrape.exitStatus == 0 else { throw HarnessError("cannot scrape /metrics\n\(scrape.transcript)") }
        return scrape.stdout
    }

    /// The value of one sample (`name{labels} value`) in Prometheus text, or nil when it is absent.
    static func sample(_ name: String, frontend: String, in metrics: String) -> Double? {
        for line in metrics.split(separator: "\n") where line.hasPrefix(name + "{") {
            guard line.contains("frontend=\"\(frontend)\""), let value = line.split(separator: " ").last else {
                continue
            }
            return Double(value)
        }
        return nil
    }
}

/// Descriptors a process holds, from `/proc/PID/fd`.
func openDescriptorCount(of pid: pid_t) -> Int {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
}
