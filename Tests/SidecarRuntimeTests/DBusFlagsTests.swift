import Foundation
import SidecarConfig
import Testing

@testable import SidecarRuntime

/// `--dbus`, `--dbus-register-name` and `--dbus-register-map` become the same model as `option dbus` and
/// `dbus-register-name` in a file.
@Suite struct DBusFlagsTests {
    static func flags(_ side: ProxyMode) -> TunnelFlags {
        TunnelFlags(
            side: side, listen: side == .forward ? "unix:/run/a.sock" : ":2021",
            connect: [side == .forward ? "m.example:2021" : "unix:/run/b.sock"], cert: "/c.pem", ca: "/ca.pem")
    }

    @Test func withoutDBusTheRelayIsTransparent() throws {
        #expect(try Self.flags(.reverse).configuration().frontends[0].dbus == nil)
    }

    @Test(arguments: [ProxyMode.forward, .reverse])
    func dbusFlagTurnsOnOptionDBus(_ side: ProxyMode) throws {
        var flags = Self.flags(side)
        flags.dbus = true
        let dbus = try #require(try flags.configuration().frontends[0].dbus)
        #expect(dbus == DBusSettings())
    }

    @Test func registerNameOnReverse() throws {
        var flags = Self.flags(.reverse)
        flags.dbusRegisterName = "uri"
        let register = try #require(try flags.configuration().frontends[0].dbus?.registerName)
        #expect(register.rule == .uri)
    }

    @Test func registerNameOnForwardIsAUsageError() {
        var flags = Self.flags(.forward)
        flags.dbusRegisterName = "cn"
        #expect(throws: UsageError.self) { try flags.configuration() }
    }

    @Test func registerMapIsReadAndItsErrorsNameTheLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("map-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("node1 node1 spare\n".utf8).write(to: URL(fileURLWithPath: path))
        var flags = Self.flags(.reverse)
        flags.dbusRegisterName = "map \(path)"
        let register = try #require(try flags.configuration().frontends[0].dbus?.registerName)
        #expect(register.allows("spare", commonNames: ["node1"], dnsNames: [], uris: []))
        try Data("node1\n".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try flags.configuration()
            Issue.record("a map line without a name was accepted")
        } catch let error as UsageError {
            #expect(error.description.contains("\(path):1: error: CN 'node1' has no D-Bus name"))
        }
    }
}
