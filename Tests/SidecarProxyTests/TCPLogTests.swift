import Foundation
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTestSupport
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// `option tcplog` lines, parsed field by field, and the HAProxy error-format line of a failed handshake.
@Suite struct TCPLogTests {
    /// `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`.
    struct TCPLogLine {
        var clientIP: String
        var clientPort: String
        var date: String
        var frontend: String
        var backend: String
        var server: String
        var tw: Int
        var tc: Int
        var tt: Int
        var bytes: Int
        var termination: String
        var ac: Int
        var fc: Int
        var bc: Int
        var sc: Int
        var rc: String
        var sq: Int
        var bq: Int

        init?(_ message: String) {
            let fields = message.split(separator: " ").map(String.init)
            guard fields.count == 9 else { return nil }
            guard let colon = fields[0].lastIndex(of: ":") else { return nil }
            clientIP = String(fields[0][..<colon])
            clientPort = String(fields[0][fields[0].index(after: colon)...])
            guard fields[1].hasPrefix("["), fields[1].hasSuffix("]") else { return nil }
            date = String(fields[1].dropFirst().dropLast())
            frontend = fields[2]
            let route = fields[3].split(separator: "/", maxSplits: 1).map(String.init)
            guard route.count == 2 else { return nil }
            (backend, server) = (route[0], route[1])
            let times = fields[4].split(separator: "/").compactMap { Int($0) }
            guard times.count == 3, let bytes = Int(fields[5]) else { return nil }
            (tw, tc, tt) = (times[0], times[1], times[2])
            self.bytes = bytes
            termination = fields[6]
            let counts = fields[7].split(separator: "/").map(String.init)
            guard counts.count == 5, let ac = Int(counts[0]), let fc = Int(counts[1]), let bc = Int(counts[2]),
                let sc = Int(counts[3])
            else { return nil }
            (self.ac, self.fc, self.bc, self.sc, rc) = (ac, fc, bc, sc, counts[4])
            let queues = fields[8].split(separator: "/").compactMap { Int($0) }
            guard queues.count == 2 else { return nil }
            (sq, bq) = (queues[0], queues[1])
        }
    }

