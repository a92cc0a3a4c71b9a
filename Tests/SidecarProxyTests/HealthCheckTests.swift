import Foundation
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// `check`, `inter`, `rise`, `fall`: servers leave and rejoin the rotation, as HAProxy's checks decide.
@Suite struct HealthCheckTests {
    @Test func killedBackendIsMarkedDownWithinFallTimesInterAndGetsTrafficAgainAfterRise() async throws {
        let fixture = try await BackendFixture(echoes: 3) { checkedServer($0, $1, inter: .milliseconds(100)) }
        #expect(try await fixture.roundTrips(30) == 0)
        try await eventually("traffic on all three") { fixture.accepts.allSatisfy { $0 > 0 } }

        let killed = ContinuousClock.now
        await fixture.echoes[1].close()
        // While the check has not noticed yet, connections fail over to the others: none fails.
        #expect(try await fixture.roundTrips(20) == 0)
        // NIO removes the socket file on close: the check sees "No such file or directory".
        let down = try await fixture.logs.waitFor(
            "server be/s2 is DOWN", "Layer4 connection problem", timeout: .seconds(5))
        // fall 2 × inter 100 ms, plus the first check's spread and scheduling slack.
        #expect(ContinuousClock.now - killed < .seconds(2))
        #expect(down.contains("2 active and 0 backup servers left"))
        #expect(!fixture.backendPlan.balancer.isUp(1))
        // `show stat`'s chkfail counts the fall checks that failed while the server was still up.
        let report = fixture.backendPlan.checkReport(of: 1)
        #expect(report.failedChecks == 2)
        #expect(report.lastDurationMilliseconds != nil)
        #expect(fixture.backendPlan.history(of: 1).downTransitions == 1)
        #expect(fixture.backendPlan.history(of: nil).downTransitions == 0)
        let attemptsOnS2 = fixture.logs.all.filter {
            $0.contains("cannot connect to server") && $0.contains("server=s2")
        }
        #expect(try await fixture.roundTrips(30) == 0)
        #expect(
            fixture.logs.all.filter { $0.contains("cannot connect to server") && $0.contains("server=s2") }
                == attemptsOnS2)

        let servedBefore = fixture.logs.all.filter { $0.contains("connection closed") && $0.contains("server=be/s2") }
            .count
        let restarted = try await fixture.restart(1)
        let up = try await fixture.logs.waitFor("server be/s2 is UP", timeout: .seconds(5))
        #expect(up.contains("3 active and 0 backup servers online"))
        #expect(fixture.backendPlan.history(of: 1).downTransitions == 1)
        #expect(fixture.backendPlan.checkReport(of: 1).failedChecks == 2)
        #expect(try await fixture.roundTrips(30) == 0)
        try await eventually("the restarted server gets traffic") {
            fixture.logs.all.filter { $0.contains("connection closed") && $0.contains("server=be/s2") }.count
                > servedBefore
        }
        await fixture.shutdown(extra: [restarted])
    }

    @Test func tlsServerWithExpiredCertificateIsMarkedDownWithTheReason() async throws {
        let workspace = try Workspace()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let logs = LogCapture()
        // A TLS server (a reverse proxy) presenting a certificate from the trusted CA that expired yesterday.
        let issuer = CertificateIssuer(
            authority: try CertificateAuthority(
                certificateFile: workspace.pki.caCertificate, keyFile: workspace.pki.caKey))
        let expired = try issuer.issueLeaf(
            commonName: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"],
            validity: CertificateValidity(notBefore: Date() - 30 * 86_400, notAfter: Date() - 86_400),
            purpose: .server, fileName: "expired-server", in: workspace.directory, force: true)
        let echo = try await EchoServer.start(path: workspace.path("echo.sock"), group: group)
        var reverseTLS = workspace.listenerTLS
        reverseTLS.certificateFiles = [expired.certificateFile.path]
        reverseTLS.keyFile = expired.keyFile.path
        let reverse = try await Proxy.start(
            plan: ProxyPlan(configuration: TestConfigurations.reverse(tls: reverseTLS, backend: echo.path)),
            group: group, logger: LogCapture().logger)
        let port = reverse.boundAddresses[0].port!
        let forward = try await Proxy.start(
            plan: ProxyPlan(
                configuration: Configuration(
                    frontends: [
                        Frontend(
                            name: "fwd",
                            binds: [
                                Bind(address: .unix(path: workspace.path("fwd.sock")), location: .commandLine("t"))
                            ],
                            defaultBackend: "fwd", location: .commandLine("t"))
                    ],
                    backends: [
                        Backend(
                            name: "fwd",
                            servers: [
                                Server(
                                    name: "mgr", address: .tcp(host: "127.0.0.1", port: port), tls: workspace.serverTLS,
                                    check: true, inter: .milliseconds(100), rise: 1, fall: 1,
                                    location: .commandLine("t"))
                            ], location: .commandLine("t"))
                    ])), group: group, logger: logs.logger)
        let line = try await logs.waitFor("server fwd/mgr is DOWN", "expired", timeout: .seconds(5))
        #expect(line.contains("Layer6 invalid response"))
        #expect(line.contains("0 active and 0 backup servers left"))
        #expect(forward.plan.frontends[0].backend.healthChecks[0].lastFailure?.contains("expired") == true)
        try await logs.waitFor("backend fwd has no server available!")
        await forward.stopListening()
        await reverse.stopListening()
        await echo.close()
        try await group.shutdownGracefully()
    }

    @Test func checksStopWithTheProxy() async throws {
        let fixture = try await BackendFixture(echoes: 1) { checkedServer($0, $1, inter: .milliseconds(50)) }
        try await eventually("a check reached the server") { fixture.echoes[0].accepted > 1 }
        await fixture.proxy.stopListening()
        // Give a check already under way time to land, then no more may come.
        try await Task.sleep(for: .milliseconds(100))
        let after = fixture.echoes[0].accepted
        try await Task.sleep(for: .milliseconds(300))
        #expect(fixture.echoes[0].accepted == after)
        await fixture.shutdown()
    }
}
