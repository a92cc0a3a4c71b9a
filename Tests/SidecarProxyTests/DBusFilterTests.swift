import Foundation
import NIOCore
import SidecarConfig
import SidecarTLS
import Testing

@testable import SidecarProxy

/// `option dbus` over `EmbeddedChannel`: what passes each way, what is refused, and the log lines.
@Suite struct DBusFilterTests {
    static let negotiate = Array("NEGOTIATE_UNIX_FD\r\n".utf8)
    static let refusal = Array(DBusFilter.refusalLine.utf8)
    static let pipelinedAuth = "\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n"

    /// A harness whose authentication is done (step by step, no fd negotiation).
    static func authenticated(_ settings: DBusSettings = DBusSettings(), certificate: PeerCertificate? = nil)
        throws -> DBusFilterHarness
    {
        let harness = try DBusFilterHarness(
            settings: settings, subject: certificate.map(\.subject), certificate: certificate)
        try harness.client("\0AUTH EXTERNAL 30\r\n")
        try harness.server("OK 0123456789abcdef0123456789abcdef\r\n")
        try harness.client("BEGIN\r\n")
        return harness
    }

    // MARK: recorded exchanges

    /// Feeds a recorded exchange, each chunk cut at `cuts(chunk)`; returns what went each way.
    static func replay(
        _ exchange: [(side: DBusRecordedExchanges.Side, hex: String)], cuts: ([UInt8]) -> [Int]
    ) throws -> (toServer: [UInt8], toClient: [UInt8], harness: DBusFilterHarness) {
        let harness = try DBusFilterHarness()
        for (side, hex) in exchange {
            let bytes = [UInt8](hex: hex)
            var start = 0
            for cut in cuts(bytes) + [bytes.count] where cut > start {
                let piece = Array(bytes[start..<cut])
                if side == .client { try harness.client(piece) } else { try harness.server(piece) }
                start = cut
            }
        }
        return (harness.toServer, harness.toClient, harness)
    }

    /// What the filter must produce from a recorded exchange: the client's stream without
    /// `NEGOTIATE_UNIX_FD`, the server's with `ERROR` right after its `OK` line.
    static func expected(_ exchange: [(side: DBusRecordedExchanges.Side, hex: String)]) -> (
        toServer: [UInt8], toClient: [UInt8]
    ) {
        let client = exchange.filter { $0.side == .client }.flatMap { [UInt8](hex: $0.hex) }
        let server = exchange.filter { $0.side == .server }.flatMap { [UInt8](hex: $0.hex) }
        let negotiate = client.firstRange(of: negotiate)!
        var toServer = client
        toServer.removeSubrange(negotiate)
        let ok = server.firstRange(of: Array("OK ".utf8))!
        let lineEnd = server[ok.lowerBound...].firstRange(of: Array("\r\n".utf8))!.upperBound
        var toClient = server
        toClient.insert(contentsOf: refusal, at: lineEnd)
        return (toServer, toClient)
    }

    @Test(arguments: ["busctl", "dbus-send"])
    func recordedExchangeGivesTheSameOutputWholeByteByByteAndInRandomSplits(_ name: String) throws {
        let exchange = name == "busctl" ? DBusRecordedExchanges.busctl : DBusRecordedExchanges.dbusSend
        let expected = Self.expected(exchange)
        let whole = try Self.replay(exchange) { _ in [] }
        #expect(whole.toServer == expected.toServer)
        #expect(whole.toClient == expected.toClient)
        #expect(whole.harness.isOpen)
        #expect(whole.harness.lines.isEmpty, "\(whole.harness.lines)")
        #expect(whole.harness.counters.dbus.fdNegotiationsRefused == 1)

        let byteByByte = try Self.replay(exchange) { Array(0..<$0.count) }
        #expect(byteByByte.toServer == expected.toServer)
        #expect(byteByByte.toClient == expected.toClient)

        var generator = SplitMix(seed: 14)
        for _ in 0..<50 {
            let random = try Self.replay(exchange) { bytes in
                (0..<Int.random(in: 0...6, using: &generator)).map { _ in
                    Int.random(in: 0...bytes.count, using: &generator)
                }
                .sorted()
            }
            #expect(random.toServer == expected.toServer)
            #expect(random.toClient == expected.toClient)
            #expect(random.harness.isOpen)
        }
    }

    // MARK: fd negotiation

