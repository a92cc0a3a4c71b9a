import Foundation

/// An end-to-end harness failure, with what was being waited for and the processes' output.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What every scenario shares: where the built binary and the tools are, waiting with a deadline, free ports.
enum Harness {
    /// The deadline for one condition (a log line, a socket, an exit). Generous for a loaded 2-core machine;
    /// a passing test never waits this long.
    static let timeout: Duration = .seconds(15)

    /// The package root, from this file's path: `<root>/Tests/EndToEndTests/Harness.swift`.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `sidecar` binary under test: `$SIDECAR_BINARY` if set; else the one built beside this test bundle
    /// (so `swift test -c release` tests the release build); else `.build/debug/sidecar` in the package.
    static func sidecarBinary() throws -> URL {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["SIDECAR_BINARY"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("sidecar"))
        candidates.append(packageRoot.appendingPathComponent(".build/debug/sidecar"))
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        throw HarnessError(
            "no built sidecar binary at \(candidates.map(\.path)); run 'swift build' (scripts/test.sh does)"
        )
    }

    /// The path of a tool on `PATH` (plus the sbin directories, where haproxy lives), or a failure that says
    /// which Debian package to install. A missing tool fails the test: it is never skipped silently.
    static func tool(_ name: String, package: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/sbin"]
        for directory in directories {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw HarnessError(
            "'\(name)' is not installed: run 'apt-get install \(package)' (scripts/test.sh installs it)"
        )
    }

    /// Polls `condition` until it holds or `timeout` passes. This is the only way tests wait: on a condition,
    /// never on a fixed sleep. `condition` may throw to give up early (a process died).
    static func waitUntil(
        _ what: String,
        timeout: Duration = timeout,
        details: @autoclosure () -> String = "",
        _ condition: () throws -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            if try condition() { return }
            if clock.now >= deadline {
                throw HarnessError("timed out after \(timeout) waiting until \(what)\n\(details())")
            }
            try await Task.sleep(for: .milliseconds(15))
        }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago. Callers that bind it retry on "in use", since
    /// another test may take it in between.
    static func freePort() throws -> UInt16 {
        let socket = try TCPListener(port: 0)
        defer { socket.close() }
        return socket.port
    }

    /// Writing to a child's stdin after it exited must be an error, not a signal that kills the test runner.
    static func ignoreSIGPIPE() {
        _ = sigpipeIgnored
    }

    private static let sigpipeIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()
}

/// A listening TCP socket on 127.0.0.1, used to find a free port and to hold one so that it is in use.
final class TCPListener {
    private var descriptor: Int32
    let port: UInt16

    /// Binds and listens on `127.0.0.1:port` (0: any free port).
    init(port: UInt16) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket(): \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw HarnessError("cannot listen on 127.0.0.1:\(port): \(reason)")
        }
        self.descriptor = descriptor
        self.port = UInt16(bigEndian: address.sin_port)
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}
