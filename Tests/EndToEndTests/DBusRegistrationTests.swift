import Foundation
import Testing

/// Node identity (`dbus-register-name`) and fd passing (`option dbus`) with real D-Bus peers: a GDBus server
/// that exports BlueChi's `Register(s)` and records every call it receives, and clients on sd-bus, GDBus,
/// libdbus and a byte-by-byte one, through forward → TLS → reverse.
@Suite struct DBusRegistrationTests {
    typealias Client = BlueChiPeers.Client

    /// The PKI of these tests: `makePKI`'s tunnel ends (`manager`, `node1`), plus the agent `node2`, an agent
    /// named only by a SPIFFE URI SAN, and one with DNS SANs.
    static func makePKI(_ scenario: Scenario) async throws -> PKI {
        let pki = try await scenario.makePKI()
        try await scenario.makeLeaf(in: pki, cn: "node2")
        try await scenario.makeLeaf(in: pki, cn: "agent-uri", extra: ["--uri", "spiffe://example.org/bluechi/node7"])
        try await scenario.makeLeaf(in: pki, cn: "agent-dns", extra: ["--dns", "node8", "--dns", "node8-standby"])
        return pki
    }

    /// The usual set-up: the controller stand-in behind a tap, reached through a tunnel with option dbus on both
    /// sides whose reverse side checks registrations against the client certificate's CN (`node1`).
    static func startGuardedController(_ scenario: Scenario) async throws
        -> (controller: BlueChiController, tap: BackendTap, tunnel: DBusTunnel)
    {
        let pki = try await makePKI(scenario)
        let controller = try await scenario.startBlueChiController()
        let tap = try await scenario.startBackendTap(inFrontOf: controller.socketPath)
        let tunnel = try await scenario.startTunnel(
            pki: pki, backend: tap.socketPath, placement: .bothSides,
            reverseArguments: ["--dbus-register-name", "cn"])
        return (controller, tap, tunnel)
    }

    // MARK: The certificate's name, and no other

    @Test(arguments: Client.allCases)
    func nodeRegistersUnderItsCertificatesNameAndNoOther(_ client: Client) async throws {
        try await withScenario { scenario in
            let (controller, tap, tunnel) = try await Self.startGuardedController(scenario)
            let reverse = try #require(tunnel.reverse)

            let honest = try await scenario.register(client, at: tunnel.socketPath, names: ["node1"])
            #expect(honest.exitStatus == 0, "\(scenario.transcripts)")
            #expect(honest.registeredNames == ["node1"], "\(honest.transcript)")
            #expect(controller.registeredNames == ["node1"], "\(controller.record)")
            try await reverse.waitForLine(
                containing: ["info D-Bus registration accepted", "name=node1", "subject=\"/CN=node1\""])

            let impostor = try await scenario.register(client, at: tunnel.socketPath, names: ["node2"])
            #expect(impostor.exitStatus != 0, "\(impostor.transcript)")
            #expect(impostor.registeredNames.isEmpty, "\(impostor.transcript)")
            try await reverse.waitForLine(
                containing: ["warning D-Bus registration refused", "claimed=node2", "rule=cn", "subject=\"/CN=node1\""])
            try await reverse.waitForLine(
                containing: ["connection closed", "end=\"D-Bus registration refused\"", "termination=PD"])
            try await tap.waitForEndedConnections(2)
            #expect(tap.bytesToBackend.contains("node1"))
            #expect(!tap.bytesToBackend.contains("node2"), "\(tap.bytesToBackend.debugDescription)")
            #expect(controller.registeredNames == ["node1"], "\(controller.record)")
            #expect(!controller.record.contains { $0.contains("node2") }, "\(controller.record)")

            // fd passing was negotiated away on both connections, on both ends.
            // (GDBus does not report a connection that ends right after authenticating: the refused one may
            // be missing here.)
            #expect(!controller.connections.isEmpty)
            #expect(controller.connections.allSatisfy { $0 == "connection unix-fd=False" }, "\(controller.record)")
            if client.reportsNegotiation {
                #expect(honest.agreedToPassDescriptors == false, "\(honest.transcript)")
            }
        }
    }

    /// A mixed deployment: HAProxy on the agent's end (BlueChi's guide), sidecar on the controller's end.
    @Test func namesAreCheckedBehindAnHAProxyAgentSide() async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tap = try await scenario.startBackendTap(inFrontOf: controller.socketPath)
            let tunnel = try await scenario.startTunnel(
                pki: pki, backend: tap.socketPath, placement: .reverseOnly,
                reverseArguments: ["--dbus-register-name", "cn"])

