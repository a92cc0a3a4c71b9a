import Foundation

/// A process a scenario started: the built `sidecar`, `openssl`, `dbus-daemon` or a D-Bus client.
///
/// Started with `posix_spawn` rather than Foundation's `Process`, because a child must begin with default
/// signal dispositions and an empty signal mask: the test runner's threads block SIGTERM and others, a mask
/// a child would inherit (dbus-daemon then ignores SIGTERM, and a sidecar's signal handling would go
/// untested). Only descriptors 0–2 are passed on.
///
/// Standard output and standard error go to files in the scenario's directory, so a test can wait for a line
/// without a reader thread and nothing blocks on a full pipe. `stop()` ends the process by its PID.
/// Not `Sendable`: a child belongs to the test that started it.
final class ChildProcess {
    /// A short label for messages, e.g. `reverse` or `s_client`.
    let name: String
    let commandLine: String
    let pid: pid_t
    private let stdoutFile: String
    private let stderrFile: String
    private var stdinDescriptor: Int32
    private var waitStatus: Int32?

    /// Starts `executable` with `arguments`, in the test runner's environment.
    /// - Parameter withStdin: give the child a pipe as standard input (see `write(_:)`); otherwise /dev/null.
    init(name: String, executable: URL, arguments: [String], directory: URL, withStdin: Bool = false) throws {
        self.name = name
        commandLine = ([executable.path] + arguments).joined(separator: " ")
        let stem = directory.appendingPathComponent(name + "-" + UUID().uuidString.prefix(8)).path
        stdoutFile = stem + ".stdout"
        stderrFile = stem + ".stderr"

        var pipeEnds: [Int32] = [-1, -1]
        if withStdin {
            guard pipe(&pipeEnds) == 0 else { throw HarnessError("pipe: \(Self.lastError)") }
            for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        }
        defer { if pipeEnds[0] >= 0 { close(pipeEnds[0]) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if withStdin {
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if let addCloseFrom = Self.addCloseFrom { _ = addCloseFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // The C strings are ours until posix_spawn returns; they are freed right after.
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable.path, &actions, &attributes, argv, environ)
        guard result == 0 else {
            if withStdin { close(pipeEnds[1]) }
            throw HarnessError("cannot start \(commandLine): \(String(cString: strerror(result)))")
        }
        pid = child
        stdinDescriptor = pipeEnds[1]
        Harness.ignoreSIGPIPE()
    }

    deinit { stop() }

    var isRunning: Bool {
        reap()
        return waitStatus == nil
    }

    var stdout: String { Self.read(stdoutFile) }
    var stderr: String { Self.read(stderrFile) }

    /// Both streams, labelled, for failure messages.
    var transcript: String {
        "\(name) (pid \(pid), \(describeStatus)): \(commandLine)\n--- stdout\n\(stdout)--- stderr\n\(stderr)---"
    }

    /// The exit status, or nil while running. A child killed by a signal reports 128 + the signal number.
    var exitStatus: Int32? {
        reap()
        guard let status = waitStatus else { return nil }
        return Self.exited(status) ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// True when the child ended by `exit`, not by a signal (a crash or our kill).
    var exitedNormally: Bool {
        reap()
        return waitStatus.map(Self.exited) ?? false
    }

    /// Writes to the child's standard input.
    func write(_ text: String) throws {
        guard stdinDescriptor >= 0 else { throw HarnessError("\(name) has no open stdin pipe") }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(stdinDescriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw HarnessError("writing to \(name)'s stdin: \(Self.lastError)") }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Closes the child's standard input (EOF).
    func closeStdin() {
        if stdinDescriptor >= 0 { close(stdinDescriptor) }
        stdinDescriptor = -1
    }

    /// Waits until one line of standard error (or standard output when asked) contains every fragment, and
    /// returns it. Fails early, with the transcript, if the child exits first.
    @discardableResult
    func waitForLine(
        containing fragments: [String],
        onStdout: Bool = false,
        timeout: Duration = Harness.timeout
    ) async throws -> String {
        func find() -> String? {
            (onStdout ? stdout : stderr).split(separator: "\n")
                .first { line in fragments.allSatisfy { line.contains($0) } }.map(String.init)
        }
        var found: String?
        try await Harness.waitUntil("\(name) prints a line with \(fragments)", timeout: timeout, details: transcript) {
            let running = isRunning  // read before the output, so a line written just before exiting is seen
            found = find()
            if found == nil && !running {
                throw HarnessError("\(name) exited before printing a line with \(fragments)\n\(transcript)")
            }
            return found != nil
        }
        return found!
    }

    /// Waits until standard output (or standard error when asked) contains `text` anywhere.
    func waitForOutput(_ text: String, onStderr: Bool = false, timeout: Duration = Harness.timeout) async throws {
        try await Harness.waitUntil("\(name) prints '\(text)'", timeout: timeout, details: transcript) {
            let running = isRunning
            if (onStderr ? stderr : stdout).contains(text) { return true }
            if !running { throw HarnessError("\(name) exited before printing '\(text)'\n\(transcript)") }
            return false
        }
    }

    /// Waits for the child to exit and returns its status.
    @discardableResult
    func waitForExit(timeout: Duration = Harness.timeout) async throws -> Int32 {
        try await Harness.waitUntil("\(name) exits", timeout: timeout, details: transcript) { !isRunning }
        return exitStatus!
    }

    /// Ends the child by its PID: SIGTERM, a bounded wait, then SIGKILL; always reaps it. Safe to call twice.
    /// Synchronous so that it can run from a `defer`, also when the test failed.
    func stop() {
        closeStdin()
        guard isRunning else { return }
        kill(pid, SIGTERM)
        if waitForExit(seconds: 3) { return }
        kill(pid, SIGKILL)
        _ = waitForExit(seconds: 3)
    }

    private func waitForExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning && Date() < deadline { usleep(5_000) }
        return !isRunning
    }

    /// Collects the child's status once it has ended (never blocks).
    private func reap() {
        guard waitStatus == nil else { return }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, WNOHANG) } while result < 0 && errno == EINTR
        if result == pid {
            waitStatus = status
        } else if result < 0 {
            waitStatus = -1  // ECHILD: not ours to wait for any more; treat it as gone
        }
    }

    private var describeStatus: String {
        guard let status = exitStatus else { return "running" }
        return exitedNormally ? "exit status \(status)" : "killed by signal \(status - 128)"
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not
    /// import: closes every descriptor from 3 up in the child, so no test's socket leaks into another's child.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static var addCloseFrom: AddCloseFrom? {
        dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddCloseFrom.self) }
    }

    private static func exited(_ status: Int32) -> Bool { status & 0x7f == 0 }

    private static var lastError: String { String(cString: strerror(errno)) }

    private static func read(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}