    @Test func unixClientLineParsesFieldByField() async throws {
        let fixture = try await BackendFixture(echoes: 1, frontend: { $0.tcplog = true })
        let client = try await fixture.client()
        try await client.send(ByteBuffer(string: "hello"))
        try await eventually("echo") { client.received.readableBytes == 5 }
        await client.close()
        let line = try #require(TCPLogLine(logMessage(try await fixture.logs.waitFor(" fe be/s1 "))))
        #expect(line.clientIP == "unix" && line.clientPort == "1")
        #expect(
            line.date.wholeMatch(
                of: #/\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3}/#) != nil)
        #expect(line.frontend == "fe")
        #expect(line.backend == "be" && line.server == "s1")
        #expect(line.tw == 0 && line.tc >= 0 && line.tt >= line.tc)
        #expect(line.bytes == 5)
        #expect(line.termination == "--")
        #expect(line.ac <= 1 && line.fc <= 1 && line.bc == 1 && line.sc == 1)
        #expect(line.rc == "0")
        #expect(line.sq == 0 && line.bq == 0)
        await fixture.shutdown()
    }

    @Test func sessionShutDownByTheRuntimeAPIIsLoggedWithK() async throws {
        let fixture = try await BackendFixture(echoes: 1, frontend: { $0.tcplog = true })
        let client = try await fixture.client()
        try await client.send(ByteBuffer(string: "hello"))
        try await eventually("echo") { client.received.readableBytes == 5 }
        let session = try #require(fixture.proxy.registry.statistics.sessions.first)
        session.shutdown()
        try await eventually("closed") { client.ended }
        let line = try #require(TCPLogLine(logMessage(try await fixture.logs.waitFor(" fe be/s1 "))))
        #expect(line.termination == "KD")
        #expect(line.bytes == 5)
        await fixture.shutdown()
    }

    @Test func noServerLineSaysNOSRVAndSC() async throws {
        let fixture = try await BackendFixture(
            echoes: 1, server: { checkedServer($0, $1, inter: .milliseconds(50), fall: 1) },
            frontend: { $0.tcplog = true })
        await fixture.echoes[0].close()
        try await fixture.logs.waitFor("server be/s1 is DOWN")
        let client = try await fixture.client()
        try await eventually("closed", timeout: .seconds(2)) { client.ended }
        let line = try #require(TCPLogLine(logMessage(try await fixture.logs.waitFor("<NOSRV>"))))
        #expect(line.backend == "be" && line.server == "<NOSRV>")
        #expect(line.tw == -1 && line.tc == -1)
        #expect(line.termination == "SC")
        #expect(line.bytes == 0)
        await fixture.shutdown()
    }

    @Test func tlsListenerLineHasTildeAndIPClientAndFailedHandshakeUsesErrorFormat() async throws {
        let workspace = try Workspace()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let logs = LogCapture()
        let echo = try await EchoServer.start(path: workspace.path("echo.sock"), group: group)
        let reverse = try await Proxy.start(
            plan: ProxyPlan(
                configuration: TestConfigurations.reverse(
                    tls: workspace.listenerTLS, backend: echo.path, bindName: "mtls", tcplog: true)),
            group: group, logger: logs.logger)
        let port = reverse.boundAddresses[0].port!
        func forward(_ name: String, certificate: URL, key: URL) async throws -> Proxy {
            var tls = workspace.serverTLS
            tls.certificateFiles = [certificate.path]
            tls.keyFile = key.path
            return try await Proxy.start(
                plan: ProxyPlan(
                    configuration: TestConfigurations.forward(
                        name: name, socket: workspace.path("\(name).sock"), server: "rev", port: port, tls: tls)),
                group: group, logger: LogCapture().logger)
        }
        let good = try await forward("good", certificate: workspace.pki.clientCertificate, key: workspace.pki.clientKey)
        let client = try await CollectingClient.connect(unixPath: workspace.path("good.sock"), group: group)
        try await client.send(ByteBuffer(string: "abc"))
        try await eventually("echo") { client.received.readableBytes == 3 }
        await client.close()
        let line = try #require(TCPLogLine(logMessage(try await logs.waitFor(" rev~ rev/echo "))))
        #expect(line.clientIP == "127.0.0.1" && Int(line.clientPort) != nil)
        #expect(line.frontend == "rev~")
        #expect(line.bytes == 3)
        #expect(line.termination == "--")

        let expired = try await forward(
            "expired", certificate: workspace.pki.expiredClientCertificate, key: workspace.pki.expiredClientKey)
        let refused = try await CollectingClient.connect(unixPath: workspace.path("expired.sock"), group: group)
        try await eventually("refused", timeout: .seconds(5)) { refused.ended }
        let failure = logMessage(try await logs.waitFor("rev/mtls: SSL client certificate not trusted"))
        #expect(
            failure.wholeMatch(
                of:
                    #/127\.0\.0\.1:\d+ \[[^\]]+\] rev/mtls: SSL client certificate not trusted \(.*expired.*\), subject: .*CN ?= ?client.*/#
            ) != nil)
        await expired.stopListening()
        await good.stopListening()
        await reverse.stopListening()
        await echo.close()
        try await group.shutdownGracefully()
    }

    /// Peer-chosen names in HAProxy's error format are encoded as HAProxy encodes log fields: `#` and two hex
    /// digits for control bytes, bytes from 0x7F up and `"#{|}`.
    @Test func theErrorFormatEncodesPeerNamesAsHAProxyDoes() {
        #expect(ConnectionLog.encoded("CN 'a\nb\u{0}c' é \"#{|}") == "CN 'a#0Ab#00c' #C3#A9 #22#23#7B#7C#7D")
        #expect(ConnectionLog.encoded("plain (text) ok") == "plain (text) ok")
        let line = ConnectionLog.handshakeFailure(
            client: "127.0.0.1:1", accepted: ConnectionLog.now(), frontend: "rev", bindName: "mtls",
            error: TLSError.rejected("CN 'node1\nforged' not allowed", certificate: nil))
        #expect(!line.contains("\n"))
        #expect(line.hasSuffix(": SSL client certificate not trusted (CN 'node1#0Aforged' not allowed)"), "\(line)")
    }
}
