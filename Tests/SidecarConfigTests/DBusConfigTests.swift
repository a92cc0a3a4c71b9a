import Foundation
import Testing

@testable import SidecarConfig

/// `option dbus`, `dbus-max-message-size`, `dbus-register-name`, `dbus-register-method` and the checks
/// `sidecar check` makes on them.
@Suite struct DBusConfigTests {
    /// A reverse-side configuration: a TLS bind with `verify required`, a Unix server, and `lines` in the
    /// frontend (from line 4 on, after the `defaults` lines).
    static func reverse(_ lines: [String], defaults: [String] = [], verify: String = "required") -> String {
        var text = "defaults\n    timeout connect 5s\n" + defaults.map { "    \($0)\n" }.joined()
        text += "frontend fe\n"
        text += lines.map { "    \($0)\n" }.joined()
        text += "    bind :2021 ssl crt /x.pem ca-file /ca.pem verify \(verify)\n    default_backend be\n"
        text += "backend be\n    server s /run/s.sock\n"
        return text
    }

    @Test func optionDBusIsOffByDefault() {
        let (configuration, diagnostics) = parse(Self.reverse([]))
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty)
        #expect(configuration.fe.dbus == nil)
    }

    @Test func optionDBusTurnsOnTheDefaults() throws {
        let (configuration, diagnostics) = parse(Self.reverse(["option dbus"]))
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let dbus = try #require(configuration.fe.dbus)
        #expect(dbus.maxMessageSize == 8 * 1024 * 1024)
        #expect(dbus.registerName == nil)
        #expect(dbus.registerMethod == .blueChiRegister)
    }

    @Test func optionDBusInDefaultsIsInheritedAndNoOptionTurnsItOff() {
        let inherited = parse(Self.reverse([], defaults: ["option dbus", "dbus-max-message-size 64k"]))
        #expect(inherited.configuration.fe.dbus?.maxMessageSize == 65536)
        let off = parse(Self.reverse(["no option dbus"], defaults: ["option dbus"]))
        #expect(off.configuration.fe.dbus == nil)
    }

    @Test func optionDBusInABackendIsAnError() {
        let found = errors(in: "backend be\n    option dbus\n    server s /run/s.sock\n")
        #expect(found.first?.location.line == 2)
        #expect(found.first?.message.contains("'option dbus' is not allowed in a 'backend' section") == true)
    }

    @Test(arguments: [("1m", 1_048_576), ("512k", 524_288), ("4096", 4096), ("128m", 134_217_728)])
    func maxMessageSizeTakesHAProxySizes(_ text: String, _ bytes: Int) {
        let (configuration, _) = parse(Self.reverse(["option dbus", "dbus-max-message-size \(text)"]))
        #expect(configuration.fe.dbus?.maxMessageSize == bytes)
    }

    @Test(arguments: ["", "lots", "129m", "8", "-1k", "1t"])
    func badMaxMessageSizeIsAnErrorWithTheLine(_ text: String) {
        let found = errors(in: Self.reverse(["option dbus", "dbus-max-message-size \(text)"]))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.location == SourceLocation(file: "test.cfg", line: 5))
    }

    @Test(arguments: [("cn", DBusRegisterName.Rule.cn), ("dns", .dns), ("uri", .uri)])
    func registerNameRules(_ word: String, _ rule: DBusRegisterName.Rule) throws {
        let (configuration, diagnostics) = parse(Self.reverse(["option dbus", "dbus-register-name \(word)"]))
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let register = try #require(configuration.fe.dbus?.registerName)
        #expect(register.rule == rule)
        #expect(register.location.line == 5)
        #expect(register.description == word)
    }

    @Test func unknownRegisterRuleSuggestsOne() {
        let found = errors(in: Self.reverse(["option dbus", "dbus-register-name cm"]))
        #expect(
            found.map(\.description) == [
                "test.cfg:5: error: 'dbus-register-name' expects cn, dns, uri or map FILE, not 'cm'; did you mean 'cn'?"
            ])
    }

    @Test func registerNameWithoutOptionDBusIsAnError() {
        let found = errors(in: Self.reverse(["dbus-register-name cn"]))
        #expect(found.count == 1)
        #expect(found.first?.location.line == 4)
        #expect(found.first?.message.contains("needs 'option dbus'") == true)
    }

    @Test func registerNameOnAForwardSideFrontendIsAnError() {
        let text = """
            frontend fe
                option dbus
                dbus-register-name cn
                bind /run/agent.sock
                default_backend be
            backend be
                server s 10.0.0.1:2021 ssl ca-file /ca.pem verifyhost m
            """
        let found = errors(in: text)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.location.line == 3)
        #expect(found.first?.message.contains("bind '/run/agent.sock' is plain (forward side)") == true)
    }

    @Test(arguments: ["optional", "none"])
    func registerNameNeedsVerifyRequired(_ verify: String) {
        let found = errors(in: Self.reverse(["option dbus", "dbus-register-name cn"], verify: verify))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.location.line == 5)
        #expect(found.first?.message.contains("needs 'verify required' on bind") == true)
    }

    @Test func registerNameIsNotAllowedInDefaults() {
        let found = errors(in: Self.reverse([], defaults: ["dbus-register-name cn"]))
        #expect(found.first?.location.line == 3)
        #expect(found.first?.message.contains("not allowed in a 'defaults' section") == true)
    }

    @Test func registerMethodNamesAnotherCall() throws {
        let (configuration, _) = parse(
            Self.reverse([
                "option dbus", "dbus-register-name cn", "dbus-register-method /com/example/Hub com.example.Hub Join",
            ]))
        let method = try #require(configuration.fe.dbus?.registerMethod)
        #expect(method == DBusMethod(path: "/com/example/Hub", interface: "com.example.Hub", member: "Join"))
    }

    @Test(arguments: ["dbus-register-method /a b", "dbus-register-method a b c", "dbus-register-method /a b c d"])
    func malformedRegisterMethodIsAnError(_ line: String) {
        let found = errors(in: Self.reverse(["option dbus", "dbus-register-name cn", line]))
        #expect(found.count == 1)
        #expect(found.first?.location.line == 6)
    }

    @Test func registerMethodWithoutRegisterNameWarns() {
        let (_, diagnostics) = parse(Self.reverse(["option dbus", "dbus-register-method /a b c"]))
        #expect(diagnostics.contains { $0.severity == .warning && $0.message.contains("has no effect") })
    }

    // MARK: map files

    @Test func mapFileIsReadRelativeToTheConfiguration() throws {
        let directory = try TemporaryDirectory()
        try directory.write("names.map", "# node certificates\nnode1 node1 node1-spare\n\n  node2\tnode2\n")
        try directory.write("a.cfg", Self.reverse(["option dbus", "dbus-register-name map names.map"]))
        let check = ConfigCheck(paths: [directory.path], environment: [:])
        #expect(check.isValid, "\(check.lines)")
        let register = try #require(check.configuration?.fe.dbus?.registerName)
        guard case .map(let file, let names) = register.rule else {
            Issue.record("not a map rule: \(register.rule)")
            return
        }
        #expect(file == directory.path + "/names.map")
        #expect(names.entries == ["node1": ["node1", "node1-spare"], "node2": ["node2"]])
        #expect(register.allows("node1-spare", commonNames: ["node1"], dnsNames: [], uris: []))
        #expect(!register.allows("node2", commonNames: ["node1"], dnsNames: [], uris: []))
    }

    @Test func missingMapFileIsAnErrorAtTheConfigurationLine() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.cfg", Self.reverse(["option dbus", "dbus-register-name map /nonexistent/names.map"]))
        let check = ConfigCheck(paths: [directory.path], environment: [:])
        #expect(!check.isValid)
        #expect(
            check.lines.first
                == "\(directory.path)/a.cfg:5: error: cannot read D-Bus name map '/nonexistent/names.map': "
                + "No such file or directory")
    }

    @Test func malformedMapFileIsAnErrorAtTheMapLine() throws {
        let directory = try TemporaryDirectory()
        try directory.write("names.map", "node1 node1\nnode2\nnode1 other\n")
        try directory.write("a.cfg", Self.reverse(["option dbus", "dbus-register-name map names.map"]))
        let check = ConfigCheck(paths: [directory.path], environment: [:])
        #expect(!check.isValid)
        #expect(
            Array(check.lines.prefix(2)) == [
                "\(directory.path)/names.map:2: error: CN 'node2' has no D-Bus name: write 'CN name [name...]'",
                "\(directory.path)/names.map:3: error: CN 'node1' is listed again (first at line 1); put all its "
                    + "names on one line",
            ])
    }

    @Test func badMapFileDoesNotHideTheSectionsOtherErrors() throws {
        let directory = try TemporaryDirectory()
        try directory.write("names.map", "node2\n")
        try directory.write("a.cfg", Self.reverse(["dbus-register-name map names.map"], verify: "optional"))
        let check = ConfigCheck(paths: [directory.path], environment: [:])
        #expect(check.lines.count == 4, "\(check.lines)")
        #expect(check.lines[0].hasPrefix("\(directory.path)/names.map:1: error: CN 'node2' has no D-Bus name"))
        #expect(check.lines[1].contains("a.cfg:4: error: 'dbus-register-name' needs 'option dbus'"))
        #expect(check.lines[2].contains("a.cfg:4: error: 'dbus-register-name' needs 'verify required'"))
    }

    // MARK: the rules

    @Test func rulesCompareTheClaimWithTheCertificate() {
        func allows(_ rule: DBusRegisterName.Rule, _ name: String) -> Bool {
            DBusRegisterName(rule: rule, location: .commandLine("t")).allows(
                name, commonNames: ["node1"], dnsNames: ["Node1.Example.com"],
                uris: ["spiffe://example.org/bluechi/node3", "https://example.org/"])
        }
        #expect(allows(.cn, "node1"))
        #expect(!allows(.cn, "node2"))
        #expect(!allows(.cn, "Node1"))
        #expect(allows(.dns, "node1.example.com"))
        #expect(!allows(.dns, "node1"))
        #expect(allows(.uri, "node3"))
        #expect(!allows(.uri, "bluechi"))
        #expect(!allows(.uri, ""))
        #expect(!allows(.uri, "example.org"))
    }

    @Test func lastPathSegmentOfURIs() {
        #expect(DBusRegisterName.lastPathSegment(of: "spiffe://example.org/bluechi/node1") == "node1")
        #expect(DBusRegisterName.lastPathSegment(of: "spiffe://example.org/node1?x=1") == "node1")
        #expect(DBusRegisterName.lastPathSegment(of: "spiffe://example.org") == nil)
        #expect(DBusRegisterName.lastPathSegment(of: "spiffe://example.org/a/") == nil)
        #expect(DBusRegisterName.lastPathSegment(of: "node1") == nil)
    }
}
