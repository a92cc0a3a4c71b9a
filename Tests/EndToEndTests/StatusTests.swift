import Foundation
import Testing

/// `stats socket` in a running `sidecar forward` and `sidecar status` against it: its table, its JSON, and its
/// exit status for a healthy setup, for a backend with no server up, and for a socket that is not there.
@Suite struct StatusTests {
    @Test func statusReportsHealthAndExitsNonZeroWhenABackendIsDown() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let reverse = try await scenario.startReverse(pki: pki, backend: echo.path)
            let admin = scenario.path("admin.sock")
            let agent = scenario.path("agent.sock")
            try FileManager.default.createDirectory(atPath: scenario.path("conf.d"), withIntermediateDirectories: true)
            try """
            global
                stats socket \(admin) mode 600 level admin
            defaults
                timeout connect 5s
            frontend agent
                bind \(agent)
                default_backend manager
            backend manager
                server manager 127.0.0.1:\(reverse.port) ssl crt \(pki.certificate("node1")) ca-file \(pki.ca) verifyhost localhost

            """.write(toFile: scenario.path("conf.d/agent.cfg"), atomically: true, encoding: .utf8)
            let forward = try scenario.start(
                "forward", try Harness.sidecarBinary(), ["forward", "-f", scenario.path("conf.d"), "--threads", "1"])
            try await forward.waitForLine(containing: ["info ready"])
            try await Harness.waitUntil("\(admin) exists", details: forward.transcript) { Scenario.isSocket(admin) }

            let client = try UnixSocketClient(path: agent)
            try client.send("hello through the tunnel\n")
            try await client.receive(until: "hello through the tunnel")

            let healthy = try await scenario.runSidecar(["status", "--socket", admin])
            #expect(healthy.exitStatus == 0, "\(healthy.transcript)")
            #expect(healthy.stdout.contains("agent"))
            #expect(healthy.stdout.contains("  manager"))
            #expect(healthy.stdout.contains(pki.certificate("node1")))
            #expect(healthy.stdout.hasSuffix("\nOK\n"))

            let json = try await scenario.runSidecar(["status", "--socket", admin, "--json"])
            #expect(json.exitStatus == 0)
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(object?["ok"] as? Bool == true)

            // The clients operators use with HAProxy: socat, and OpenBSD netcat (-N: half-close at the end of
            // input; this command has no final newline).
            func stats(_ tool: String, _ arguments: [String], _ input: String) async throws -> String {
                let child = try scenario.start(
                    tool, URL(fileURLWithPath: "/usr/bin/\(tool)"), arguments, withStdin: true)
                try child.write(input)
                child.closeStdin()
                let status = try await child.waitForExit()
                #expect(status == 0, "\(child.transcript)")
                return child.stdout
            }
            let info = try await stats("socat", ["-", "UNIX-CONNECT:\(admin)"], "show info\n")
            #expect(info.hasPrefix("Name: sidecar\n") && info.contains("\nCurrConns: 1\n"), "\(info)")
            let stat = try await stats("nc.openbsd", ["-N", "-U", admin], "show stat")
            #expect(stat.hasPrefix("# pxname,svname,") && stat.contains("\nagent,FRONTEND,"), "\(stat)")
            #expect(
                try await stats("socat", ["-", "UNIX-CONNECT:\(admin)"], "disable server manager/manager\n") == "\n")
            let down = try await scenario.runSidecar(["status", "--socket", admin])
            #expect(down.exitStatus == 2, "\(down.transcript)")
            #expect(down.stdout.contains("PROBLEM: backend manager has no server up"))

            let missing = try await scenario.runSidecar(["status", "--socket", scenario.path("nothing.sock")])
            #expect(missing.exitStatus == 1)
            #expect(missing.stderr.contains("cannot connect to stats socket"))

            // SIGHUP with the socket's level lowered: the socket is re-created at level user, and the server
            // disabled through the API stays in maintenance in the reloaded configuration.
            let configuration = try String(contentsOfFile: scenario.path("conf.d/agent.cfg"), encoding: .utf8)
            try configuration.replacingOccurrences(of: "level admin", with: "level user")
                .write(toFile: scenario.path("conf.d/agent.cfg"), atomically: true, encoding: .utf8)
            kill(forward.pid, SIGHUP)
            try await forward.waitForLine(containing: ["info reloaded"])
            let user = try UnixSocketClient(path: admin)
            try user.send("enable server manager/manager\n")
            let refused = String(decoding: try await user.receiveUntilClosed(), as: UTF8.self)
            user.close()
            #expect(refused == "Permission denied\n\n")
            let afterReload = try await scenario.runSidecar(["status", "--socket", admin])
            #expect(afterReload.exitStatus == 2, "\(afterReload.transcript)")
            #expect(afterReload.stdout.contains("MAINT"))

            client.close()
            forward.stop()
            #expect(!FileManager.default.fileExists(atPath: admin))
        }
    }
}