            let honest = try await scenario.register(.sdBus, at: tunnel.socketPath, names: ["node1"])
            #expect(honest.exitStatus == 0, "\(scenario.transcripts)")
            #expect(honest.agreedToPassDescriptors == false, "\(honest.transcript)")
            let impostor = try await scenario.register(.sdBus, at: tunnel.socketPath, names: ["node2"])
            #expect(impostor.exitStatus != 0, "\(impostor.transcript)")
            try await tunnel.reverse!.waitForLine(containing: ["D-Bus registration refused", "claimed=node2"])
            try await tap.waitForEndedConnections(2)
            #expect(!tap.bytesToBackend.contains("node2"), "\(tap.bytesToBackend.debugDescription)")
            #expect(controller.registeredNames == ["node1"], "\(controller.record)")
        }
    }

    /// The README's end-to-end check (`sidecar probe unix:AGENT_SOCKET`) through the shipped settings.
    @Test func probeOfTheAgentSocketGetsTheControllersAnswer() async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tunnel = try await scenario.startTunnel(
                pki: pki, backend: controller.socketPath, placement: .bothSides,
                reverseArguments: ["--dbus-register-name", "cn"])
            let probe = try await scenario.runSidecar(["probe", "unix:" + tunnel.socketPath])
            #expect(probe.exitStatus == 0, "\(scenario.transcripts)")
            #expect(probe.stdout.contains("REJECTED EXTERNAL"), "\(probe.transcript)")
            #expect(probe.stdout.contains("OK: the tunnel works end to end"), "\(probe.transcript)")
            #expect(!tunnel.forward!.stderr.contains("D-Bus stream closed"), "\(scenario.transcripts)")
        }
    }

    @Test(arguments: [Client.sdBus, .gdbus, .libdbus, .wirePipelined])
    func secondRegisterUnderAnotherNameOnTheSameConnectionIsCutOff(_ client: Client) async throws {
        try await withScenario { scenario in
            let (controller, tap, tunnel) = try await Self.startGuardedController(scenario)

            let agent = try await scenario.register(client, at: tunnel.socketPath, names: ["node1", "node1", "node2"])
            #expect(agent.exitStatus != 0, "\(agent.transcript)")
            #expect(agent.registeredNames == ["node1", "node1"], "\(agent.transcript)")
            try await tunnel.reverse!.waitForLine(containing: ["D-Bus registration refused", "claimed=node2"])
            try await tap.waitForEndedConnections(1)
            #expect(!tap.bytesToBackend.contains("node2"), "\(tap.bytesToBackend.debugDescription)")
            #expect(controller.registeredNames == ["node1", "node1"], "\(controller.record)")
            #expect(controller.calls.count == 2, "\(controller.record)")
        }
    }

    /// Several calls in one write: the impostor's call and all after it are never forwarded, in either byte
    /// order. The calls before it were accepted (and logged so) and reach the controller, as they do when they
    /// arrive in separate reads. Their replies may or may not reach the agent before the connection is cut.
    @Test(arguments: [[], ["--big-endian"]])
    func callsSentInOneBurstAreCheckedOneByOne(_ byteOrder: [String]) async throws {
        try await withScenario { scenario in
            let (controller, tap, tunnel) = try await Self.startGuardedController(scenario)

            let agent = try await scenario.register(
                .wireStepwise, at: tunnel.socketPath, names: ["node1", "node1", "node2", "node1"],
                wireOptions: ["--burst"] + byteOrder)
            #expect(agent.exitStatus != 0, "\(agent.transcript)")
            try await tunnel.reverse!.waitForLine(containing: ["D-Bus registration refused", "claimed=node2"])
            try await tap.waitForEndedConnections(1)
            #expect(!tap.bytesToBackend.contains("node2"), "\(tap.bytesToBackend.debugDescription)")
            // The tap is the witness that both accepted calls left the sidecar; the controller may or may not
            // dispatch them before the connection, cut right after, closes under it.
            let sent = tap.bytesToBackend.components(separatedBy: "node1").count - 1
            #expect(sent == 2, "\(tap.bytesToBackend.debugDescription)")
            #expect(controller.registeredNames.allSatisfy { $0 == "node1" }, "\(controller.record)")
            #expect(agent.registeredNames.allSatisfy { $0 == "node1" }, "\(agent.transcript)")
        }
    }

    /// A registered agent's connection outlives a reload (SIGHUP) and is still checked after it.
    @Test func establishedConnectionKeepsWorkingAcrossAReload() async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let reverse = try await scenario.startConfiguredReverse(
                pki: pki, backend: controller.socketPath, frontend: ["option dbus", "dbus-register-name cn"])
            let forward = try await scenario.startForward(
                pki: pki, port: reverse.port, serverName: "localhost", extraArguments: ["--dbus"])
            let agent = try scenario.start(
                "GDBus",
                try BlueChiPeers.python(),
                [
                    BlueChiPeers.script("library-register.py"), "--wait-between", "gdbus",
                    "unix:path=" + forward.socketPath, "node1", "node1", "node2",
                ],
                withStdin: true)
            try await agent.waitForLine(containing: ["waiting"], onStdout: true)

            kill(reverse.process.pid, SIGHUP)
            try await reverse.process.waitForLine(containing: ["info reloaded"])
            kill(forward.process.pid, SIGHUP)
            try await forward.process.waitForLine(containing: ["info reloaded"])
            try agent.write("go\n")
            try await Harness.waitUntil("the agent registered twice", details: agent.transcript) {
                agent.registeredNames.count == 2
            }
            try agent.write("go\n")
            try await agent.waitForExit()
            #expect(agent.exitStatus != 0, "\(agent.transcript)")
            #expect(agent.registeredNames == ["node1", "node1"], "\(agent.transcript)")
            try await reverse.process.waitForLine(containing: ["D-Bus registration refused", "claimed=node2"])
            #expect(controller.registeredNames == ["node1", "node1"], "\(controller.record)")
            #expect(controller.connections.count == 1, "\(controller.record)")
        }
    }

    @Test func registerWithAnotherSignatureIsRefused() async throws {
        try await withScenario { scenario in
            let (controller, tap, tunnel) = try await Self.startGuardedController(scenario)

            // The body is still the string "node1": only the declared signature is wrong.
            let agent = try await scenario.register(
                .wireStepwise, at: tunnel.socketPath, names: ["node1"], wireOptions: ["--signature", "sv"])
            #expect(agent.exitStatus != 0, "\(agent.transcript)")
            #expect(agent.stdout.contains("closed node1"), "\(agent.transcript)")
            try await tunnel.reverse!.waitForLine(containing: ["D-Bus registration refused", "subject=\"/CN=node1\""])
            try await tap.waitForEndedConnections(1)
            #expect(!tap.bytesToBackend.contains("Register"), "\(tap.bytesToBackend.debugDescription)")
            #expect(controller.calls.isEmpty, "\(controller.record)")
        }
    }

    @Test func bigEndianRegistrationsAreCheckedLikeLittleEndianOnes() async throws {
        try await withScenario { scenario in
            let (controller, tap, tunnel) = try await Self.startGuardedController(scenario)

            let honest = try await scenario.register(
                .wirePipelined, at: tunnel.socketPath, names: ["node1"], wireOptions: ["--big-endian"])
            #expect(honest.exitStatus == 0, "\(scenario.transcripts)")
            let impostor = try await scenario.register(
                .wireStepwise, at: tunnel.socketPath, names: ["node2"], wireOptions: ["--big-endian"])
            #expect(impostor.exitStatus != 0 && impostor.stdout.contains("closed node2"), "\(impostor.transcript)")
            try await tap.waitForEndedConnections(2)
            #expect(!tap.bytesToBackend.contains("node2"), "\(tap.bytesToBackend.debugDescription)")
            #expect(controller.registeredNames == ["node1"], "\(controller.record)")
        }
    }

    // MARK: The other rules

    /// How the reverse side is told which names a certificate allows, and an agent for each.
    enum Rule: String, CaseIterable, CustomTestStringConvertible {
        /// `--dbus-register-name uri`: the URI SAN's last path segment (a SPIFFE ID's workload name).
        case uri
        /// `dbus-register-name dns` in a configuration file: any DNS SAN.
        case dns
        /// `--dbus-register-map FILE`: the names the file lists for the certificate's CN.
        case map

        var testDescription: String { rawValue }

        var certificate: String {
            switch self {
            case .uri: "agent-uri"
            case .dns: "agent-dns"
            case .map: "node1"
            }
        }

        /// A name the rule allows for `certificate`, and one it does not (the CN, for uri and dns).
        var allowed: String {
            switch self {
            case .uri: "node7"
            case .dns: "node8-standby"
            case .map: "node1-standby"
            }
        }

        var refused: String {
            switch self {
            case .uri: "agent-uri"
            case .dns: "agent-dns"
            case .map: "node2"
            }
        }
    }

    @Test(arguments: Rule.allCases)
    func eachRuleAllowsItsNamesAndRefusesOthers(_ rule: Rule) async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tap = try await scenario.startBackendTap(inFrontOf: controller.socketPath)
            let socketPath: String
            let reverse: ChildProcess
            switch rule {
            case .uri, .map:
                var arguments = ["--dbus-register-name", "uri"]
                if rule == .map {
                    let map = scenario.path("nodes.map")
                    try "# CN  names\nnode1 node1 node1-standby\nnode2 node2\n"
                        .write(toFile: map, atomically: true, encoding: .utf8)
                    arguments = ["--dbus-register-map", map]
                }
                let tunnel = try await scenario.startTunnel(
                    pki: pki, backend: tap.socketPath, placement: .bothSides,
                    clientCertificate: rule.certificate, reverseArguments: arguments)
                (socketPath, reverse) = (tunnel.socketPath, tunnel.reverse!)
            case .dns:
                let configured = try await scenario.startConfiguredReverse(
                    pki: pki, backend: tap.socketPath, frontend: ["option dbus", "dbus-register-name dns"])
                let forward = try await scenario.startForward(
                    pki: pki, port: configured.port, certificate: rule.certificate, serverName: "localhost",
                    extraArguments: ["--dbus"])
                (socketPath, reverse) = (forward.socketPath, configured.process)
            }

            let honest = try await scenario.register(.sdBus, at: socketPath, names: [rule.allowed])
            #expect(honest.exitStatus == 0, "\(scenario.transcripts)")
            #expect(honest.registeredNames == [rule.allowed])
            try await reverse.waitForLine(containing: ["D-Bus registration accepted", "name=\(rule.allowed)"])

            let impostor = try await scenario.register(.sdBus, at: socketPath, names: [rule.refused])
            #expect(impostor.exitStatus != 0, "\(impostor.transcript)")
            try await reverse.waitForLine(
                containing: [
                    "D-Bus registration refused", "claimed=\(rule.refused)",
                    rule == .map ? "rule=\"map \(scenario.path("nodes.map"))\"" : "rule=\(rule.rawValue)",
                ])
            try await tap.waitForEndedConnections(2)
            #expect(!tap.bytesToBackend.contains(rule.refused), "\(tap.bytesToBackend.debugDescription)")
            #expect(controller.registeredNames == [rule.allowed], "\(controller.record)")
        }
    }

    @Test func mapFileIsReadAgainOnReload() async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tap = try await scenario.startBackendTap(inFrontOf: controller.socketPath)
            let map = scenario.path("nodes.map")
            try "node1 node1\n".write(toFile: map, atomically: true, encoding: .utf8)
            let reverse = try await scenario.startConfiguredReverse(
                pki: pki, backend: tap.socketPath, frontend: ["option dbus", "dbus-register-name map \(map)"])
            let forward = try await scenario.startForward(
                pki: pki, port: reverse.port, serverName: "localhost", extraArguments: ["--dbus"])

            let before = try await scenario.register(.sdBus, at: forward.socketPath, names: ["node1-new"])
            #expect(before.exitStatus != 0, "\(before.transcript)")
            try await reverse.process.waitForLine(containing: ["D-Bus registration refused", "claimed=node1-new"])

            try "node1 node1 node1-new\n".write(toFile: map, atomically: true, encoding: .utf8)
            kill(reverse.process.pid, SIGHUP)
            try await reverse.process.waitForLine(containing: ["info reloaded"])
            let after = try await scenario.register(.sdBus, at: forward.socketPath, names: ["node1-new"])
            #expect(after.exitStatus == 0, "\(scenario.transcripts)")
            try await tap.waitForEndedConnections(2)
            #expect(controller.registeredNames == ["node1-new"], "\(controller.record)")

            // A map that no longer parses is refused at reload, naming file and line, and the old one stays.
            try "node1 node1 node1-new\nnode2\n".write(toFile: map, atomically: true, encoding: .utf8)
            kill(reverse.process.pid, SIGHUP)
            try await reverse.process.waitForLine(containing: ["\(map):2"])
            try await reverse.process.waitForLine(containing: ["still serving the previous configuration"])
            let kept = try await scenario.register(.sdBus, at: forward.socketPath, names: ["node1-new"])
            #expect(kept.exitStatus == 0, "\(scenario.transcripts)")
        }
    }

    // MARK: fd passing negotiated away

    /// Without `--dbus` on either end the controller agrees to pass descriptors through the tunnel, though
    /// none can cross TCP (the defect `option dbus` removes): the other tests' `unix-fd=False` means something.
    @Test func withoutOptionDBusBothEndsAgreeToPassDescriptors() async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tap = try await scenario.startBackendTap(inFrontOf: controller.socketPath)
            let tunnel = try await scenario.startTunnel(
                pki: pki, backend: tap.socketPath, placement: .neither)
            let agent = try await scenario.register(.sdBus, at: tunnel.socketPath, names: ["node1"])
            #expect(agent.exitStatus == 0, "\(scenario.transcripts)")
            #expect(agent.agreedToPassDescriptors == true, "\(agent.transcript)")
            #expect(controller.connections == ["connection unix-fd=True"])
        }
    }

    static let negotiationCases: [(DBusPlacement, Client)] = DBusPlacement.aware.flatMap { placement in
        [Client.sdBus, .gdbus, .libdbus, .wirePipelined, .wireStepwise].map { (placement, $0) }
    }

    @Test(arguments: negotiationCases)
    func descriptorPassingIsRefusedWhicheverSideFollowsDBus(_ placement: DBusPlacement, _ client: Client)
        async throws
    {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tap = try await scenario.startBackendTap(inFrontOf: controller.socketPath)
            let tunnel = try await scenario.startTunnel(
                pki: pki, backend: tap.socketPath, placement: placement)
            let agent = try await scenario.register(client, at: tunnel.socketPath, names: ["node1", "node2"])
            #expect(agent.exitStatus == 0, "\(scenario.transcripts)")
            #expect(agent.registeredNames == ["node1", "node2"], "\(agent.transcript)")
            if client.reportsNegotiation {
                #expect(agent.agreedToPassDescriptors == false, "\(agent.transcript)")
            }
            if client == .wirePipelined || client == .wireStepwise {
                // ERROR comes exactly where the server's answer would have: right after its OK line.
                let sasl = agent.stdout.split(separator: "\n").filter { $0.hasPrefix("sasl ") }
                let ok = try #require(sasl.firstIndex { $0.hasPrefix("sasl OK ") }, "\(agent.transcript)")
                #expect(sasl.count == ok + 2 && sasl[ok + 1].hasPrefix("sasl ERROR"), "\(agent.transcript)")
            }
            #expect(controller.connections == ["connection unix-fd=False"], "\(controller.record)")
        }
    }

    @Test(arguments: [DBusPlacement.bothSides, .forwardOnly])
    func descriptorSentAnywayClosesOnlyThatConnectionAndLeaksNothing(_ placement: DBusPlacement) async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tap = try await scenario.startBackendTap(inFrontOf: controller.socketPath)
            let tunnel = try await scenario.startTunnel(
                pki: pki, backend: tap.socketPath, placement: placement)
            let forward = try #require(tunnel.forward)
            // A client that stays connected, half-way through its authentication, through everything below.
            let steady = try UnixSocketClient(path: tunnel.socketPath)
            try steady.send("\0AUTH\r\n")
            try await steady.receive(until: "REJECTED ")
            let baseline = openDescriptorCount(of: forward.pid)

            for round in 1...3 {
                // The call declares UNIX_FDS=1 and a descriptor rides along with SCM_RIGHTS.
                let sender = try await scenario.register(
                    .wireStepwise, at: tunnel.socketPath, names: ["node1"], wireOptions: ["--send-fd"])
                #expect(sender.exitStatus != 0, "round \(round): \(sender.transcript)")
                #expect(sender.stdout.contains("negotiate ERROR"), "\(sender.transcript)")
                #expect(sender.stdout.contains("closed node1"), "\(sender.transcript)")
            }
            try await forward.waitForLine(containing: ["warning D-Bus stream closed", "from=client"])
            try await forward.waitForLine(containing: ["connection closed", "D-Bus protocol error", "termination=PD"])
            try await Harness.waitUntil(
                "the forward sidecar holds \(baseline) descriptors again",
                details: "now \(openDescriptorCount(of: forward.pid)), baseline \(baseline)"
            ) { openDescriptorCount(of: forward.pid) == baseline }
            try await tap.waitForEndedConnections(3)
            #expect(!tap.bytesToBackend.contains("Register"), "\(tap.bytesToBackend.debugDescription)")
            #expect(controller.calls.isEmpty, "\(controller.record)")

            // The proxy carries on: the waiting connection and a new one both work.
            let uid = Array(String(getuid()).utf8).map { String(format: "%02x", $0) }.joined()
            try steady.send("AUTH EXTERNAL \(uid)\r\n")
            try await steady.receive(until: "OK ")
            let after = try await scenario.register(.sdBus, at: tunnel.socketPath, names: ["node1"])
            #expect(after.exitStatus == 0, "\(scenario.transcripts)")
            #expect(forward.isRunning)
            steady.close()
        }
    }

    /// A descriptor passed with SCM_RIGHTS but not declared in the message: the kernel closes it when sidecar
    /// reads the bytes (README, D-Bus awareness), the call itself is valid and passes, and the forward sidecar
    /// holds no more descriptors than before.
    @Test func undeclaredDescriptorIsDroppedAndTheCallPasses() async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tunnel = try await scenario.startTunnel(
                pki: pki, backend: controller.socketPath, placement: .bothSides,
                reverseArguments: ["--dbus-register-name", "cn"])
            let forward = try #require(tunnel.forward)
            let warm = try await scenario.register(.wireStepwise, at: tunnel.socketPath, names: ["node1"])
            #expect(warm.exitStatus == 0, "\(scenario.transcripts)")
            try await forward.waitForLine(containing: ["connection closed"])
            let baseline = openDescriptorCount(of: forward.pid)

            for client in [Client.wireStepwise, .wirePipelined] {
                let sender = try await scenario.register(
                    client, at: tunnel.socketPath, names: ["node1", "node1"], wireOptions: ["--send-fd-undeclared"])
                #expect(sender.exitStatus == 0, "\(scenario.transcripts)")
                #expect(sender.registeredNames == ["node1", "node1"], "\(sender.transcript)")
            }
            try await Harness.waitUntil(
                "the forward sidecar holds \(baseline) descriptors again",
                details: "now \(openDescriptorCount(of: forward.pid)), baseline \(baseline)"
            ) { openDescriptorCount(of: forward.pid) == baseline }
            #expect(controller.registeredNames == Array(repeating: "node1", count: 5), "\(controller.record)")
            #expect(!forward.stderr.contains("D-Bus stream closed"), "\(forward.transcript)")
        }
    }

    /// `dbus-max-message-size` with GDBus as the sender: a message under the limit passes whole; one over it
    /// closes the connection, and the log line names the limit and the certificate that sent it.
    @Test func messageOverTheSizeLimitClosesTheConnectionNamingTheSender() async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let reverse = try await scenario.startConfiguredReverse(
                pki: pki, backend: controller.socketPath, frontend: ["option dbus", "dbus-max-message-size 64k"])
            let forward = try await scenario.startForward(pki: pki, port: reverse.port, serverName: "localhost")

            let small = String(repeating: "a", count: 60_000)
            let fits = try await scenario.register(.gdbus, at: forward.socketPath, names: [small])
            #expect(fits.exitStatus == 0, "\(scenario.transcripts)")
            #expect(controller.registeredNames == [small])

            let large = String(repeating: "b", count: 70_000)
            let tooLarge = try await scenario.register(.gdbus, at: forward.socketPath, names: [large])
            #expect(tooLarge.exitStatus != 0, "\(tooLarge.transcript)")
            let line = try await reverse.process.waitForLine(containing: ["warning D-Bus stream closed", "from=client"])
            #expect(line.contains("(dbus-max-message-size is 65536)"), "\(line)")
            #expect(line.contains("subject=\"/CN=node1\""), "\(line)")
            #expect(controller.registeredNames == [small], "\(controller.record)")
        }
    }

    // MARK: What the operator sees

    @Test func metricsAndShowStatCountRegistrationsRefusalsAndFdNegotiations() async throws {
        try await withScenario { scenario in
            let pki = try await Self.makePKI(scenario)
            let controller = try await scenario.startBlueChiController()
            let tap = try await scenario.startBackendTap(inFrontOf: controller.socketPath)
            let reverseMetrics = try Harness.freePort()
            let stats = scenario.path("reverse-admin.sock")
            let reverse = try await scenario.startConfiguredReverse(
                pki: pki, backend: tap.socketPath,
                global: ["metrics-bind 127.0.0.1:\(reverseMetrics)", "stats socket \(stats) mode 600 level admin"],
                frontend: ["option dbus", "dbus-register-name cn"])
            // The agent's side, from a configuration too: the fd negotiations are refused there.
            let forwardMetrics = try Harness.freePort()
            let agentSocket = scenario.path("agent.sock")
            try FileManager.default.createDirectory(atPath: scenario.path("conf.d"), withIntermediateDirectories: true)
            try """
            global
                metrics-bind 127.0.0.1:\(forwardMetrics)
            frontend agent
                bind \(agentSocket)
                option dbus
                default_backend manager
            backend manager
                server manager 127.0.0.1:\(reverse.port) ssl crt \(pki.certificate("node1")) ca-file \(pki.ca) verifyhost localhost

            """.write(toFile: scenario.path("conf.d/agent.cfg"), atomically: true, encoding: .utf8)
            let forward = try scenario.start(
                "forward", try Harness.sidecarBinary(), ["forward", "-f", scenario.path("conf.d"), "--threads", "1"])
            try await forward.waitForLine(containing: ["info ready"])

            #expect(try await scenario.register(.sdBus, at: agentSocket, names: ["node1"]).exitStatus == 0)
            #expect(try await scenario.register(.gdbus, at: agentSocket, names: ["node2"]).exitStatus != 0)
            #expect(try await scenario.register(.wirePipelined, at: agentSocket, names: ["node9"]).exitStatus != 0)
            try await tap.waitForEndedConnections(3)

            let accepted = try await reverse.process.waitForLine(containing: ["info D-Bus registration accepted"])
            for field in ["name=node1", "subject=\"/CN=node1\"", "frontend=controller", "peer=127.0.0.1:"] {
                #expect(accepted.contains(field), "\(accepted)")
            }
            let refused = try await reverse.process.waitForLine(
                containing: ["warning D-Bus registration refused", "claimed=node2"])
            for field in ["rule=cn", "subject=\"/CN=node1\"", "reason=", "frontend=controller", "peer=127.0.0.1:"] {
                #expect(refused.contains(field), "\(refused)")
            }

            let metrics = try await scenario.scrapeMetrics(port: reverseMetrics)
            func sample(_ name: String) -> Double? { Scenario.sample(name, frontend: "controller", in: metrics) }
            #expect(sample("sidecar_dbus_registrations_accepted_total") == 1, "\(metrics)")
            #expect(sample("sidecar_dbus_registrations_refused_total") == 2, "\(metrics)")
            #expect(sample("sidecar_dbus_protocol_errors_total") == 0, "\(metrics)")
            // The forward side answered NEGOTIATE_UNIX_FD itself: the reverse side never saw one.
            #expect(sample("sidecar_dbus_unix_fd_negotiations_refused_total") == 0, "\(metrics)")

            let agentMetrics = try await scenario.scrapeMetrics(port: forwardMetrics)
            #expect(
                Scenario.sample("sidecar_dbus_unix_fd_negotiations_refused_total", frontend: "agent", in: agentMetrics)
                    == 3, "\(agentMetrics)")
            #expect(
                Scenario.sample("sidecar_dbus_protocol_errors_total", frontend: "agent", in: agentMetrics) == 0,
                "\(agentMetrics)")

            let admin = try UnixSocketClient(path: stats)
            try admin.send("show stat\n")
            let table = String(decoding: try await admin.receiveUntilClosed(), as: UTF8.self)
            let lines = table.split(separator: "\n")
            let header = try #require(lines.first?.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false))
            let row = try #require(lines.first { $0.hasPrefix("controller,FRONTEND,") }, "\(table)")
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            func column(_ name: String) -> Substring? { header.firstIndex(of: Substring(name)).map { fields[$0] } }
            #expect(column("dbus_reg_acc") == "1", "\(table)")
            #expect(column("dbus_reg_ref") == "2", "\(table)")
            #expect(column("dbus_err") == "0", "\(table)")
            #expect(column("dbus_fd_ref") == "0", "\(table)")
        }
    }
}
