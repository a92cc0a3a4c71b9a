import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The system calls a relayed message costs, counted by strace attached to a forward sidecar that is already
/// relaying: structure, not speed, so no timing is asserted.
@Suite struct DataPathTests {
    /// Each message is one `read` on the side it arrives on and one `write` on the other: no read that only
    /// answers `EAGAIN` after it, no second write (a flush per record), no `epoll_ctl` while relaying.
    @Test func aRelayedMessageIsOneReadAndOneWrite() async throws {
        try await withScenario { scenario in
            let (reverse, forward) = try await scenario.startEchoTunnel()
            let client = try UnixSocketClient(path: forward.socketPath)
            // The tunnel is up (handshake done, session ticket read) before counting starts.
            try client.send("warm-up\n")
            try await client.receive(until: "warm-up\n")
            let trace = scenario.path("forward.strace")
            let strace = try scenario.start(
                "strace", try Harness.tool("strace", package: "strace"),
                [
                    "-f", "-e", "trace=read,write,readv,writev,recvfrom,sendto,recvmsg,sendmsg,epoll_ctl", "-o", trace,
                    "-p", "\(forward.process.pid)",
                ])
            try await strace.waitForLine(containing: ["attached"])
            let roundTrips = 50
            for index in 0..<roundTrips {
                let message = "message \(index) " + String(repeating: "x", count: 200) + "\n"
                try client.send(message)
                try await client.receive(until: message)
            }
            kill(strace.pid, SIGINT)
            _ = try await strace.waitForExit()  // strace ends on SIGINT with a status of its own
            let calls = try Self.calls(in: trace)
            // Two directions per round trip; a call interrupted by the attach may show once more.
            let reads = calls.filter { ["read", "readv", "recvfrom", "recvmsg"].contains($0) }.count
            let writes = calls.filter { ["write", "writev", "sendto", "sendmsg"].contains($0) }.count
            #expect((2 * roundTrips...2 * roundTrips + 1).contains(reads), "reads: \(reads), \(calls.count) calls")
            #expect((2 * roundTrips...2 * roundTrips + 1).contains(writes), "writes: \(writes)")
            #expect(!calls.contains("epoll_ctl"), "epoll_ctl while relaying")
            client.close()
        }
    }

    /// A new tunnel costs the reverse side one `connect` to its Unix server, and no look-up of the addresses of
    /// a socket not yet connected: the server is connected before SwiftNIO gets the socket (a bootstrap's
    /// connect asked for both addresses of the fresh socket, one answered `ENOTCONN`, and for its own address
    /// once more). What remains per connection: the accepted socket's two addresses, the server socket's two
    /// once connected, and one more of its own (at most 5 look-ups; there were 7).
    @Test func aNewConnectionToAUnixServerIsOneConnectWithoutLookUpsBeforeIt() async throws {
        try await withScenario { scenario in
            let (reverse, forward) = try await scenario.startEchoTunnel()
            // One tunnel first, so that the process has started everything it starts once.
            let first = try UnixSocketClient(path: forward.socketPath)
            try first.send("warm-up\n")
            try await first.receive(until: "warm-up\n")
            first.close()
            let trace = scenario.path("reverse.strace")
            let strace = try scenario.start(
                "strace", try Harness.tool("strace", package: "strace"),
                [
                    "-f", "-e", "trace=socket,connect,getsockname,getpeername", "-o", trace, "-p",
                    "\(reverse.process.pid)",
                ])
            try await strace.waitForLine(containing: ["attached"])
            let connections = 5
            for index in 0..<connections {
                let client = try UnixSocketClient(path: forward.socketPath)
                try client.send("connection \(index)\n")
                try await client.receive(until: "connection \(index)\n")
                client.close()
            }
            kill(strace.pid, SIGINT)
            _ = try await strace.waitForExit()
            let log = try String(contentsOfFile: trace, encoding: .utf8)
            let calls = Self.calls(inLog: log)
            let unixSockets = log.split(separator: "\n").filter { $0.contains("socket(AF_UNIX") }.count
            #expect(unixSockets == connections, "Unix sockets: \(unixSockets)\n\(log)")
            #expect(calls.filter { $0 == "connect" }.count == connections, "\(log)")
            #expect(!log.contains("ENOTCONN"), "an address looked up before the socket was connected:\n\(log)")
            let lookUps = calls.filter { $0 == "getsockname" || $0 == "getpeername" }.count
            #expect(lookUps <= 5 * connections, "address look-ups: \(lookUps) for \(connections) connections\n\(log)")
        }
    }

    /// The names of the system calls in an strace log, without their resumptions. With `-f` each line starts
    /// with the thread's id, which strace pads to five columns (`%-5d `): `123   read(…` as well as `12345 read(…`.
    static func calls(in path: String) throws -> [String] {
        try calls(inLog: String(contentsOfFile: path, encoding: .utf8))
    }

    static func calls(inLog log: String) -> [String] {
        log.split(separator: "\n").compactMap { line in
            let call = line.drop { $0.isNumber }.drop { $0 == " " }
            guard call.startIndex != line.startIndex, let open = call.firstIndex(of: "("), !call.hasPrefix("<..."),
                call[..<open].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
            else { return nil }
            return String(call[..<open])
        }
    }

    /// The parser reads the short, padded thread ids of a new machine (CI's sidecar ran as pid 1234 and the
    /// unpadded parser found no `read` at all) as well as long ones, and skips resumptions and signals.
    @Test func theStraceLogParserReadsPaddedAndUnpaddedThreadIds() {
        let log = """
            812   read(9, "x", 8192)            = 1
            12345 write(10, "x", 1)            = 1
            1234  epoll_wait(5,  <unfinished ...>
            1234  <... epoll_wait resumed>[], 64, -1) = 1
            99    --- SIGINT {si_signo=SIGINT} ---
            7     +++ exited with 0 +++
            """
        #expect(Self.calls(inLog: log) == ["read", "write", "epoll_wait"])
    }
}
