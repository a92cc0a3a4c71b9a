import Foundation
import Testing

/// systemd integration without systemd as PID 1: `systemd-socket-activate` passes sockets, a datagram socket
/// plays `NOTIFY_SOCKET`, signals are sent by PID, and `systemd-analyze verify` checks the unit files.
@Suite struct SystemdTests {
    /// systemd-socket-activate gives the service only the `LISTEN_*` variables and what `-E` names, as systemd
    /// does. scripts/test.sh runs the suite on an AddressSanitizer build whose options (`detect_leaks=0`, README,
    /// Reliability) the service must get too.
    static let passedEnvironment: [String] =
        ProcessInfo.processInfo.environment["ASAN_OPTIONS"].map { ["-E", "ASAN_OPTIONS=\($0)"] } ?? []

    /// A forward configuration whose server is the reverse sidecar at `port`.
    private func forwardConfig(_ scenario: Scenario, pki: PKI, bind: String, port: UInt16, extra: String = "") -> String
    {
        """
        global
            hard-stop-after 5s
        \(extra)
        defaults
            timeout connect 5s
        frontend agent
            bind \(bind)
            default_backend manager
        backend manager
            server manager 127.0.0.1:\(port) ssl crt \(pki.certificate("node1")) ca-file \(pki.ca) verifyhost localhost

        """
    }

    private func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// A reverse sidecar in front of an echo server, and a forward sidecar run from a `conf.d` written here.
    private struct ConfiguredForward {
        let pki: PKI
        let reversePort: UInt16
        let configFile: String
        let socketPath: String
        let process: ChildProcess
    }

    /// Starts the tunnel and waits for the forward's `ready`.
    /// - Parameters:
    ///   - environment: `NAME=value` settings for the forward process.
    ///   - edit: changes the forward configuration before it is written.
    private func startConfiguredForward(
        _ scenario: Scenario, environment: [String] = [], edit: (String) -> String = { $0 }
    ) async throws -> ConfiguredForward {
        let pki = try await scenario.makePKI()
        let echo = try scenario.startEchoServer()
        let reverse = try await scenario.startReverse(pki: pki, backend: echo.path)
        let socketPath = scenario.path("fwd.sock")
        let configFile = scenario.path("conf.d/agent.cfg")
        try FileManager.default.createDirectory(atPath: scenario.path("conf.d"), withIntermediateDirectories: true)
        try write(edit(forwardConfig(scenario, pki: pki, bind: socketPath, port: reverse.port)), to: configFile)
        let process = try scenario.start(
            "forward", URL(fileURLWithPath: "/usr/bin/env"),
            environment + [
                try Harness.sidecarBinary().path, "forward", "-f", scenario.path("conf.d"), "--threads", "1",
            ])
        try await process.waitForLine(containing: ["info ready"])
        return ConfiguredForward(
            pki: pki, reversePort: reverse.port, configFile: configFile, socketPath: socketPath, process: process)
    }

