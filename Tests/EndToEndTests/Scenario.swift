import Foundation

/// Runs `body` in a fresh scenario and always cleans up: every process it started is killed by PID and its
/// temporary directory removed, whether the test passed, failed an expectation or threw.
func withScenario<Result>(
    _ name: String = #function,
    _ body: (Scenario) async throws -> Result
) async throws -> Result {
    let scenario = try Scenario(name: name)
    defer { scenario.tearDown() }
    return try await body(scenario)
}

/// One test's world: a private temporary directory (short, for Unix socket paths), the processes and
/// echo servers it started, and helpers that start the pieces of a tunnel. Not `Sendable`: it belongs to
/// the test that made it; tests run in parallel, each with its own scenario, directory and ports.
final class Scenario {
    let directory: URL
    private var children: [ChildProcess] = []
    private var echoServers: [UnixEchoServer] = []

    /// Where scenarios live; `sidecar-e2e-*` directories under it belong to this harness.
    static let parent = "/tmp"

    init(name: String) throws {
        Self.reapAbandoned()
        // sun_path holds 108 bytes: keep the directory short and under /tmp, not in a long $TMPDIR.
        var template = Array("\(Self.parent)/sidecar-e2e-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HarnessError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        directory = URL(fileURLWithPath: String(cString: made))
        // For a post-mortem of a kept directory (SIDECAR_E2E_KEEP=1): which test it belonged to.
        try? (name + "\n").write(to: directory.appendingPathComponent("test-name"), atomically: false, encoding: .utf8)
        try "\(getpid())\n".write(to: directory.appendingPathComponent("owner"), atomically: true, encoding: .utf8)
    }

    /// A path inside the scenario's directory.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Starts a process that the scenario will stop at the end.
    func start(
        _ name: String,
        _ executable: URL,
        _ arguments: [String],
        withStdin: Bool = false
    ) throws -> ChildProcess {
        let child = try ChildProcess(
            name: name,
            executable: executable,
            arguments: arguments,
            directory: directory,
            withStdin: withStdin
        )
        children.append(child)
        Self.record(child, in: directory)
        return child
    }

    /// Runs a command to completion (bounded by `timeout`) and returns it, exited, for its status and output.
    func run(
        _ name: String,
        _ executable: URL,
        _ arguments: [String],
        timeout: Duration = Harness.timeout
    ) async throws -> ChildProcess {
        let child = try start(name, executable, arguments)
        try await child.waitForExit(timeout: timeout)
        return child
    }

    /// Runs the built `sidecar` with `arguments` to completion.
    func runSidecar(_ arguments: [String]) async throws -> ChildProcess {
        try await run("sidecar-" + (arguments.first ?? "run"), try Harness.sidecarBinary(), arguments)
    }

    /// Starts a byte echo server on a Unix socket in the scenario's directory.
    func startEchoServer(_ name: String = "backend.sock") throws -> UnixEchoServer {
        let server = try UnixEchoServer(path: path(name))
        echoServers.append(server)
        return server
    }

    /// Everything the processes printed, for failure messages.
    var transcripts: String { children.map(\.transcript).joined(separator: "\n") }

    /// Stops every child (last started first, so a client goes before the proxy it uses) and every echo
    /// server, then removes the directory. Set `SIDECAR_E2E_KEEP=1` to keep the directory for a post-mortem.
    func tearDown() {
        for child in children.reversed() { child.stop() }
        for server in echoServers { server.stop() }
        if ProcessInfo.processInfo.environment["SIDECAR_E2E_KEEP"] == "1" {
            _ = FileManager.default.createFile(atPath: path("kept"), contents: nil)
            print("kept \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

// MARK: - Cleaning up after a crashed test runner

extension Scenario {
    /// Appends the child's PID and start time to the scenario's `children` file, so that a later run can
    /// stop it if this test runner dies without its `defer`s running (a crash in any test target).
    fileprivate static func record(_ child: ChildProcess, in directory: URL) {
        guard let started = startTime(of: child.pid) else { return }
        let file = directory.appendingPathComponent("children").path
        guard let handle = FileHandle(forUpdatingAtPath: file) ?? Self.create(file) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data("\(child.pid) \(started)\n".utf8))
    }

    private static func create(_ file: String) -> FileHandle? {
        FileManager.default.createFile(atPath: file, contents: nil)
        return FileHandle(forUpdatingAtPath: file)
    }

    /// Once per test run: for every scenario directory whose test runner (`owner`) is gone, kills the
    /// processes it recorded, by PID and only if the PID still names the same process (same start time),
    /// and removes the directory unless it was kept on purpose.
    static func reapAbandoned() { _ = reapedOnce }

    private static let reapedOnce: Bool = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        for name in names where name.hasPrefix("sidecar-e2e-") {
            let directory = parent + "/" + name
            guard let ownerText = try? String(contentsOfFile: directory + "/owner", encoding: .utf8),
                let owner = pid_t(ownerText.trimmingCharacters(in: .whitespacesAndNewlines)),
                kill(owner, 0) != 0 && errno == ESRCH
            else { continue }  // not ours, or its runner is still alive
            let records = (try? String(contentsOfFile: directory + "/children", encoding: .utf8)) ?? ""
            for record in records.split(separator: "\n") {
                let fields = record.split(separator: " ")
                guard fields.count == 2, let pid = pid_t(fields[0]), startTime(of: pid) == String(fields[1])
                else { continue }
                kill(pid, SIGKILL)
            }
            if !FileManager.default.fileExists(atPath: directory + "/kept") {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        return true
    }()

    /// Field 22 of /proc/PID/stat (start time in clock ticks since boot): with the PID, it names one process.
    private static func startTime(of pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = stat.range(of: ") ", options: .backwards)
        else { return nil }
        let fields = stat[afterName.upperBound...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil  // fields here start at field 3
    }
}

// MARK: - Certificates

/// Certificates made for one scenario by `sidecar certs`: a CA and leaves signed by it, in one directory.
struct PKI {
    let directory: String
    var ca: String { directory + "/ca.pem" }
    var caKey: String { directory + "/ca.key" }
    func certificate(_ name: String) -> String { directory + "/\(name).pem" }
    func key(_ name: String) -> String { directory + "/\(name).key" }
}

extension Scenario {
    /// Makes a CA and leaves with the built binary, as an operator would: `sidecar certs ca` and
    /// `sidecar certs leaf`. The default leaves are the tunnel's two ends: `manager` (the reverse side's server
    /// certificate, `--server`, named localhost and 127.0.0.1) and `node1` (the agent's client certificate).
    func makePKI(
        _ name: String = "pki",
        leaves: [(cn: String, extra: [String])] = [
            ("manager", ["--server", "--dns", "localhost", "--ip", "127.0.0.1"]), ("node1", []),
        ]
    ) async throws -> PKI {
        let pki = PKI(directory: path(name))
        let ca = try await runSidecar(["certs", "ca", "--out", pki.directory])
        guard ca.exitStatus == 0 else { throw HarnessError("sidecar certs ca failed\n\(ca.transcript)") }
        for leaf in leaves {
            try await makeLeaf(in: pki, cn: leaf.cn, extra: leaf.extra)
        }
        return pki
    }

    /// Adds one more leaf to `pki` with `sidecar certs leaf` (`extra`: `--dns`, `--ip`, `--uri` ...), for tests
    /// that need agents beyond `makePKI`'s defaults.
    func makeLeaf(in pki: PKI, cn: String, extra: [String] = []) async throws {
        let arguments =
            ["certs", "leaf", "--ca-cert", pki.ca, "--ca-key", pki.caKey, "--cn", cn, "--out", pki.directory] + extra
        let made = try await runSidecar(arguments)
        guard made.exitStatus == 0 else { throw HarnessError("sidecar certs leaf failed\n\(made.transcript)") }
    }
}

// MARK: - The tunnel's pieces

/// A running `sidecar reverse` and the loopback port it listens on.
struct ReverseSidecar {
    let process: ChildProcess
    let port: UInt16
}

/// A running `sidecar forward` and the Unix socket it listens on.
struct ForwardSidecar {
    let process: ChildProcess
    let socketPath: String
}

extension Scenario {
    /// Starts `sidecar reverse` on a free loopback port in front of the Unix socket `backend`, and waits for
    /// its `ready` line. Retries on another port if the one it picked was taken meanwhile.
    func startReverse(
        pki: PKI,
        backend: String,
        certificate: String = "manager",
        extraArguments: [String] = []
    ) async throws -> ReverseSidecar {
        for attempt in 1...3 {
            let port = try Harness.freePort()
            let process = try start(
                "reverse",
                try Harness.sidecarBinary(),
                [
                    "reverse", "--listen", "127.0.0.1:\(port)", "--connect", "unix:" + backend,
                    "--cert", pki.certificate(certificate), "--key", pki.key(certificate), "--ca", pki.ca,
                    "--threads", "1",
                ] + extraArguments
            )
            do {
                try await process.waitForLine(containing: ["info ready"])
                return ReverseSidecar(process: process, port: port)
            } catch  where attempt < 3 && process.stderr.contains("in use") {
                continue
            }
        }
        throw HarnessError("unreachable")
    }

    /// Starts `sidecar forward` on a Unix socket in the scenario's directory, connecting to
    /// `127.0.0.1:port`, and waits for its `ready` line and its socket.
    func startForward(
        pki: PKI,
        port: UInt16,
        certificate: String = "node1",
        serverName: String? = nil,
        extraArguments: [String] = []
    ) async throws -> ForwardSidecar {
        let socketPath = path("forward-\(port).sock")
        var arguments = [
            "forward", "--listen", "unix:" + socketPath, "--connect", "127.0.0.1:\(port)",
            "--cert", pki.certificate(certificate), "--key", pki.key(certificate), "--ca", pki.ca, "--threads", "1",
        ]
        if let serverName { arguments += ["--server-name", serverName] }
        arguments += extraArguments
        let process = try start("forward", try Harness.sidecarBinary(), arguments)
        try await process.waitForLine(containing: ["info ready"])
        try await Harness.waitUntil("\(socketPath) exists", details: process.transcript) {
            Self.isSocket(socketPath)
        }
        return ForwardSidecar(process: process, socketPath: socketPath)
    }

    /// The tunnel most tests need: a fresh PKI, an echo server behind `sidecar reverse`, and `sidecar forward`
    /// in front of it, checking the reverse side's name (`localhost`).
    func startEchoTunnel() async throws -> (reverse: ReverseSidecar, forward: ForwardSidecar) {
        let pki = try await makePKI()
        let echo = try startEchoServer()
        let reverse = try await startReverse(pki: pki, backend: echo.path)
        let forward = try await startForward(pki: pki, port: reverse.port, serverName: "localhost")
        return (reverse, forward)
    }

    /// True when `path` exists and is a Unix socket.
    static func isSocket(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFSOCK
    }
}

extension Scenario {
    /// Writes `reverse.d/manager.cfg`: a TLS listener on 127.0.0.1:`port` with the `manager` certificate,
    /// requiring client certificates from the PKI's CA, in front of the Unix socket `backend`. Returns the
    /// directory to pass to `-f`. The `bind` line is line 2.
    func writeReverseConfig(pki: PKI, port: UInt16, backend: String) throws -> String {
        let directory = path("reverse.d")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        frontend manager
            bind 127.0.0.1:\(port) ssl crt \(pki.certificate("manager")) verify required ca-file \(pki.ca)
            default_backend local
        backend local
            server bus \(backend)

        """.write(toFile: directory + "/manager.cfg", atomically: true, encoding: .utf8)
        return directory
    }
}
