import Foundation

/// A plain client of a Unix stream socket, as a local D-Bus client is to `sidecar forward`.
/// Non-blocking: reads poll with a deadline and yield between tries. Not `Sendable`.
final class UnixSocketClient {
    private var descriptor: Int32
    private(set) var received: [UInt8] = []

    /// Connects to the socket at `path`.
    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket(): \(String(cString: strerror(errno)))") }
        let connected = try withUnixAddress(path) { address, length in connect(descriptor, address, length) == 0 }
        guard connected else {
            let reason = String(cString: strerror(errno))
            close()
            throw HarnessError("cannot connect to \(path): \(reason)")
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    /// Sends all of `text`.
    func send(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard written > 0 else { throw HarnessError("send: \(String(cString: strerror(errno)))") }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Closes our sending direction: the peer reads EOF, and we can still receive.
    func shutdownWrite() { _ = shutdown(descriptor, Int32(SHUT_WR)) }

    /// Reads until what was received, as text, contains `expected`; returns all of it.
    @discardableResult
    func receive(until expected: String, timeout: Duration = Harness.timeout) async throws -> String {
        var text = ""
        try await Harness.waitUntil(
            "the client receives '\(expected)'",
            timeout: timeout,
            details: "received so far: \(String(decoding: self.received, as: UTF8.self).debugDescription)"
        ) {
            _ = try readAvailable()
            text = String(decoding: received, as: UTF8.self)
            return text.contains(expected)
        }
        return text
    }

    /// Reads until the peer closes; returns everything received.
    @discardableResult
    func receiveUntilClosed(timeout: Duration = Harness.timeout) async throws -> [UInt8] {
        try await Harness.waitUntil("the peer closes the connection", timeout: timeout) { try readAvailable() }
        return received
    }

    /// Appends what can be read now to `received`; true when the peer closed (EOF or reset).
    private func readAvailable() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                received += buffer[0..<count]
            } else if count == 0 {
                return true
            } else if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                return false
            } else if errno == ECONNRESET {
                return true
            } else {
                throw HarnessError("read: \(String(cString: strerror(errno)))")
            }
        }
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}

/// Calls `body` with a `sockaddr_un` for `path`.
func withUnixAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) throws -> T {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity else { throw HarnessError("socket path too long (\(bytes.count) bytes): \(path)") }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return try withUnsafePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            try body(address, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
}
