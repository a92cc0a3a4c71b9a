import Foundation

/// A datagram socket standing in for systemd's `NOTIFY_SOCKET`: collects what `sd_notify` sends.
/// Not `Sendable`: owned by one test.
final class NotifySocket {
    let path: String
    private let descriptor: Int32
    private(set) var messages: [String] = []

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket(): \(String(cString: strerror(errno)))") }
        let bound = try withUnixAddress(path) { address, length in bind(descriptor, address, length) == 0 }
        guard bound else { throw HarnessError("bind \(path): \(String(cString: strerror(errno)))") }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(descriptor) }

    /// Reads every datagram waiting.
    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            messages.append(String(decoding: buffer.prefix(count), as: UTF8.self))
        }
    }

    /// Waits for a message containing every fragment, after the first `after` messages; returns its index.
    @discardableResult
    func waitFor(_ fragments: String..., after: Int = 0, timeout: Duration = Harness.timeout) async throws -> Int {
        var index: Int?
        try await Harness.waitUntil("sd_notify sends \(fragments)", timeout: timeout, details: "\(messages)") {
            drain()
            index = messages.indices.dropFirst(after).first { i in fragments.allSatisfy { messages[i].contains($0) } }
            return index != nil
        }
        return index!
    }
}
