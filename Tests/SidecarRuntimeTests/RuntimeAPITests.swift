import Foundation
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarProxy
import Testing

@testable import SidecarRuntime

/// The runtime API on a stats socket, against a running in-process proxy with live connections.
@Suite(.serialized)
struct RuntimeAPITests {
    @Test func showStatCountersMoveAsTrafficFlows() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let stat = try await fixture.command("show stat")
        #expect(stat.hasPrefix("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"))
        #expect(stat.contains("\nfe,FRONTEND,"))
        #expect(stat.contains("\nbe,s1,"))
        #expect(stat.contains("\nbe,BACKEND,"))
        #expect(stat.hasSuffix(",\n\n"))

        let client = try await fixture.client()
        try await client.echo(1000)
        try await waitFor("open session counted") {
            let frontend = try await fixture.report().frontends.first { $0.name == "fe" }
            return frontend?.sessions == 1 && frontend?.bytesIn == 1000 && frontend?.bytesOut == 1000
        }
        try await client.echo(500)
        try await waitFor("bytes of the open session counted") {
            try await fixture.report().backends.first?.bytesIn == 1500
        }
        await client.close()
        try await waitFor("closed session kept in the totals") {
            let report = try await fixture.report()
            let frontend = report.frontends.first { $0.name == "fe" }
            let servers = report.backends.first?.servers ?? []
            return frontend?.sessions == 0 && frontend?.sessionsTotal == 1 && frontend?.bytesIn == 1500
                && frontend?.bytesOut == 1500 && servers.reduce(0) { $0 + $1.sessionsTotal } == 1
                && servers.reduce(0) { $0 + $1.bytesOut } == 1500
        }
    }

    @Test func failedClientHandshakeCountsAsRequestError() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let port = try #require(fixture.proxy.boundAddresses.compactMap(\.port).first)
        let channel = try await ClientBootstrap(group: fixture.group).connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.0\r\n\r\n")).get()
        try await channel.closeFuture.get()
        try await waitFor("ereq counted on the TLS frontend") {
            let stat = try await fixture.command("show stat")
            let row = stat.split(separator: "\n").first { $0.hasPrefix("tls,FRONTEND,") }
            let fields = row?.split(separator: ",", omittingEmptySubsequences: false) ?? []
            // stot (7) and ereq (12).
            return fields.count > 12 && fields[7] == "1" && fields[12] == "1"
        }
        #expect(fixture.echoes.values.allSatisfy { $0.accepted == 0 })
    }

    @Test func disableServerStopsNewConnectionsWhileExistingOnesContinue() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let first = try await fixture.client()
        try await first.echo(10)
        let busy = try #require(fixture.echoes.first { $0.value.accepted == 1 }?.key)
        let other = busy == "s1" ? "s2" : "s1"
        #expect(try await fixture.command("disable server be/\(busy)") == "\n")
        #expect(try await fixture.server(busy)?.status == "MAINT")
        for _ in 0..<4 {
            let client = try await fixture.client()
            try await client.echo(10)
            await client.close()
        }
        #expect(fixture.echoes[busy]?.accepted == 1)
        #expect(fixture.echoes[other]?.accepted == 4)
        try await first.echo(10)
        #expect(!first.ended)

        #expect(try await fixture.command("enable server be/\(busy)") == "\n")
        #expect(try await fixture.server(busy)?.status == "no check")
        for _ in 0..<2 {
            let client = try await fixture.client()
            try await client.echo(10)
            await client.close()
        }
        #expect(fixture.echoes[busy]?.accepted == 2)
        await first.close()
    }

    @Test func showStatReportsStateChangesAndDowntime() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        func row(_ name: String) async throws -> [String: String] {
            let lines = try await fixture.command("show stat").split(separator: "\n").map(String.init)
            let header = lines[0].dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let line = try #require(lines.first { $0.hasPrefix("be,\(name),") })
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return Dictionary(uniqueKeysWithValues: zip(header, fields))
        }
        #expect(try await row("BACKEND")["chkdown"] == "0")
        #expect(Int(try await row("s1")["lastchg"] ?? "") != nil)
        #expect(try await fixture.command("disable server be/s1") == "\n")
        #expect(try await fixture.command("disable server be/s2") == "\n")
        var backend = try await row("BACKEND")
        #expect(backend["status"] == "DOWN" && backend["chkdown"] == "1" && backend["lastchg"] == "0")
        #expect(try await fixture.command("enable server be/s2") == "\n")
        backend = try await row("BACKEND")
        #expect(backend["status"] == "UP" && backend["chkdown"] == "1" && Int(backend["downtime"] ?? "") != nil)
        // Servers without `check` have no check counters, as in HAProxy.
        #expect(try await row("s1")["chkfail"] == "")
    }

    @Test func drainingServerKeepsItsSessionsAndTakesNoNewOnes() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let established = try await fixture.client()
        try await established.echo(10)
        let busy = try #require(fixture.echoes.first { $0.value.accepted == 1 }?.key)
        let other = busy == "s1" ? "s2" : "s1"
        #expect(try await fixture.command("set server be/\(busy) state drain") == "\n")
        #expect(try await fixture.server(busy)?.status == "DRAIN")
        for _ in 0..<3 {
            let client = try await fixture.client()
            try await client.echo(10)
            await client.close()
        }
        #expect(fixture.echoes[busy]?.accepted == 1)
        #expect(fixture.echoes[other]?.accepted == 3)
        // The session opened before the drain goes on.
        try await established.echo(500)
        #expect(!established.ended)
        #expect(try await fixture.command("show sess").contains("srv=\(busy) "))
        await established.close()
        #expect(try await fixture.command("set server be/\(busy) state ready") == "\n")
        #expect(try await fixture.server(busy)?.status == "no check")
        #expect(try await fixture.command("set server be/s1 state sleepy").contains("expects 'ready', 'drain'"))
    }

    @Test func showSessListsEachConnectionWithPeerServerSubjectAgeAndBytes() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let port = try #require(fixture.proxy.boundAddresses.compactMap(\.port).first)
        let pki = fixture.workspace.pki
        // A real TLS peer that stays connected until its input closes.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = [
            "20", "openssl", "s_client", "-quiet", "-no_ign_eof", "-connect", "127.0.0.1:\(port)", "-cert",
            pki.clientCertificate.path,
            "-key", pki.clientKey.path, "-CAfile", pki.caCertificate.path,
        ]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()  // a Process never waited for stays registered with Foundation's monitor: a cycle
        }
        input.fileHandleForWriting.write(Data("hello\n".utf8))
        var line = ""
        try await waitFor("the TLS session in show sess with its bytes") {
            line =
                try await fixture.command("show sess").split(separator: "\n").first { $0.contains("fe=tls") }
                .map(String.init) ?? ""
            return line.contains("bin=6 bout=6")
        }
        #expect(
            line.wholeMatch(
                of:
                    #/0x[0-9a-f]+: proto=tcpv4 src=127\.0\.0\.1:\d+ fe=tls be=be srv=s[12] age=\d+s bin=6 bout=6 subject=".*CN ?= ?client.*"/#
            ) != nil, "\(line)")
        try input.fileHandleForWriting.close()
        try await waitFor("the session gone") { !(try await fixture.command("show sess").contains("fe=tls")) }
    }

    @Test func weightZeroTakesNoNewConnections() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        #expect(try await fixture.command("set server be/s2 weight 0") == "\n")
        #expect(try await fixture.server("s2")?.weight == 0)
        for _ in 0..<3 {
            let client = try await fixture.client()
            try await client.echo(10)
            await client.close()
        }
        #expect(fixture.echoes["s2"]?.accepted == 0)
        #expect(try await fixture.command("set server be/s2 weight 300").contains("between 0 and 256"))
    }

    @Test func shutdownSessionsServerClosesThem() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let clients = [try await fixture.client(), try await fixture.client()]
        for client in clients { try await client.echo(10) }
        let sessions = try await fixture.command("show sess")
        #expect(sessions.components(separatedBy: "fe=fe be=be").count == 3)
        let onS1 = sessions.split(separator: "\n").filter { $0.contains("srv=s1 ") }.count
        #expect(onS1 == 1)
        #expect(try await fixture.command("shutdown sessions server be/s1") == "\n")
        try await waitFor("the session on s1 closed") { clients.filter(\.ended).count == 1 }
        let survivor = try #require(clients.first { !$0.ended })
        try await survivor.echo(10)
        #expect(try await fixture.command("show sess").contains("srv=s2 "))
        for client in clients { await client.close() }
    }

    @Test func levelUserCannotChangeServers() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        for command in [
            "disable server be/s1", "set server be/s1 state maint", "shutdown sessions server be/s1",
            "show sess",
        ] {
            #expect(try await fixture.command(command, socket: fixture.userPath) == "Permission denied\n\n")
        }
        #expect(try await fixture.server("s1")?.status == "no check")
        #expect(try await fixture.command("show stat", socket: fixture.userPath).hasPrefix("# pxname,svname"))
        let help = try await fixture.command("help", socket: fixture.userPath)
        #expect(help.contains("show stat"))
        #expect(!help.contains("disable server"))
    }

    @Test func unknownCommandAnswersWithTheHelpList() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let answer = try await fixture.command("show frobnication")
        #expect(answer.hasPrefix("Unknown command: 'show frobnication'"))
        #expect(answer.contains("disable server <bk>/<srv>"))
        #expect(answer.contains("show servers state"))
        #expect(try await fixture.command("disable server be/nope") == "No such server.\n\n")
        #expect(try await fixture.command("disable server nope/s1") == "No such backend.\n\n")
    }

    @Test func showInfoServersStateAndCertificates() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let info = try await fixture.command("show info")
        #expect(info.contains("Name: sidecar\n"))
        #expect(info.contains("Pid: \(getpid())\n"))
        #expect(try await fixture.command("disable server be/s2") == "\n")
        let state = try await fixture.command("show servers state").split(separator: "\n").map(String.init)
        #expect(state.first == "1")
        #expect(state.contains { $0.hasPrefix("1 be 2 s2 ") && $0.contains(" 2 1 1 1 ") })
        let list = try await fixture.command("show ssl cert")
        let file = fixture.workspace.pki.serverCertificate.path
        #expect(list == "# filename\n\(file)\n\n")
        let details = try await fixture.command("show ssl cert \(file)")
        #expect(details.contains("Filename: \(file)\n"))
        #expect(details.contains("SHA1 FingerPrint: "))
        #expect(details.contains("Subject: ") && details.contains("Issuer: ") && details.contains("notAfter: "))
        #expect(details.contains("Subject Alternative Name: DNS:localhost"))
    }

    @Test func severalCommandsOnOneLineAndInteractivePrompt() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let both = try await fixture.command("show info; show servers state")
        #expect(both.contains("Name: sidecar") && both.contains("# be_id be_name"))
        let interactive = try await RuntimeAPIClient.send("prompt\nhelp\nquit", to: fixture.adminPath)
        #expect(interactive.hasPrefix("> The following commands"))
        #expect(interactive.hasSuffix("> "))
    }

    @Test func reloadKeepsCountersAndServerStates() async throws {
        let fixture = try await RuntimeFixture()
        defer { Task { await fixture.shutdown() } }
        let client = try await fixture.client()
        try await client.echo(100)
        await client.close()
        #expect(try await fixture.command("set server be/s1 state maint") == "\n")
        #expect(try await fixture.command("set server be/s2 weight 7") == "\n")
        let plan = try ProxyPlan(configuration: RuntimeFixture.configuration(fixture.workspace))
        let reloaded = try await fixture.proxy.reload(to: plan, logger: quietLogger)
        fixture.api.adopt(reloaded)
        #expect(try await fixture.server("s1")?.status == "MAINT")
        #expect(try await fixture.server("s2")?.weight == 7)
        // A state carried over is where the reloaded configuration starts, not a new transition.
        let s1 = try #require(reloaded.plan.frontends[0].backend.servers.first { $0.server.name == "s1" })
        #expect(reloaded.plan.frontends[0].backend.history(of: s1.index).downTransitions == 0)
        try await waitFor("totals carried over") {
            try await fixture.report().frontends.first { $0.name == "fe" }?.sessionsTotal == 1
        }
        await reloaded.stopListening()
    }
}
