import NIOCore
import NIOPosix
import Testing

@testable import SidecarRuntime

/// The metrics endpoint and each stats socket serve at most 10 connections at once: the descriptors
/// `DescriptorBudget` reserves for them. One more is closed on accept; the others are unaffected.
@Suite struct ManagementConnectionCapTests {
    /// Connects `count` idle clients with `connect`; returns their channels.
    static func idle(_ count: Int, _ connect: () async throws -> Channel) async throws -> [Channel] {
        var channels: [Channel] = []
        for _ in 0..<count { channels.append(try await connect()) }
        return channels
    }

    /// Whether `channel` is closed by the peer within `timeout`.
    static func closedByServer(_ channel: Channel, within timeout: Duration = .seconds(3)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !channel.isActive { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test func theEleventhMetricsConnectionIsClosedAndTheOthersStillServed() async throws {
        try await MetricsFixture.with { fixture in
            let connect = {
                try await ClientBootstrap(group: fixture.group).connect(host: "127.0.0.1", port: fixture.port).get()
            }
            let held = try await Self.idle(10, connect)
            let extra = try await connect()
            #expect(try await Self.closedByServer(extra), "an 11th metrics connection stayed open")
            #expect(held.allSatisfy { $0.isActive })
            for channel in held { try await channel.close() }
            #expect(try await HTTPGet.fetch(fixture.port, "/health").status == 200)
        }
    }

    @Test func theEleventhStatsSocketConnectionIsClosed() async throws {
        let fixture = try await RuntimeFixture()
        let connect = {
            try await ClientBootstrap(group: fixture.group).connect(unixDomainSocketPath: fixture.adminPath).get()
        }
        let held = try await Self.idle(10, connect)
        let extra = try await connect()
        #expect(try await Self.closedByServer(extra), "an 11th stats socket connection stayed open")
        for channel in held { try await channel.close() }
        #expect(try await fixture.command("show info").contains("Name: sidecar"))
        await fixture.shutdown()
    }
}
