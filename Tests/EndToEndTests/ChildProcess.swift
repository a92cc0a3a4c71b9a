import Foundation

/// A process a scenario started: the built `sidecar`, `openssl`, `dbus-daemon` or a D-Bus client.
///
/// Standard output and standard error go to files in the scenario's directory, so a test can wait for a line
/// without a reader thread and nothing blocks on a full pipe. `stop()` ends the process by its PID.
/// Not `Sendable`: a child belongs to the test that started it.
final class ChildProcess {
    /// A short label for messages, e.g. `reverse` or `s_client`.
    let name: String
    let commandLine: String
    private let process = Process()
    private let stdoutFile: URL
    private let stderrFile: URL
    private let stdinPipe: Pipe?

    /// Starts `executable` with `arguments`.
    /// - Parameter withStdin: give the child a pipe as standard input (see `write(_:)`); otherwise /dev/null.
    init(name: String, executable: URL, arguments: [String], directory: URL, withStdin: Bool = false) throws {
        self.name = name
        self.commandLine = ([executable.path] + arguments).joined(separator: " ")
        let stem = directory.appendingPathComponent(name + "-" + UUID().uuidString.prefix(8))
        stdoutFile = stem.appendingPathExtension("stdout")
        stderrFile = stem.appendingPathExtension("stderr")
        FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        let stdoutHandle = try FileHandle(forWritingTo: stdoutFile)
        let stderrHandle = try FileHandle(forWritingTo: stderrFile)
        defer {
            try? stdoutHandle.close()
            try? stderrHandle.close()
        }
        stdinPipe = withStdin ? Pipe() : nil
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        process.standardInput = stdinPipe ?? FileHandle.nullDevice
        Harness.ignoreSIGPIPE()
        try process.run()
        try? stdinPipe?.fileHandleForReading.close()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { Self.read(stdoutFile) }
    var stderr: String { Self.read(stderrFile) }

    /// Both streams, labelled, for failure messages.
    var transcript: String {
        "\(name) (pid \(pid)): \(commandLine)\n--- stdout\n\(stdout)--- stderr\n\(stderr)---"
    }

    /// The exit status, or nil while running. A child killed by a signal reports 128 + the signal number.
    var exitStatus: Int32? {
        guard !process.isRunning else { return nil }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    /// True when the child ended by `exit`, not by a signal (a crash or our kill).
    var exitedNormally: Bool { !process.isRunning && process.terminationReason == .exit }

    /// Writes to the child's standard input.
    func write(_ text: String) throws {
        guard let pipe = stdinPipe else { throw HarnessError("\(name) was started without a stdin pipe") }
        try pipe.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    /// Closes the child's standard input (EOF).
    func closeStdin() {
        try? stdinPipe?.fileHandleForWriting.close()
    }

    /// Waits until one line of standard error (or `stdout` when asked) contains every fragment, and returns it.
    /// Fails early, with the transcript, if the child exits first.
    @discardableResult
    func waitForLine(
        containing fragments: [String], onStdout: Bool = false, timeout: Duration = Harness.timeout
    ) async throws -> String {
        var found: String?
        try await Harness.waitUntil("\(name) prints a line with \(fragments)", timeout: timeout, details: self.transcript) {
            let text = onStdout ? stdout : stderr
            found = text.split(separator: "\n").first { line in fragments.allSatisfy { line.contains($0) } }
                .map(String.init)
            if found == nil && !isRunning {
                // One last read: the line may have been written just before the exit.
                let last = onStdout ? stdout : stderr
                found = last.split(separator: "\n").first { line in fragments.allSatisfy { line.contains($0) } }
                    .map(String.init)
                if found == nil {
                    throw HarnessError("\(name) exited (\(exitStatus ?? -1)) before printing \(fragments)\n\(transcript)")
                }
            }
            return found != nil
        }
        return found!
    }

    /// Waits until the output (stdout, or stderr when asked) contains `text` anywhere.
    func waitForOutput(_ text: String, onStderr: Bool = false, timeout: Duration = Harness.timeout) async throws {
        try await Harness.waitUntil("\(name) prints '\(text)'", timeout: timeout, details: self.transcript) {
            (onStderr ? stderr : stdout).contains(text)
        }
    }

    /// Waits for the child to exit and returns its status.
    @discardableResult
    func waitForExit(timeout: Duration = Harness.timeout) async throws -> Int32 {
        try await Harness.waitUntil("\(name) exits", timeout: timeout, details: self.transcript) { !isRunning }
        return exitStatus!
    }

    /// Ends the child by PID: SIGTERM, a bounded wait, then SIGKILL. Safe to call twice.
    /// Synchronous so that it can run from a `defer`, even when the test failed.
    func stop() {
        closeStdin()
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        if Self.waitForExit(of: process, seconds: 3) { return }
        kill(pid, SIGKILL)
        _ = Self.waitForExit(of: process, seconds: 3)
    }

    private static func waitForExit(of process: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return !process.isRunning
    }

    private static func read(_ file: URL) -> String {
        guard let data = FileManager.default.contents(atPath: file.path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}