    @Test func socketActivatedForwardCarriesTrafficAndLeavesTheSocketFile() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let reverse = try await scenario.startReverse(pki: pki, backend: echo.path)
            let socketPath = scenario.path("activated.sock")
            try FileManager.default.createDirectory(atPath: scenario.path("conf.d"), withIntermediateDirectories: true)
            try write(
                forwardConfig(scenario, pki: pki, bind: "systemd@agent", port: reverse.port),
                to: scenario.path("conf.d/agent.cfg"))
            let forward = try scenario.start(
                "activate", try Harness.tool("systemd-socket-activate", package: "systemd"),
                Self.passedEnvironment + [
                    "-l", socketPath, "--fdname=agent", try Harness.sidecarBinary().path, "forward", "-f",
                    scenario.path("conf.d"), "--threads", "1",
                ])
            // systemd-socket-activate starts the service at the first connection, as systemd does.
            try await forward.waitForLine(containing: ["Listening on", socketPath])
            let client = try UnixSocketClient(path: socketPath)
            try await forward.waitForLine(containing: ["info ready"])
            let line = try await forward.waitForLine(containing: ["listening", "inherited=true"])
            #expect(line.contains(socketPath))
            try client.send("through an activated socket\n")
            try await client.receive(until: "through an activated socket\n")
            client.close()
            kill(forward.pid, SIGTERM)
            #expect(try await forward.waitForExit() == 0)
            #expect(Scenario.isSocket(socketPath), "sidecar removed a socket that systemd owns")
        }
    }

    @Test func socketActivatedReverseAdoptsATCPListener() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let reverse = try scenario.start(
                "activate", try Harness.tool("systemd-socket-activate", package: "systemd"),
                Self.passedEnvironment + [
                    "-l", "127.0.0.1:\(port)", "--fdname=tls", try Harness.sidecarBinary().path, "reverse",
                    "--listen", "systemd:tls", "--connect", "unix:" + echo.path, "--cert", pki.certificate("manager"),
                    "--key", pki.key("manager"), "--ca", pki.ca, "--threads", "1",
                ])
            try await reverse.waitForLine(containing: ["Listening on"])
            let forward = try await scenario.startForward(pki: pki, port: port, serverName: "localhost")
            let client = try UnixSocketClient(path: forward.socketPath)
            try client.send("hello over an inherited TCP socket\n")
            try await client.receive(until: "hello over an inherited TCP socket\n")
            client.close()
            try await reverse.waitForLine(containing: ["listening", "inherited=true"])
        }
    }

    @Test func unknownSystemdNameIsAnErrorListingTheNamesReceived() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let run = try scenario.start(
                "activate", try Harness.tool("systemd-socket-activate", package: "systemd"),
                Self.passedEnvironment + [
                    "-l", scenario.path("a.sock"), "--fdname=agent", try Harness.sidecarBinary().path, "forward",
                    "--listen", "systemd:other", "--connect", "127.0.0.1:1", "--cert", pki.certificate("node1"),
                    "--key", pki.key("node1"), "--ca", pki.ca,
                ])
            // systemd-socket-activate waits for a first connection before it starts the service.
            try await run.waitForLine(containing: ["Listening on"])
            let client = try UnixSocketClient(path: scenario.path("a.sock"))
            defer { client.close() }
            #expect(try await run.waitForExit() == 1)
            #expect(run.stderr.contains("no socket named 'other'"))
            #expect(run.stderr.contains("'agent'"))
        }
    }

    @Test func notifySequenceAcrossReloadAndStop() async throws {
        try await withScenario { scenario in
            let notify = try NotifySocket(path: scenario.path("notify"))
            let tunnel = try await startConfiguredForward(scenario, environment: ["NOTIFY_SOCKET=" + notify.path])
            let forward = tunnel.process
            let ready = try await notify.waitFor("READY=1", "STATUS=serving")
            kill(forward.pid, SIGHUP)
            let reloading = try await notify.waitFor("RELOADING=1", "MONOTONIC_USEC=", after: ready + 1)
            let reloaded = try await notify.waitFor("READY=1", "STATUS=reloaded", after: reloading + 1)
            // A broken configuration: the old one keeps serving, and STATUS says why.
            try write("frontend agent\n    bind \(tunnel.socketPath)\n    bogus-keyword 1\n", to: tunnel.configFile)
            kill(forward.pid, SIGHUP)
            let failed = try await notify.waitFor(
                "READY=1", "STATUS=reload failed", "bogus-keyword", after: reloaded + 1)
            try await forward.waitForLine(containing: ["error reload failed", "agent.cfg:3", "bogus-keyword"])
            let client = try UnixSocketClient(path: tunnel.socketPath)
            try client.send("still served\n")
            try await client.receive(until: "still served\n")
            client.close()
            kill(forward.pid, SIGTERM)
            try await notify.waitFor("STOPPING=1", after: failed + 1)
            #expect(try await forward.waitForExit() == 0)
        }
    }

    @Test func reloadWithAMissingKeyKeepsTheOldConfiguration() async throws {
        try await withScenario { scenario in
            let tunnel = try await startConfiguredForward(scenario)
            let forward = tunnel.process
            let missing = scenario.path("gone.pem")
            try write(
                forwardConfig(scenario, pki: tunnel.pki, bind: tunnel.socketPath, port: tunnel.reversePort)
                    .replacingOccurrences(of: tunnel.pki.certificate("node1"), with: missing),
                to: tunnel.configFile)
            kill(forward.pid, SIGHUP)
            try await forward.waitForLine(containing: ["error reload failed", missing, "cannot be read"])
            let client = try UnixSocketClient(path: tunnel.socketPath)
            try client.send("old config\n")
            try await client.receive(until: "old config\n")
            client.close()
        }
    }

    @Test func reloadsDuringTrafficLoseNothing() async throws {
        try await withScenario { scenario in
            let tunnel = try await startConfiguredForward(scenario)
            let forward = tunnel.process
            // A long-lived stream opened before the reloads must keep flowing through them.
            let established = try UnixSocketClient(path: tunnel.socketPath)
            try established.send("before\n")
            try await established.receive(until: "before\n")
            var reloadsSent = 0
            for round in 0..<150 {
                if round % 30 == 10 {
                    kill(forward.pid, SIGHUP)
                    reloadsSent += 1
                }
                let client = try UnixSocketClient(path: tunnel.socketPath)
                let message = "round \(round) " + String(repeating: "x", count: 512) + "\n"
                try client.send(message)
                let echoed = try await client.receive(until: "\n")
                #expect(echoed == message, "round \(round)")
                client.close()
            }
            try established.send("after\n")
            try await established.receive(until: "after\n")
            established.close()
            try await Harness.waitUntil("\(reloadsSent) reloads logged", details: forward.transcript) {
                forward.stderr.components(separatedBy: "info reloaded").count - 1 == reloadsSent
            }
            #expect(!forward.stderr.contains("error"))
        }
    }

    @Test func sigtermLetsAnOpenConnectionFinishThenExitsZero() async throws {
        try await withScenario { scenario in
            let tunnel = try await startConfiguredForward(scenario)
            let forward = tunnel.process
            let client = try UnixSocketClient(path: tunnel.socketPath)
            try client.send("open\n")
            try await client.receive(until: "open\n")
            kill(forward.pid, SIGTERM)
            try await forward.waitForLine(containing: ["info stopping", "connections=1"])
            // Still relaying during the drain.
            try client.send("draining\n")
            try await client.receive(until: "draining\n")
            client.close()
            #expect(try await forward.waitForExit() == 0)
            #expect(!forward.stderr.contains("hard-stop-after reached"))
        }
    }

    @Test func sigtermClosesWhatIsLeftAtHardStopAfter() async throws {
        try await withScenario { scenario in
            let tunnel = try await startConfiguredForward(scenario) {
                $0.replacingOccurrences(of: "hard-stop-after 5s", with: "hard-stop-after 300ms")
            }
            let forward = tunnel.process
            let client = try UnixSocketClient(path: tunnel.socketPath)
            defer { client.close() }
            try client.send("open\n")
            try await client.receive(until: "open\n")
            kill(forward.pid, SIGTERM)
            try await forward.waitForLine(containing: ["hard-stop-after reached", "connections=1"])
            #expect(try await forward.waitForExit() == 0)
        }
    }

    @Test(arguments: ["sidecar.socket", "sidecar.service", "sidecar-reverse.socket", "sidecar-reverse.service"])
    func unitFileVerifies(_ unit: String) async throws {
        try await withScenario { scenario in
            let units = Harness.packageRoot.appendingPathComponent("systemd")
            // systemd-analyze checks ExecStart's binary exists: point a copy of the unit at the built one.
            let copy = scenario.path(unit)
            var text = try String(contentsOf: units.appendingPathComponent(unit), encoding: .utf8)
            text = text.replacingOccurrences(of: "/usr/bin/sidecar", with: try Harness.sidecarBinary().path)
            try text.write(toFile: copy, atomically: true, encoding: .utf8)
            for sibling in ["sidecar.socket", "sidecar.service", "sidecar-reverse.socket", "sidecar-reverse.service"]
            where sibling != unit {
                var siblingText = try String(contentsOf: units.appendingPathComponent(sibling), encoding: .utf8)
                siblingText = siblingText.replacingOccurrences(
                    of: "/usr/bin/sidecar", with: try Harness.sidecarBinary().path)
                try siblingText.write(toFile: scenario.path(sibling), atomically: true, encoding: .utf8)
            }
            let verify = try await scenario.run(
                "systemd-analyze", try Harness.tool("systemd-analyze", package: "systemd"),
                ["verify", "--man=no", copy])
            #expect(verify.exitStatus == 0, "\(verify.transcript)")
            #expect(!verify.stderr.contains(unit + ":"), "\(verify.stderr)")
        }
    }
}

