import Foundation
import Testing

/// The job itself: real D-Bus clients reach a real `dbus-daemon` through forward → TLS → reverse.
@Suite struct DBusTests {
    /// The three D-Bus client implementations; they authenticate differently (sd-bus pipelines its whole
    /// SASL exchange in one write, libdbus and GDBus converse step by step).
    enum Client: String, CaseIterable, CustomTestStringConvertible {
        case busctl  // sd-bus
        case dbusSend = "dbus-send"  // libdbus
        case gdbus  // GDBus

        var testDescription: String { rawValue }

        var package: String {
            switch self {
            case .busctl: "systemd"
            case .dbusSend: "dbus-bin"
            case .gdbus: "libglib2.0-bin"
            }
        }

        /// The arguments that call `org.freedesktop.DBus.GetId` on the bus at `socketPath`.
        /// dbus-send needs `--bus=` (which registers with Hello), not `--address=` (peer-to-peer, no Hello).
        func getIdArguments(socketPath: String) -> [String] {
            let address = "unix:path=" + socketPath
            switch self {
            case .busctl:
                return [
                    "--address=" + address, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                    "org.freedesktop.DBus", "GetId",
                ]
            case .dbusSend:
                return [
                    "--bus=" + address, "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.GetId",
                ]
            case .gdbus:
                return [
                    "call", "--address", address, "--dest", "org.freedesktop.DBus", "--object-path",
                    "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.GetId",
                ]
            }
        }
    }

    @Test(arguments: Client.allCases)
    func clientThroughTunnelGetsTheDaemonsOwnBusId(_ client: Client) async throws {
        try await withScenario { scenario in
            let tool = try Harness.tool(client.rawValue, package: client.package)
            let dbusSend = try Harness.tool("dbus-send", package: "dbus-bin")
            let busSocket = try await scenario.startDBusDaemon()
            let pki = try await scenario.makePKI()
            let reverse = try await scenario.startReverse(pki: pki, backend: busSocket)
            let forward = try await scenario.startForward(pki: pki, port: reverse.port, serverName: "localhost")

            let direct = try await scenario.run(
                "direct",
                dbusSend,
                Client.dbusSend.getIdArguments(socketPath: busSocket)
            )
            let expected = try #require(Self.busId(in: direct.stdout), "\(direct.transcript)")

            let tunnelled = try await scenario.run(
                client.rawValue,
                tool,
                client.getIdArguments(socketPath: forward.socketPath)
            )
            #expect(tunnelled.exitStatus == 0, "\(scenario.transcripts)")
            #expect(Self.busId(in: tunnelled.stdout) == expected, "\(scenario.transcripts)")

            let closed = try await reverse.process.waitForLine(containing: ["connection closed", "/CN=node1"])
            #expect(!closed.contains("bytes_in=0 "), "\(closed)")
        }
    }

    static let awareCases: [(DBusPlacement, Client)] = DBusPlacement.aware.flatMap { placement in
        Client.allCases.map { (placement, $0) }
    }

    /// With `option dbus` on both ends, or on one end and HAProxy on the other, the three libraries
    /// authenticate (their fd negotiation answered with ERROR) and reach the daemon.
    @Test(arguments: awareCases)
    func clientThroughDBusAwareTunnelGetsTheDaemonsOwnBusId(_ placement: DBusPlacement, _ client: Client)
        async throws
    {
        try await withScenario { scenario in
            let tool = try Harness.tool(client.rawValue, package: client.package)
            let dbusSend = try Harness.tool("dbus-send", package: "dbus-bin")
            let busSocket = try await scenario.startDBusDaemon()
            let pki = try await scenario.makePKI()
            let tunnel = try await scenario.startTunnel(pki: pki, backend: busSocket, placement: placement)

            let direct = try await scenario.run(
                "direct", dbusSend, Client.dbusSend.getIdArguments(socketPath: busSocket))
            let expected = try #require(Self.busId(in: direct.stdout), "\(direct.transcript)")
            let tunnelled = try await scenario.run(
                client.rawValue, tool, client.getIdArguments(socketPath: tunnel.socketPath))
            #expect(tunnelled.exitStatus == 0, "\(scenario.transcripts)")
            #expect(Self.busId(in: tunnelled.stdout) == expected, "\(scenario.transcripts)")
            for sidecar in [tunnel.forward, tunnel.reverse].compactMap({ $0 }) {
                let closed = try await sidecar.waitForLine(containing: ["connection closed"])
                #expect(!closed.contains("bytes_in=0 "), "\(closed)")
                #expect(!sidecar.stderr.contains("D-Bus stream closed"), "\(sidecar.transcript)")
            }
        }
    }

    /// The 32 hex digits of a bus id in a tool's output (`s "…"`, `string "…"` or `('…',)`).
    static func busId(in output: String) -> String? {
        output.firstMatch(of: #/[0-9a-f]{32}/#).map { String($0.output) }
    }
}

extension Scenario {
    /// Starts a private `dbus-daemon` on a Unix socket in the scenario's directory and returns the socket's
    /// path once it exists. Its config allows EXTERNAL and ANONYMOUS authentication and any user, so clients
    /// that arrive through a proxy running as another uid are accepted (DESIGN.md §10).
    func startDBusDaemon() async throws -> String {
        let daemon = try Harness.tool("dbus-daemon", package: "dbus-daemon")
        let socketPath = path("bus.sock")
        let config = path("bus.conf")
        try Self.dbusConfig(listeningOn: socketPath).write(toFile: config, atomically: true, encoding: .utf8)
        let process = try start(
            "dbus-daemon",
            daemon,
            [
                "--config-file=" + config, "--nofork", "--nopidfile", "--nosyslog",
                "--print-address=1",
            ]
        )
        try await process.waitForOutput("unix:path=")
        try await Harness.waitUntil("\(socketPath) exists", details: process.transcript) {
            Self.isSocket(socketPath)
        }
        return socketPath
    }

    /// A bus configuration for tests and the demo: a private bus on `socketPath` that anyone may use.
    static func dbusConfig(listeningOn socketPath: String) -> String {
        """
        <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
         "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
        <busconfig>
          <type>custom</type>
          <listen>unix:path=\(socketPath)</listen>
          <auth>EXTERNAL</auth>
          <auth>ANONYMOUS</auth>
          <allow_anonymous/>
          <policy context="default">
            <allow user="*"/>
            <allow send_destination="*" eavesdrop="true"/>
            <allow eavesdrop="true"/>
            <allow own="*"/>
          </policy>
        </busconfig>

        """
    }
}
