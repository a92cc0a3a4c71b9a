import Foundation
import Testing

@testable import SidecarConfig

/// The two HAProxy configurations from BlueChi's "securing multi-node" guide (issue 3), paths substituted.
enum BlueChiConfigs {
    static let controller = """
        frontend hirte-manager
            bind *:2021 ssl crt /etc/sidecar/cert verify required ca-file /etc/sidecar/ca-certificate.pem
            default_backend hirte-manager
        backend hirte-manager
            balance roundrobin
            server hirte-manager /hirte-manager.sock

        """

    static let agent = """
        frontend hirte-agent
            bind /run/sidecar/hirte-agent.sock
            default_backend hirte-agent
        backend hirte-agent
            balance roundrobin
            server hirte-agent 192.0.2.10:2021 ssl crt /etc/sidecar/cert verify required ca-file /etc/sidecar/ca-certificate.pem

        """
}

/// The repository's `conf.d` directory, found from this file's path.
let confDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("conf.d").path

@Suite("BlueChi configurations")
struct BlueChiTests {
    @Test func controllerConfigRunsUnchangedInReverseMode() throws {
        let configuration = try ConfigLoader(environment: [:]).load(
            text: BlueChiConfigs.controller,
            file: "reverse.cfg"
        )
        #expect(configuration.frontends.map(\.name) == ["hirte-manager"])
        #expect(configuration.backends.map(\.name) == ["hirte-manager"])
        #expect(configuration.fe.defaultBackend == "hirte-manager")
        let bind = configuration.fe.binds[0]
        #expect(bind.address == .tcp(host: "", port: 2021))
        #expect(bind.tls?.verify == .required)
        #expect(bind.tls?.certificateFiles == ["/etc/sidecar/cert"])
        #expect(bind.tls?.caFile == "/etc/sidecar/ca-certificate.pem")
        #expect(configuration.backends[0].servers[0].address == .unix(path: "/hirte-manager.sock"))
        #expect(configuration.validate(for: .reverse).isEmpty)
        #expect(configuration.validate(for: .forward).count == 2)
        // An HAProxy user's configuration keeps its meaning: bytes relayed as they come, no D-Bus awareness.
        #expect(configuration.fe.dbus == nil)
    }

    @Test func agentConfigRunsUnchangedInForwardMode() throws {
        let configuration = try ConfigLoader(environment: [:]).load(text: BlueChiConfigs.agent, file: "forward.cfg")
        #expect(configuration.frontends.map(\.name) == ["hirte-agent"])
        #expect(configuration.backends.map(\.name) == ["hirte-agent"])
        #expect(configuration.fe.binds[0].address == .unix(path: "/run/sidecar/hirte-agent.sock"))
        #expect(configuration.fe.binds[0].tls == nil)
        let server = configuration.backends[0].servers[0]
        #expect(server.address == .tcp(host: "192.0.2.10", port: 2021))
        #expect(server.tls?.verify == .required)
        #expect(configuration.validate(for: .forward).isEmpty)
        #expect(configuration.validate(for: .reverse).count == 2)
        #expect(configuration.fe.dbus == nil)
        // The guide's agent line checks the chain but not the name: worth a warning, not an error.
        #expect(
            configuration.warnings.contains { $0.message.contains("certificate chain verified, peer name not checked") }
        )
    }

    @Test(arguments: [("forward", ProxyMode.forward), ("reverse", ProxyMode.reverse)])
    func shippedExampleLoadsWithoutFindings(_ directory: String, _ mode: ProxyMode) throws {
        let (configuration, diagnostics) = ConfigLoader(environment: [:]).diagnose(paths: [
            confDirectory + "/" + directory
        ])
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let model = try #require(configuration)
        #expect(model.validate(for: mode).isEmpty)
        #expect(model.frontends.count == 1 && model.backends.count == 1)
        #expect(model.fe.name == model.backends[0].name)
        #expect(model.fe.timeouts.client == nil && model.backends[0].timeouts.server == nil)
        #expect(model.backends[0].timeouts.connect == .seconds(5))
        #expect(model.global.hardStopAfter == .seconds(30))
    }

    @Test func shippedForwardExampleHasTheAgentSettings() throws {
        let model = try ConfigLoader(environment: [:]).load(paths: [confDirectory + "/forward"])
        #expect(model.bind.address == .unix(path: "/run/sidecar/agent.sock"))
        #expect(model.bind.unixSocket.mode == 0o660)
        // The agent's D-Bus stream is followed, with the default limits; names are checked on the other side.
        #expect(model.fe.dbus == DBusSettings())
        let server = model.backends[0].servers[0]
        #expect(server.address == .tcp(host: "manager.example.com", port: 2021))
        #expect(server.check)
        #expect(
            server.tls
                == TLSSettings(
                    certificateFiles: ["/etc/sidecar/certs/node.pem"],
                    caFile: "/etc/sidecar/certs/ca.pem",
                    verify: .required,
                    serverName: "manager.example.com",
                    verifyHost: "manager.example.com"
                )
        )
    }

    @Test func shippedReverseExampleHasTheControllerSettings() throws {
        let model = try ConfigLoader(environment: [:]).load(paths: [confDirectory + "/reverse"])
        #expect(model.bind.address == .tcp(host: "", port: 2021))
        #expect(
            model.bind.tls
                == TLSSettings(
                    certificateFiles: ["/etc/sidecar/certs/controller.pem"],
                    caFile: "/etc/sidecar/certs/ca.pem",
                    verify: .required
                )
        )
        #expect(model.backends[0].servers[0].address == .unix(path: "/run/bluechi/bluechi.sock"))
        // An agent registers only under its certificate's CN, the name `sidecar certs leaf --cn NODENAME` sets.
        let dbus = try #require(model.fe.dbus)
        #expect(dbus.registerName?.rule == .cn)
        #expect(dbus.registerMethod == .blueChiRegister)
        #expect(dbus.maxMessageSize == DBusSettings.defaultMaxMessageSize)
    }
}
