import Foundation
import Synchronization

/// The backend of a reverse sidecar in tests: a Unix stream socket that echoes every byte back, answers EOF
/// with EOF (half-close), and counts the connections it accepted, so a test can show that a refused client
/// never reached it.
///
/// One thread accepts and one thread per connection echoes, with blocking calls; what the threads share
/// (`State`) is behind a `Mutex`.
final class UnixEchoServer: Sendable {
    let path: String
    private let listener: Int32
    private let state = Mutex(State())

    private struct State {
        var accepted = 0
        var open: Set<Int32> = []
        var stopped = false
        var listenerClosed = false
    }

    /// Listens on `path` and starts accepting.
    init(path: String) throws {
        self.path = path
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket(): \(String(cString: strerror(errno)))") }
        let listening = try withUnixAddress(path) { address, length in
            bind(descriptor, address, length) == 0 && listen(descriptor, 64) == 0
        }
        guard listening else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw HarnessError("echo server cannot listen on \(path): \(reason)")
        }
        listener = descriptor
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// How many connections the server has accepted so far.
    var acceptedConnections: Int { state.withLock { $0.accepted } }

    /// Stops accepting and ends every open connection. Descriptors are shut down and closed only under the
    /// lock, so a number that another test's socket reuses is never touched.
    func stop() {
        state.withLock { state in
            state.stopped = true
            if !state.listenerClosed { shutdown(listener, Int32(SHUT_RDWR)) }  // wakes the blocked accept()
            for connection in state.open { shutdown(connection, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop() {
        defer {
            state.withLock { state in
                state.listenerClosed = true
                close(listener)
            }
        }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            let accepted = state.withLock { state in
                guard !state.stopped else { return false }
                state.accepted += 1
                state.open.insert(connection)
                return true
            }
            guard accepted else {
                close(connection)
                return
            }
            Thread.detachNewThread { [self] in echo(connection) }
        }
    }

    private func echo(_ connection: Int32) {
        defer {
            state.withLock { state in
                state.open.remove(connection)
                close(connection)
            }
        }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var offset = 0
            while offset < count {
                let written = buffer[offset..<count].withUnsafeBytes {
                    send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
        shutdown(connection, Int32(SHUT_WR))  // EOF answers EOF
    }
}
