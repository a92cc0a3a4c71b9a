import Foundation
import NIOCore
import SidecarConfig
import Testing

@testable import SidecarRuntime

/// Clients of the runtime API that send and never read: input, output and time stay bounded.
@Suite struct RuntimeAPIBackpressureTests {
    /// A raw Unix stream client with a small receive buffer, so that a server's answers back up quickly.
    final class RawClient {
        let descriptor: Int32
        /// `POLLRDHUP` (<poll.h>, needs `_GNU_SOURCE`, so the Glibc module leaves it out).
        static let pollReadHangUp: Int16 = 0x2000

        init(path: String) throws {
            descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var small: Int32 = 4096
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: Array(path.utf8))
                raw[path.utf8.count] = 0
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard result == 0 else { throw CancellationError() }
        }

        deinit { close(descriptor) }

        /// Writes all of `bytes` (blocking).
        func send(_ bytes: [UInt8]) throws {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes {
                    Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                guard written > 0 else { throw CancellationError() }
                offset += written
            }
        }

        /// Writes junk without blocking, waiting up to 200 ms each time the socket is full, until the server
        /// stops taking it, closes, or `limit` bytes went; returns how many bytes it took.
        func flood(limit: Int) -> Int {
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
            var sent = 0
            while sent < limit {
                let written = chunk.withUnsafeBytes {
                    Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                }
                if written > 0 {
                    sent += written
                    continue
                }
                guard errno == EAGAIN || errno == EWOULDBLOCK else { return sent }
                var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                if poll(&poller, 1, 200) <= 0 || poller.revents & Int16(POLLOUT) == 0 { return sent }
            }
            return sent
        }

        /// Waits until the server closed its side (without reading), up to `timeout`.
        func waitForServerClose(timeout: Duration) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                var poller = pollfd(fd: descriptor, events: Self.pollReadHangUp, revents: 0)
                if poll(&poller, 1, 0) > 0, poller.revents & (Self.pollReadHangUp | Int16(POLLHUP)) != 0 { return true }
                try await Task.sleep(for: .milliseconds(20))
            }
            return false
        }

        /// Reads everything left until EOF; returns the byte count.
        func drain() -> Int {
            var buffer = [UInt8](repeating: 0, count: 65536)
            var total = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return total }
                total += count
            }
        }
    }

    /// A stats socket on `fixture`'s API that closes connections idle for half a second.
    static func quickSocket(_ fixture: RuntimeFixture) async throws -> StatsSocketServer {
        try await StatsSocketServer.start(
            StatsSocket(
                address: .unix(path: fixture.workspace.path("quick.sock")), level: .admin,
                location: .commandLine("test")),
            api: fixture.api, group: fixture.group, logger: quietLogger, idleTimeout: .milliseconds(500))
    }

    @Test func aLineOfRepeatedShowStatToAClientThatNeverReadsIsCutOffAndClosed() async throws {
        let fixture = try await RuntimeFixture()
        let server = try await Self.quickSocket(fixture)
        let answer = fixture.api.execute("show stat", level: .admin).utf8.count
        let commands = 6000
        let client = try RawClient(path: fixture.workspace.path("quick.sock"))
        try client.send(Array(String(repeating: "show stat;", count: commands).utf8) + [UInt8(ascii: "\n")])
        // The idle timeout closes the connection though answers are pending: waiting for them to be flushed
        // would wait forever.
        #expect(try await client.waitForServerClose(timeout: .seconds(5)), "the stuck connection was never closed")
        let received = client.drain()
        #expect(received < commands * answer / 10, "\(received) of \(commands * answer) answer bytes were produced")
        await server.close()
        await fixture.shutdown()
    }

    @Test func inputIsNeitherReadNorKeptWhileAnswersWaitForTheClient() async throws {
        let fixture = try await RuntimeFixture()
        let server = try await Self.quickSocket(fixture)
        let client = try RawClient(path: fixture.workspace.path("quick.sock"))
        try client.send(Array(String(repeating: "show stat;", count: 200).utf8) + [UInt8(ascii: "\n")])
        // Only socket buffers' worth can go; a server still reading would take all 64 MiB.
        let taken = client.flood(limit: 64 << 20)
        #expect(taken < 4 << 20, "the server read \(taken) bytes after the command line")
        await server.close()
        await fixture.shutdown()
    }
}