/// Renewing certificates: files replaced on disk take effect at the next SIGHUP, for new handshakes only.
@Suite struct CertificateRotationTests {
    @Test func reloadPresentsTheRenewedServerCertificateWhileAnOldConnectionKeepsWorking() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let reverseDirectory = try scenario.writeReverseConfig(pki: pki, port: port, backend: echo.path)
            let reverse = try scenario.start(
                "reverse", try Harness.sidecarBinary(), ["reverse", "-f", reverseDirectory, "--threads", "1"])
            try await reverse.waitForLine(containing: ["info ready"])
            let forward = try await scenario.startForward(pki: pki, port: port, serverName: "localhost")
            let established = try UnixSocketClient(path: forward.socketPath)
            try established.send("before rotation\n")
            try await established.receive(until: "before rotation\n")

            let before = try await presentedSerial(scenario, pki: pki, port: port)
            // Renew: a new certificate and key for the same name, written over the old files.
            let renewed = try await scenario.runSidecar([
                "certs", "leaf", "--ca-cert", pki.ca, "--ca-key", pki.caKey, "--server", "--cn", "manager", "--dns",
                "localhost",
                "--ip", "127.0.0.1", "--out", pki.directory, "--force",
            ])
            #expect(renewed.exitStatus == 0, "\(renewed.transcript)")
            let onDisk = try await fileSerial(scenario, pki.certificate("manager"))
            #expect(onDisk != before)
            kill(reverse.pid, SIGHUP)
            try await reverse.waitForLine(containing: ["info reloaded"])
            #expect(try await presentedSerial(scenario, pki: pki, port: port) == onDisk)

