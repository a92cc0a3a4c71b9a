import NIOCore
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy

/// `maxconn`: above a frontend's (or bind's, or the global) limit, clients wait in the kernel backlog and
/// are served as slots free up; above a server's limit, the next server is chosen.
@Suite struct MaxconnTests {
    /// 50 clients connect and send a byte each; the served ones (echo received) hold their connection.
    private func fiftyClientsServedTenAtATime(_ fixture: BackendFixture, gate: ConnectionGate) async throws {
        var clients: [CollectingClient] = []
        for _ in 0..<50 {
            let client = try await fixture.client()
            try await client.send(ByteBuffer(string: "x"))
            clients.append(client)
        }
        var served = Set<Int>()
        var closed = Set<Int>()
        for round in 1...5 {
            try await eventually("round \(round): ten more served") {
                clients.indices.filter { clients[$0].received.readableBytes == 1 }.count == round * 10
            }
            // Nobody beyond the limit is served meanwhile, and nobody waiting was dropped.
            try await Task.sleep(for: .milliseconds(150))
            let now = Set(clients.indices.filter { clients[$0].received.readableBytes == 1 })
            #expect(now.count == round * 10)
            #expect(gate.count == 10)
            #expect(fixture.accepts[0] == round * 10)
            #expect(!clients.indices.contains { !now.contains($0) && clients[$0].ended })
            served = now
            for index in served.subtracting(closed) {
                await clients[index].close()
                closed.insert(index)
            }
        }
        #expect(served.count == 50)
        try await eventually("every slot free") { gate.count == 0 }
    }

    @Test func frontendMaxconn10ServesFiftyClientsTenAtATimeAndDropsNone() async throws {
        let fixture = try await BackendFixture(echoes: 1, frontend: { $0.maxconn = 10 })
        try await fiftyClientsServedTenAtATime(fixture, gate: fixture.proxy.plan.frontends[0].binds[0].gates.frontend)
        await fixture.shutdown()
    }

    @Test func globalMaxconnHoldsAcceptsToo() async throws {
        let fixture = try await BackendFixture(echoes: 1, global: { $0.maxconn = 10 })
        try await fiftyClientsServedTenAtATime(fixture, gate: fixture.proxy.plan.frontends[0].binds[0].gates.global)
        await fixture.shutdown()
    }

    @Test func fullServerSendsTheNextConnectionToAnother() async throws {
        let fixture = try await BackendFixture(echoes: 2) { index, path in
            Server(
                name: "s\(index + 1)", address: .unix(path: path), maxconn: index == 0 ? 2 : nil,
                location: .commandLine("test"))
        }
        var clients: [CollectingClient] = []
        for round in 1...8 {
            let client = try await fixture.client()
            try await client.send(ByteBuffer(string: "x"))
            try await eventually("echo \(round)") { client.received.readableBytes == 1 }
            clients.append(client)
        }
        #expect(fixture.accepts == [2, 6])
        for client in clients { await client.close() }
        await fixture.shutdown()
    }
}
