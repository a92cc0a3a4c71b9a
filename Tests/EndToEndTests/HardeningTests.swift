import Foundation
import Testing

/// The units set `MemoryDenyWriteExecute=yes`. systemd enforces it with seccomp; the kernel's own form of the
/// same rule is `prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)`, which a wrapper sets before exec-ing sidecar.
/// If the Swift runtime, Foundation or OpenSSL needed writable-and-executable memory, a mapping would fail.
@Suite struct HardeningTests {
    /// Runs `arguments` under PR_SET_MDWE (65) with PR_MDWE_REFUSE_EXEC_GAIN (1), inherited across exec.
    private static let mdweWrapper = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(65, 1, 0, 0, 0) != 0:
            sys.exit("prctl(PR_SET_MDWE) failed: errno %d" % ctypes.get_errno())
        os.execv(sys.argv[1], sys.argv[1:])
        """

    /// Foundation pulls in ICU (about 11 MiB resident in every sidecar process); FoundationEssentials does not.
    @Test func theBinaryLinksNeitherFoundationNorICU() async throws {
        try await withScenario { scenario in
            let ldd = try await scenario.run(
                "ldd", URL(fileURLWithPath: "/usr/bin/ldd"), [try Harness.sidecarBinary().path])
            #expect(ldd.exitStatus == 0, "\(ldd.transcript)")
            #expect(ldd.stdout.contains("libssl.so.3"), "\(ldd.stdout)")
            #expect(!ldd.stdout.contains("libFoundation.so"), "\(ldd.stdout)")
            #expect(!ldd.stdout.contains("ICU"), "\(ldd.stdout)")
        }
    }

    @Test func tunnelWorksWithMemoryDenyWriteExecute() async throws {
        try await withScenario { scenario in
            let python = try Harness.tool("python3", package: "python3")
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let sidecar = try Harness.sidecarBinary().path
            let reverse = try scenario.start(
                "reverse-mdwe", python,
                [
                    "-c", Self.mdweWrapper, sidecar, "reverse", "--listen", "127.0.0.1:\(port)", "--connect",
                    "unix:" + echo.path, "--cert", pki.certificate("manager"), "--key", pki.key("manager"), "--ca",
                    pki.ca,
                ])
            try await reverse.waitForLine(containing: ["info ready"])
            let socketPath = scenario.path("mdwe.sock")
            let forward = try scenario.start(
                "forward-mdwe", python,
                [
                    "-c", Self.mdweWrapper, sidecar, "forward", "--listen", "unix:" + socketPath, "--connect",
                    "127.0.0.1:\(port)", "--cert", pki.certificate("node1"), "--key", pki.key("node1"), "--ca", pki.ca,
                    "--server-name", "localhost",
                ])
            try await forward.waitForLine(containing: ["info ready"])
            let client = try UnixSocketClient(path: socketPath)
            try client.send("no W+X memory needed\n")
            try await client.receive(until: "no W+X memory needed\n")
            client.close()
            try await reverse.waitForLine(containing: ["connection closed", "/CN=node1"])
        }
    }

    /// The units' `SystemCallFilter=~@privileged @resources` kills a process that calls `setpriority(2)`, and
    /// every libdispatch worker thread calls it as it starts (`com.apple.root.default-qos`, whose `comm` the
    /// kernel keeps as its last 15 characters, `oot.default-qos`). So a serving sidecar
    /// must have no such thread, also after connections, a reload and during a drain: with `--threads 1`,
    /// exactly the main thread (waiting for signals) and one event loop.
    @Test func daemonRunsOnTheMainThreadAndItsEventLoopsOnly() async throws {
        try await withScenario { scenario in
            let (reverse, forward) = try await scenario.startEchoTunnel()
            let client = try UnixSocketClient(path: forward.socketPath)
            try client.send("before the reload\n")
            try await client.receive(until: "before the reload\n")
            for process in [reverse.process, forward.process] {
                kill(process.pid, SIGHUP)
                try await process.waitForLine(containing: ["info reloaded"])
            }
            try client.send("after the reload\n")
            try await client.receive(until: "after the reload\n")
            kill(forward.process.pid, SIGTERM)
            try await forward.process.waitForLine(containing: ["info stopping", "connections=1"])
            for (name, process) in [("reverse", reverse.process), ("forward", forward.process)] {
                let threads = try Self.threadNames(of: process.pid)
                #expect(threads.count == 2, "\(name) threads: \(threads)")
                #expect(!threads.contains { $0.contains("qos") }, "\(name) threads: \(threads)")
            }
            client.close()
            #expect(try await forward.process.waitForExit() == 0)
        }
    }

    /// The names (`comm`) of the threads of process `pid`, from /proc.
    private static func threadNames(of pid: pid_t) throws -> [String] {
        let directory = "/proc/\(pid)/task"
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map {
            try String(contentsOfFile: "\(directory)/\($0)/comm", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