    @Test func pipelinedNegotiationGetsErrorRightAfterTheServersOK() throws {
        let harness = try DBusFilterHarness()
        try harness.client(Self.pipelinedAuth)
        #expect(harness.toServer == Array("\0AUTH EXTERNAL\r\nDATA\r\nBEGIN\r\n".utf8))
        #expect(harness.toClient.isEmpty)
        try harness.server("DATA\r\n")
        #expect(harness.toClient == Array("DATA\r\n".utf8))
        // The reply to DATA, then the owed ERROR, then the server's first message in the same read.
        let hello = DBusMessageBuilder.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello").bytes
        try harness.server(Array("OK 0123456789abcdef0123456789abcdef\r\n".utf8) + hello)
        #expect(
            harness.toClient
                == Array("DATA\r\nOK 0123456789abcdef0123456789abcdef\r\n".utf8) + Self.refusal + hello)
        #expect(harness.counters.dbus.fdNegotiationsRefused == 1)
        #expect(harness.isOpen)
    }

    @Test func stepByStepNegotiationGetsErrorAtOnce() throws {
        let harness = try DBusFilterHarness()
        try harness.client("\0AUTH EXTERNAL 30\r\n")
        try harness.server("OK 0123456789abcdef0123456789abcdef\r\n")
        try harness.client("NEGOTIATE_UNIX_FD\r\n")
        #expect(harness.toServer == Array("\0AUTH EXTERNAL 30\r\n".utf8))
        #expect(harness.toClient == Array("OK 0123456789abcdef0123456789abcdef\r\n".utf8) + Self.refusal)
        try harness.client("BEGIN\r\n")
        let reply = DBusMessageBuilder(type: 2, serial: 1, fields: [(5, "u", UInt32(1))]).bytes
        try harness.server(reply)
        #expect(harness.toClient.suffix(reply.count) == reply[...])
        #expect(harness.isOpen)
    }

    @Test func serverAgreeingToFdPassingIsRefused() throws {
        let harness = try DBusFilterHarness()
        try harness.client("\0AUTH EXTERNAL\r\n")
        try harness.server("AGREE_UNIX_FD\r\n")
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("reason=server agreed to Unix fd passing") == true)
        #expect(harness.lines.first?.contains("from=server") == true)
    }

    @Test(arguments: [false, true])
    func messageDeclaringUnixFdsClosesTheConnection(_ bigEndian: Bool) throws {
        let harness = try Self.authenticated()
        var message = DBusMessageBuilder.call("/a", "b.c", "D", bigEndian: bigEndian)
        message.fields.append((9, "u", UInt32(1)))
        try harness.client(message.bytes)
        #expect(harness.toServer.count == Array("\0AUTH EXTERNAL 30\r\nBEGIN\r\n".utf8).count)
        #expect(!harness.isOpen)
        #expect(
            harness.lines == [
                "warning D-Bus stream closed from=client frontend=fe peer=10.0.0.2:40000 reason=message declares "
                    + "Unix file descriptors (UNIX_FDS header field); they cannot cross the tunnel subject=-"
            ])
        #expect(
            harness.events.closures == [
                DBusStreamClosed(
                    kind: .protocolError,
                    reason:
                        "message declares Unix file descriptors (UNIX_FDS header field); they cannot cross the tunnel",
                    from: .client)
            ])
        #expect(harness.counters.dbus.protocolErrors == 1)
    }

    // MARK: messages

    @Test(arguments: [false, true])
    func bothByteOrdersPassUnchanged(_ bigEndian: Bool) throws {
        let harness = try Self.authenticated()
        var call = DBusMessageBuilder.call("/org/example/Obj", "org.example.Iface", "Ping", bigEndian: bigEndian)
        call.setStringBody(String(repeating: "x", count: 300))
        // Field 10 is unknown to the specification: receivers ignore it, the relay skips its value.
        let signal = DBusMessageBuilder(
            bigEndian: bigEndian, type: 4, serial: 7,
            fields: [(1, "o", "/a"), (2, "s", "b.c"), (3, "s", "Changed"), (10, "u", UInt32(5))])
        let before = harness.toServer.count
        let stream = call.bytes + signal.bytes + call.bytes
        try harness.client(stream)
        #expect(Array(harness.toServer[before...]) == stream)
        try harness.server(stream)
        #expect(Array(harness.toClient.suffix(stream.count)) == stream)
        #expect(harness.isOpen)
    }

    @Test func bodiesAreForwardedAsTheyArriveNotHeld() throws {
        let harness = try Self.authenticated()
        var call = DBusMessageBuilder.call("/a", "b.c", "Heartbeat")
        call.setStringBody(String(repeating: "y", count: 1000))
        let bytes = call.bytes
        let before = harness.toServer.count
        try harness.client(Array(bytes[..<(bytes.count - 500)]))
        // Everything at hand passed, although the message is not complete.
        #expect(harness.toServer.count - before == bytes.count - 500)
        try harness.client(Array(bytes[(bytes.count - 500)...]))
        #expect(Array(harness.toServer[before...]) == bytes)
    }

    /// Each case: the bytes after authentication, the reason logged.
    static let malformedMessages: [(String, [UInt8], String)] = {
        var badOrder = DBusMessageBuilder.call("/a", "b.c", "D").bytes
        badOrder[0] = UInt8(ascii: "x")
        var typeZero = DBusMessageBuilder.call("/a", "b.c", "D")
        typeZero.type = 0
        var version2 = DBusMessageBuilder.call("/a", "b.c", "D")
        version2.version = 2
        var serial0 = DBusMessageBuilder.call("/a", "b.c", "D")
        serial0.serial = 0
        var hugeFields = DBusMessageBuilder.call("/a", "b.c", "D").bytes
        hugeFields.replaceSubrange(12..<16, with: [0x01, 0x00, 0x01, 0x00])  // 65537
        let wrongType = DBusMessageBuilder(serial: 3, fields: [(1, "s", "/a")])
        let codeZero = DBusMessageBuilder(serial: 3, fields: [(0, "u", UInt32(1))])
        var runsPast = DBusMessageBuilder.call("/a", "b.c", "D").bytes
        runsPast.replaceSubrange(20..<24, with: [0xFF, 0, 0, 0])  // PATH length 255
        var noNul = DBusMessageBuilder.call("/abc", "b.c", "D").bytes
        noNul[28] = UInt8(ascii: "x")  // PATH's terminating NUL
        var container = DBusMessageBuilder.call("/a", "b.c", "D").bytes
        container[17] = 2  // field 1 with a two-character signature
        return [
            ("bad byte order", badOrder, "invalid byte-order mark 0x78 (a message starts with 'l' or 'B')"),
            ("type 0", typeZero.bytes, "message type 0 (invalid)"),
            ("version 2", version2.bytes, "protocol version 2 (only 1 exists)"),
            ("serial 0", serial0.bytes, "message serial 0 (invalid)"),
            ("huge fields", hugeFields, "header field array of 65537 bytes (limit 65536)"),
            ("wrong type", wrongType.bytes, "header field 1 has type 's' instead of 'o'"),
            ("code 0", codeZero.bytes, "header field code 0 (invalid)"),
            ("runs past", runsPast, "header field 1 runs past the array"),
            ("no NUL", noNul, "header field 1 is a string without its terminating NUL"),
            ("container", container, "header field 1 has a value that is not of a basic type"),
        ]
    }()

    @Test(arguments: malformedMessages)
    func malformedMessageClosesWithTheReason(_ name: String, _ bytes: [UInt8], _ reason: String) throws {
        let harness = try Self.authenticated()
        let before = harness.toServer.count
        try harness.client(bytes)
        #expect(harness.toServer.count == before, "\(name): bytes of a malformed header were forwarded")
        #expect(!harness.isOpen)
        #expect(harness.lines.count == 1)
        #expect(harness.lines.first?.contains(" reason=\(reason) ") == true, "\(harness.lines)")
        #expect(harness.counters.dbus.protocolErrors == 1)
    }

    @Test func oversizedMessageIsRefusedFromItsFixedHeader() throws {
        let harness = try Self.authenticated(DBusSettings(maxMessageSize: 1024))
        var call = DBusMessageBuilder.call("/a", "b.c", "D")
        call.setStringBody(String(repeating: "z", count: 2000))
        try harness.client(Array(call.bytes.prefix(16)))
        #expect(!harness.isOpen)
        let size = call.bytes.count
        #expect(
            harness.lines.first?.contains("reason=message of \(size) bytes (dbus-max-message-size is 1024)") == true,
            "\(harness.lines)")
    }

    @Test func serverViolationsNameTheServer() throws {
        let harness = try Self.authenticated()
        var reply = DBusMessageBuilder(type: 2, fields: [(5, "u", UInt32(1))]).bytes
        reply[3] = 9
        try harness.server(reply)
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("from=server") == true)
        #expect(harness.lines.first?.contains("reason=protocol version 9") == true)
    }

    @Test func streamEndingInsideAMessageIsTruncated() throws {
        let harness = try Self.authenticated()
        try harness.client(Array(DBusMessageBuilder.call("/a", "b.c", "D").bytes.prefix(10)))
        #expect(harness.isOpen)
        harness.clientEnds()
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("reason=stream ended inside a message header (10 bytes)") == true)
    }

    @Test func mutatedMessagesNeverCrashAndLogAtMostOneLine() throws {
        var generator = SplitMix(seed: 1414)
        var call = DBusMessageBuilder.call("/org/example/Obj", "org.example.Iface", "Ping")
        call.setStringBody("payload")
        let valid = call.bytes + DBusMessageBuilder.register("node1", bigEndian: true).bytes
        for _ in 0..<300 {
            let harness = try Self.authenticated(DBusSettings(maxMessageSize: 4096))
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int.random(in: 1...64, using: &generator))
                if Bool.random(using: &generator) {
                    try harness.client(Array(bytes[start..<end]))
                } else {
                    try harness.server(Array(bytes[start..<end]))
                }
                start = end
            }
            harness.clientEnds()
            #expect(harness.lines.count <= 1, "\(harness.lines)")
            #expect(harness.lines.count == harness.counters.dbus.protocolErrors)
        }
    }

    // MARK: authentication lines

    static let malformedSASL: [(String, String, String)] = [
        ("no NUL", "AUTH EXTERNAL\r\n", "first byte is 0x41, not the NUL byte a D-Bus client starts with"),
        ("bare LF", "\0AUTH EXTERNAL\n", "SASL line not ended by CRLF"),
        ("control byte", "\0AUTH\tEXTERNAL\r\n", "SASL line holds the byte 0x09 (only printable ASCII)"),
        ("unknown command", "\0HELLO\r\n", "unknown SASL command 'HELLO'"),
        ("too long", "\0AUTH " + String(repeating: "A", count: 16 * 1024), "SASL line longer than 16384 bytes"),
    ]

    @Test(arguments: malformedSASL)
    func malformedClientLineClosesWithTheReason(_ name: String, _ text: String, _ reason: String) throws {
        let harness = try DBusFilterHarness()
        try harness.client(text)
        #expect(!harness.isOpen, "\(name)")
        #expect(harness.lines.count == 1)
        #expect(harness.lines.first?.contains(" reason=\(reason) ") == true, "\(harness.lines)")
        #expect(harness.lines.first?.contains("from=client") == true)
    }

    @Test func unsolicitedServerLineIsRefused() throws {
        let harness = try DBusFilterHarness()
        try harness.server("OK 0123456789abcdef0123456789abcdef\r\n")
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("reason=server sent a SASL reply nobody asked for") == true)
        #expect(harness.toClient.isEmpty)
    }

    /// Found by the `dbus` fuzz target (Fuzz/regressions/dbus): the start of a line the server sends after its
    /// last reply, before the client's `BEGIN`, used to be taken for the start of a message once the stream
    /// turned to messages, and the filter trapped on a negative length.
    @Test func unfinishedServerLineBeforeBeginIsRefusedNotTakenForAMessage() throws {
        let harness = try DBusFilterHarness()
        try harness.client("\0AUTH EXTERNAL 30\r\n")
        try harness.server("OK 0123456789abcdef0123456789abcdef\r\nda0")
        try harness.client("BEGIN\r\n")
        try harness.server(DBusMessageBuilder.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello").bytes)
        #expect(!harness.isOpen)
        #expect(harness.lines.count == 1)
        #expect(
            harness.lines.first?.contains("reason=server sent an unfinished SASL line nobody asked for") == true,
            "\(harness.lines)")
        #expect(harness.lines.first?.contains("from=server") == true)
        #expect(harness.toClient == Array("OK 0123456789abcdef0123456789abcdef\r\n".utf8))
    }

    @Test func longLinesAcrossReadsAreBounded() throws {
        let harness = try DBusFilterHarness()
        try harness.client("\0AUTH ")
        for _ in 0..<20 where harness.isOpen { try harness.client(String(repeating: "4", count: 1000)) }
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("reason=SASL line longer than 16384 bytes") == true)
    }
}

/// A seeded generator, so a failing split can be reproduced.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