            try established.send("after rotation\n")
            try await established.receive(until: "after rotation\n")
            established.close()
            let fresh = try UnixSocketClient(path: forward.socketPath)
            try fresh.send("new handshake\n")
            try await fresh.receive(until: "new handshake\n")
            fresh.close()
        }
    }

    /// The serial of the certificate a TLS server presents, as `openssl x509 -serial` prints it.
    private func presentedSerial(_ scenario: Scenario, pki: PKI, port: UInt16) async throws -> String {
        let openssl = try Harness.tool("openssl", package: "openssl").path
        let run = try await scenario.run(
            "s_client", URL(fileURLWithPath: "/bin/sh"),
            [
                "-c",
                "\(openssl) s_client -connect 127.0.0.1:\(port) -cert \(pki.certificate("node1")) -key \(pki.key("node1")) "
                    + "-CAfile \(pki.ca) </dev/null 2>/dev/null | \(openssl) x509 -noout -serial",
            ])
        let serial = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(serial.hasPrefix("serial="), "\(run.transcript)")
        return serial
    }

    private func fileSerial(_ scenario: Scenario, _ path: String) async throws -> String {
        let run = try await scenario.run(
            "x509", try Harness.tool("openssl", package: "openssl"), ["x509", "-noout", "-serial", "-in", path])
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
