import NIOCore
import SidecarConfig
import Testing

@testable import SidecarProxy

/// Retries on another server, backup servers, and the prompt `<NOSRV>` close when nothing is up.
@Suite struct FailoverTests {
    @Test func deadServerWithoutChecksNeverFailsAClient() async throws {
        let fixture = try await BackendFixture(echoes: 3)
        await fixture.echoes[0].close()
        #expect(try await fixture.roundTrips(30) == 0)
        #expect(fixture.accepts[1] + fixture.accepts[2] == 30)
        try await fixture.logs.waitFor("cannot connect to server", "server=s1")
        await fixture.shutdown()
    }

    @Test func backupTakesTrafficWhenAllNormalServersAreDown() async throws {
        let fixture = try await BackendFixture(echoes: 3) { index, path in
            checkedServer(index, path, backup: index == 2)
        }
        // Accept counts include the checks' connections: count served connections in the log instead.
        func servedByBackup() -> Int {
            fixture.logs.all.filter { $0.contains("connection closed") && $0.contains("server=be/s3") }.count
        }
        #expect(try await fixture.roundTrips(10) == 0)
        try await eventually("ten served") {
            fixture.logs.all.filter { $0.contains("connection closed") }.count == 10
        }
        #expect(servedByBackup() == 0)
        await fixture.echoes[0].close()
        await fixture.echoes[1].close()
        try await fixture.logs.waitFor("server be/s1 is DOWN")
        try await fixture.logs.waitFor("server be/s2 is DOWN")
        try await fixture.logs.waitFor("is DOWN", "0 active and 1 backup servers left")
        #expect(try await fixture.roundTrips(10) == 0)
        try await eventually("backup served all ten") { servedByBackup() == 10 }
        await fixture.shutdown()
    }

    @Test func allServersDownClosesClientsPromptlyWithNOSRV() async throws {
        let fixture = try await BackendFixture(echoes: 2) { checkedServer($0, $1) }
        for echo in fixture.echoes { await echo.close() }
        try await fixture.logs.waitFor("backend be has no server available!")
        for _ in 0..<5 {
            let started = ContinuousClock.now
            let client = try await fixture.client()
            try await eventually("the client is closed", timeout: .seconds(5)) { client.ended }
            // Prompt means no waiting for a connect timeout (10 s here); the margin is for a loaded CI machine.
            #expect(ContinuousClock.now - started < .seconds(3))
        }
        let line = try await fixture.logs.waitFor("connection closed", "server=be/<NOSRV>")
        #expect(line.contains("termination=SC"))
        await fixture.shutdown()
    }

    @Test func everyAttemptFailingEndsWithSCAndTheLastServer() async throws {
        let fixture = try await BackendFixture(echoes: 2, frontend: { $0.tcplog = true })
        for echo in fixture.echoes { await echo.close() }
        let client = try await fixture.client()
        try await eventually("the client is closed", timeout: .seconds(2)) { client.ended }
        // Retries alternate between the two servers: redispatch, shown as `+3`.
        let line = try await fixture.logs.waitFor(" SC ", "/+3 ")
        #expect(line.contains(" be/s"))
        #expect(line.contains(" -1/-1/") == false)
        await fixture.shutdown()
    }
}
