import Foundation
import NIOCore
import SidecarConfig
import Testing

@testable import SidecarProxy
@testable import SidecarTLS

/// `dbus-register-name`: every call to the register method must carry a name the client certificate allows.
@Suite struct DBusRegisterTests {
    /// Certificates issued once for the suite by a throwaway CA.
    final class Certificates: Sendable {
        let directory: URL
        /// CN node1, DNS SAN node1.nodes.example.com, URI SAN spiffe://example.org/bluechi/agent-a.
        let node1: PeerCertificate
        let node2: PeerCertificate

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("dbusreg-\(UUID().uuidString)")
            let pki = try TestPKI.make(in: directory)
            let issuer = try CertificateIssuer(caCertificateFile: pki.caCertificate, caKeyFile: pki.caKey)
            let one = try issuer.issueLeaf(
                commonName: "node1", dnsNames: ["node1.nodes.example.com"],
                uris: ["spiffe://example.org/bluechi/agent-a"], validity: .days(30), in: directory)
            let two = try issuer.issueLeaf(commonName: "node2", validity: .days(30), in: directory)
            node1 = try PeerCertificate(pemFile: one.certificateFile)
            node2 = try PeerCertificate(pemFile: two.certificateFile)
        }

        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    static let certificates = Result { try Certificates() }

    static func settings(_ rule: DBusRegisterName.Rule, method: DBusMethod = .blueChiRegister) -> DBusSettings {
        DBusSettings(
            registerName: DBusRegisterName(rule: rule, location: SourceLocation(file: "r.cfg", line: 7)),
            registerMethod: method)
    }

    static func harness(_ rule: DBusRegisterName.Rule = .cn, certificate: PeerCertificate? = nil) throws
        -> DBusFilterHarness
    {
        let certificate = try certificate ?? certificates.get().node1
        return try DBusFilterTests.authenticated(settings(rule), certificate: certificate)
    }

