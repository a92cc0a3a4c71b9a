import Foundation

/// `socat` between the reverse sidecar and a backend, recording every byte the sidecar sends to the backend:
/// proof at the byte level (not only at the backend's own D-Bus library) that a refused call never left the
/// sidecar. One socat child per connection; each logs its exit, so a test can wait until every connection the
/// sidecar opened has been read to its end.
struct BackendTap {
    let process: ChildProcess
    /// Where the sidecar connects instead of the backend.
    let socketPath: String
    let recordPath: String

    /// Everything the sidecar sent toward the backend, all connections, as text (binary bytes replaced).
    var bytesToBackend: String {
        String(decoding: FileManager.default.contents(atPath: recordPath) ?? Data(), as: UTF8.self)
    }

    /// Waits until `count` connections through the tap have ended (read to EOF and closed).
    func waitForEndedConnections(_ count: Int) async throws {
        try await Harness.waitUntil("\(count) connection(s) through the tap ended", details: process.transcript) {
            // A child that ends cleanly says "N exiting with status"; one whose write back to the sidecar failed
            // (the sidecar cut the connection while the backend still answered) says "N exit(1)".
            process.stderr.split(separator: "\n").filter {
                $0.contains(" N exiting with status") || $0.contains(" N exit(")
            }
            .count >= count
        }
    }
}

extension Scenario {
    /// Starts a tap on `tap.sock` in front of the Unix socket `backend`.
    func startBackendTap(inFrontOf backend: String) async throws -> BackendTap {
        let socat = try Harness.tool("socat", package: "socat")
        let socketPath = path("tap.sock")
        let recordPath = path("tap.to-backend")
        let process = try start(
            "tap",
            socat,
            ["-d", "-d", "-r", recordPath, "UNIX-LISTEN:\(socketPath),fork", "UNIX-CONNECT:\(backend)"]
        )
        try await Harness.waitUntil("the tap listens on \(socketPath)", details: process.transcript) {
            guard process.isRunning else { throw HarnessError("socat exited\n\(process.transcript)") }
            return Scenario.isSocket(socketPath)
        }
        return BackendTap(process: process, socketPath: socketPath, recordPath: recordPath)
    }
}
