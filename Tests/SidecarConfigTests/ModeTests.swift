import Testing

@testable import SidecarConfig

/// A configuration, a mode, and the errors (`file:line: error: message` substrings) the mode check gives.
struct ModeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var mode: ProxyMode
    var expected: [String]

    var testDescription: String { name }
}

@Suite("Mode shape check")
struct ModeTests {
    static let cases: [ModeCase] = [
        ModeCase(
            name: "controller config in forward mode",
            text: BlueChiConfigs.controller,
            mode: .forward,
            expected: [
                "reverse.cfg:2: error: forward mode needs plain listeners: bind '*:2021' has 'ssl'",
                "reverse.cfg:6: error: forward mode needs 'ssl' on server 'hirte-manager/hirte-manager'",
            ]
        ),
        ModeCase(
            name: "agent config in reverse mode",
            text: BlueChiConfigs.agent,
            mode: .reverse,
            expected: [
                "reverse.cfg:2: error: reverse mode needs 'ssl' on bind '/run/sidecar/hirte-agent.sock'",
                "reverse.cfg:6: error: reverse mode needs plain servers: server 'hirte-agent/hirte-agent' has 'ssl'",
            ]
        ),
        ModeCase(
            name: "TLS bind without verify in reverse mode",
            text:
                "frontend fe\n    timeout client 1s\n    bind *:2021 ssl crt /c.pem\n    default_backend be\nbackend be\n    server s /b.sock\n",
            mode: .reverse,
            expected: [
                "reverse.cfg:3: error: reverse mode needs 'verify required' on TLS bind '*:2021' (a reverse sidecar "
                    + "without client verification would let anyone reach the backend)"
            ]
        ),
        ModeCase(
            name: "verify optional in reverse mode",
            text:
                "frontend fe\n    bind *:2021 ssl crt /c.pem verify optional ca-file /ca.pem\n    default_backend be\nbackend be\n    server s /b.sock\n",
            mode: .reverse,
            expected: ["reverse.cfg:2: error: reverse mode needs 'verify required' on TLS bind '*:2021'"]
        ),
        ModeCase(
            name: "an unused backend is not checked",
            text: BlueChiConfigs.controller + "backend spare\n    server s h:1 ssl verify none\n",
            mode: .reverse,
            expected: []
        ),
        ModeCase(
            name: "every bind of a frontend is checked",
            text: BlueChiConfigs.agent.replacingOccurrences(
                of: "    default_backend",
                with: "    bind :9 ssl crt /c.pem\n    default_backend"
            ),
            mode: .forward,
            expected: ["reverse.cfg:3: error: forward mode needs plain listeners: bind '*:9' has 'ssl'"]
        ),
    ]

    @Test(arguments: cases)
    func refusesTheWrongShape(_ testCase: ModeCase) throws {
        let configuration = try ConfigLoader(environment: [:]).load(text: testCase.text, file: "reverse.cfg")
        let found = configuration.validate(for: testCase.mode).map(\.description)
        #expect(found.count == testCase.expected.count, "\(found)")
        for (line, expected) in zip(found, testCase.expected) {
            #expect(line.hasPrefix(expected), "\(line)")
        }
    }
}