    @Test(arguments: [
        (DBusRegisterName.Rule.cn, "node1"), (.dns, "node1.nodes.example.com"), (.uri, "agent-a"),
        (.map(file: "/etc/sidecar/names.map", names: DBusNameMap(entries: ["node1": ["edge-7", "node1"]])), "edge-7"),
    ])
    func allowedNameIsForwardedAndLogged(_ rule: DBusRegisterName.Rule, _ name: String) throws {
        let harness = try Self.harness(rule)
        let before = harness.toServer.count
        let call = DBusMessageBuilder.register(name).bytes
        try harness.client(call)
        #expect(Array(harness.toServer[before...]) == call)
        #expect(harness.isOpen)
        let subject = try Self.certificates.get().node1.subject
        #expect(
            harness.lines == [
                "info D-Bus registration accepted frontend=fe name=\(name) peer=10.0.0.2:40000 subject=\(subject)"
            ])
        #expect(harness.counters.dbus.registrationsAccepted == 1)
    }

    @Test(arguments: [false, true])
    func otherNameIsNeverForwardedAndClosesTheConnection(_ bigEndian: Bool) throws {
        let harness = try Self.harness()
        let before = harness.toServer.count
        try harness.client(DBusMessageBuilder.register("node2", bigEndian: bigEndian).bytes)
        #expect(harness.toServer.count == before)
        #expect(!harness.isOpen)
        let subject = try Self.certificates.get().node1.subject
        #expect(
            harness.lines == [
                "warning D-Bus registration refused claimed=node2 frontend=fe peer=10.0.0.2:40000 reason=the "
                    + "certificate does not allow this name (cn: node1) rule=cn subject=\(subject)"
            ])
        #expect(harness.events.closures.map(\.kind) == [.registrationRefused])
        #expect(harness.counters.dbus.registrationsRefused == 1)
        #expect(harness.counters.dbus.protocolErrors == 0)
    }

    @Test func secondRegisterWithAnotherNameIsRefused() throws {
        let harness = try Self.harness()
        try harness.client(DBusMessageBuilder.register("node1", serial: 2).bytes)
        let forwarded = harness.toServer.count
        try harness.client(DBusMessageBuilder.register("node2", serial: 3).bytes)
        #expect(harness.toServer.count == forwarded)
        #expect(!harness.isOpen)
        #expect(harness.counters.dbus.registrationsAccepted == 1)
        #expect(harness.counters.dbus.registrationsRefused == 1)
    }

    /// The same stream gives the same result however TCP splits it: an accepted call read in one chunk with a
    /// refused one still reaches the server (as it does when they arrive apart), and the refused one does not.
    @Test func acceptedCallInTheSameReadAsARefusedOneStillPasses() throws {
        let harness = try Self.harness()
        let before = harness.toServer.count
        let accepted = DBusMessageBuilder.register("node1", serial: 2).bytes
        try harness.client(accepted + DBusMessageBuilder.register("node2", serial: 3).bytes)
        #expect(Array(harness.toServer[before...]) == accepted)
        #expect(!harness.isOpen)
        #expect(harness.counters.dbus.registrationsAccepted == 1)
        #expect(harness.counters.dbus.registrationsRefused == 1)
    }

    @Test func registerSplitByteByByteIsHeldWholeAndStillChecked() throws {
        let harness = try Self.harness()
        let before = harness.toServer.count
        for byte in DBusMessageBuilder.register("node2").bytes { try harness.client([byte]) }
        #expect(harness.toServer.count == before, "part of a refused call reached the server")
        #expect(!harness.isOpen)

        let accepted = try Self.harness()
        let start = accepted.toServer.count
        let call = DBusMessageBuilder.register("node1").bytes
        for byte in call.dropLast() { try accepted.client([byte]) }
        #expect(accepted.toServer.count == start, "a register call passed before it was checked")
        try accepted.client([call.last!])
        #expect(Array(accepted.toServer[start...]) == call)
    }

    @Test func wrongSignatureIsRefused() throws {
        let harness = try Self.harness()
        var call = DBusMessageBuilder.register("node1")
        call.signature = "ss"
        call.body += [0, 0, 0, 0, 0, 0, 0, 0, 0]
        try harness.client(call.bytes)
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("claimed=- ") == true)
        #expect(harness.lines.first?.contains("reason=register call with signature 'ss' instead of 's'") == true)

        let none = try Self.harness()
        var bare = DBusMessageBuilder.register("node1")
        bare.signature = nil
        bare.body = []
        try none.client(bare.bytes)
        #expect(!none.isOpen)
        #expect(none.lines.first?.contains("signature '' instead of 's'") == true)
    }

    @Test func malformedStringIsRefused() throws {
        let harness = try Self.harness()
        var call = DBusMessageBuilder.register("node1")
        call.body[0] = 9
        try harness.client(call.bytes)
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("reason=register call with a malformed argument") == true)
    }

    @Test func callWithoutInterfaceIsCheckedToo() throws {
        let harness = try Self.harness()
        var call = DBusMessageBuilder.call("/org/eclipse/bluechi/internal", nil, "Register")
        call.setStringBody("node2")
        try harness.client(call.bytes)
        #expect(!harness.isOpen)
        #expect(harness.counters.dbus.registrationsRefused == 1)
    }

    @Test func otherCallsPassUnchecked() throws {
        let harness = try Self.harness()
        var other = DBusMessageBuilder.call(
            "/org/eclipse/bluechi/internal", "org.eclipse.bluechi.internal.Controller", "Heartbeat")
        other.setStringBody("node2")
        var reply = DBusMessageBuilder.register("node2")
        reply.type = 2
        reply.fields.append((5, "u", UInt32(1)))
        let stream = other.bytes + reply.bytes
        let before = harness.toServer.count
        try harness.client(stream)
        #expect(Array(harness.toServer[before...]) == stream)
        #expect(harness.isOpen)
        #expect(harness.lines.isEmpty)
    }

    @Test func anotherRegisterMethodIsChecked() throws {
        let method = DBusMethod(path: "/com/example/Hub", interface: "com.example.Hub", member: "Join")
        let harness = try DBusFilterTests.authenticated(
            Self.settings(.cn, method: method), certificate: try Self.certificates.get().node2)
        var bluechi = DBusMessageBuilder.register("node1")
        bluechi.serial = 5
        try harness.client(bluechi.bytes)
        #expect(harness.isOpen, "BlueChi's Register is not the configured method here")
        var join = DBusMessageBuilder.call("/com/example/Hub", "com.example.Hub", "Join", serial: 6)
        join.setStringBody("node1")
        try harness.client(join.bytes)
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("claimed=node1") == true)
    }

    @Test func withoutACertificateNothingIsAllowed() throws {
        let harness = try DBusFilterTests.authenticated(Self.settings(.cn), certificate: nil)
        try harness.client(DBusMessageBuilder.register("node1").bytes)
        #expect(!harness.isOpen)
        #expect(harness.lines.first?.contains("reason=no client certificate to check the name against") == true)
    }

    @Test func withoutARegisterRuleRegisterCallsPassUnread() throws {
        let harness = try DBusFilterTests.authenticated(DBusSettings())
        let call = DBusMessageBuilder.register("anything").bytes
        let before = harness.toServer.count
        // The header and part of the body: all of it passes at once.
        try harness.client(Array(call.dropLast(5)))
        #expect(harness.toServer.count - before == call.count - 5, "a call was held although nothing is checked")
        try harness.client(Array(call.suffix(5)))
        #expect(Array(harness.toServer[before...]) == call)
    }
}
