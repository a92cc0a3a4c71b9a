import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A sidecar with nothing to do must not wake up: no periodic timer (idle timeouts, session-cache clean-up,
/// statistics) may run once its connections have closed. Counted from the kernel's context switches, not
/// from time: a thread blocked in `epoll_wait` or `sigwait` has none.
@Suite struct AtRestTests {
    @Test func anIdlePairDoesNotWakeUpAfterItsConnectionsClose() async throws {
        try await withScenario { scenario in
            let (reverse, forward) = try await scenario.startEchoTunnel()
            // A connection arms the per-connection timers (handshake, idle timeouts); closing it must
            // cancel every one of them.
            let client = try UnixSocketClient(path: forward.socketPath)
            try client.send("one round trip\n")
            try await client.receive(until: "one round trip\n")
            client.close()
            try await reverse.process.waitForLine(containing: ["connection closed", "/CN=node1"])
            try await forward.process.waitForLine(containing: ["connection closed"])
            let processes = [("reverse", reverse.process.pid), ("forward", forward.process.pid)]
            let before = try processes.map { try Self.contextSwitches(of: $0.1) }
            // The count is live: relaying and logging the round trip took context switches.
            #expect(before.allSatisfy { $0 > 0 }, "context switches before the rest: \(before)")
            // The window has to be a span of time: what is checked is that nothing happens in it. A timer
            // of one second or less (HAProxy wakes once a second) shows three times over.
            try await Task.sleep(for: .seconds(3))
            for ((name, pid), switches) in zip(processes, before) {
                let after = try Self.contextSwitches(of: pid)
                #expect(after == switches, "\(name) woke up \(after - switches) times at rest")
            }
        }
    }

    /// Voluntary plus involuntary context switches of every thread of `pid` so far (/proc/PID/task/*/status).
    static func contextSwitches(of pid: pid_t) throws -> Int {
        let directory = "/proc/\(pid)/task"
        var total = 0
        for task in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let status = try String(contentsOfFile: "\(directory)/\(task)/status", encoding: .utf8)
            for line in status.split(separator: "\n")
            where line.hasPrefix("voluntary_ctxt_switches:") || line.hasPrefix("nonvoluntary_ctxt_switches:") {
                total += Int(line.split(separator: "\t").last.map(String.init) ?? "") ?? 0
            }
        }
        return total
    }
}
