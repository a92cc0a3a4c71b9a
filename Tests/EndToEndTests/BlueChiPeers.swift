import Foundation
import Testing

/// The D-Bus peers in `Tests/EndToEndTests/Peers/`: a stand-in for BlueChi's controller on GDBus and clients
/// of its `Register(s)` call on sd-bus, GDBus, libdbus, and one written from the specification byte by byte.
/// None of them shares code with sidecar: the libraries are the distribution's.
enum BlueChiPeers {
    static let directory = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Peers")

    /// The distribution's Python (`/usr/bin/python3`, not a `pyenv` shim earlier on `PATH`), which has the
    /// Debian modules the peers import. A missing interpreter or module fails the test with the packages to
    /// install.
    static func python() throws -> URL {
        let python = URL(fileURLWithPath: "/usr/bin/python3")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw HarnessError("/usr/bin/python3 is not installed: run 'apt-get install \(packages)'")
        }
        return python
    }

    static let packages = "python3 python3-gi gir1.2-glib-2.0 python3-dbus"

    static func script(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// BlueChi's agent connection looks like each of these on the wire.
    enum Client: String, CaseIterable, CustomTestStringConvertible {
        /// libsystemd's sd-bus, as bluechi-agent uses it: pipelined authentication with NEGOTIATE_UNIX_FD.
        case sdBus = "sd-bus"
        /// `busctl call` (sd-bus as a bus client: Hello first, which BlueChi's controller answers too).
        case busctl
        /// `gdbus call --address` (GDBus as a bus client: Hello, then Introspect, then the call).
        case gdbusCall = "gdbus call"
        /// GDBus (python3-gi), step by step.
        case gdbus = "GDBus"
        /// libdbus (python3-dbus), step by step.
        case libdbus
        /// sd-bus's authentication and the first call in one write.
        case wirePipelined = "wire-pipelined"
        /// libdbus's authentication (`AUTH EXTERNAL <hex uid>`), one line per round trip.
        case wireStepwise = "wire-stepwise"

        var testDescription: String { rawValue }

        /// Whether the client prints how its own side ended the fd negotiation (`can-send-fd=`, `unix-fd=`,
        /// `negotiate ...`); libdbus does not say.
        var reportsNegotiation: Bool { ![.libdbus, .busctl, .gdbusCall].contains(self) }

        /// Whether the client can make more than one call on one connection (the command-line tools make one).
        var callsRepeatedly: Bool { self != .busctl && self != .gdbusCall }
    }
}

extension Scenario {
    /// Starts the controller stand-in on `name` in the scenario's directory, and waits until it listens.
    func startBlueChiController(_ name: String = "bluechi.sock") async throws -> BlueChiController {
        let socketPath = path(name)
        let recordPath = path(name + ".record")
        FileManager.default.createFile(atPath: recordPath, contents: nil)
        let process = try start(
            "bluechi-controller",
            try BlueChiPeers.python(),
            [BlueChiPeers.script("bluechi-controller.py"), socketPath, recordPath]
        )
        try await process.waitForOutput("listening")
        return BlueChiController(process: process, socketPath: socketPath, recordPath: recordPath)
    }

    /// Compiles `sdbus-register.c` against the system's libsystemd into the scenario's directory (once).
    func sdBusRegisterTool() async throws -> URL {
        let binary = path("sdbus-register")
        if FileManager.default.isExecutableFile(atPath: binary) { return URL(fileURLWithPath: binary) }
        let compiler = try Harness.tool("cc", package: "gcc")
        let compiled = try await run(
            "cc",
            compiler,
            [
                "-O1", "-Wall", "-Wextra", "-Werror", "-o", binary, BlueChiPeers.script("sdbus-register.c"),
                "-lsystemd",
            ]
        )
        guard compiled.exitStatus == 0 else {
            throw HarnessError(
                "cannot build sdbus-register (apt-get install gcc libsystemd-dev)\n\(compiled.transcript)")
        }
        return URL(fileURLWithPath: binary)
    }

    /// Runs `client` against the Unix socket `socketPath`: one connection, `Register(name)` for each name in
    /// order. `wireOptions` go to the specification client only (`--big-endian`, `--signature`, `--send-fd`).
    func register(
        _ client: BlueChiPeers.Client,
        at socketPath: String,
        names: [String],
        wireOptions: [String] = []
    ) async throws -> ChildProcess {
        let address = "unix:path=" + socketPath
        if !client.callsRepeatedly && names.count != 1 {
            throw HarnessError("\(client.rawValue) makes one call per connection, not \(names.count)")
        }
        switch client {
        case .busctl:
            return try await runTool(
                try Harness.tool("busctl", package: "systemd"), registering: names[0],
                [
                    "--address=" + address, "call", "org.eclipse.bluechi", "/org/eclipse/bluechi/internal",
                    "org.eclipse.bluechi.internal.Controller", "Register", "s", names[0],
                ])
        case .gdbusCall:
            return try await runTool(
                try Harness.tool("gdbus", package: "libglib2.0-bin"), registering: names[0],
                [
                    "call", "--address", address, "--dest", "org.eclipse.bluechi", "--object-path",
                    "/org/eclipse/bluechi/internal", "--method", "org.eclipse.bluechi.internal.Controller.Register",
                    names[0],
                ])
        case .sdBus:
            return try await run("sdbus-register", try await sdBusRegisterTool(), [address] + names)
        case .gdbus, .libdbus:
            return try await run(
                client.rawValue,
                try BlueChiPeers.python(),
                [BlueChiPeers.script("library-register.py"), client == .gdbus ? "gdbus" : "libdbus", address] + names
            )
        case .wirePipelined, .wireStepwise:
            let stepwise = client == .wireStepwise ? ["--stepwise"] : []
            return try await run(
                client.rawValue,
                try BlueChiPeers.python(),
                [BlueChiPeers.script("dbus-wire-client.py"), socketPath] + stepwise + wireOptions + names
            )
        }
    }
}

extension Scenario {
    /// Runs a command-line D-Bus tool through `sh`, which prints `registered NAME` after the tool succeeded, as
    /// the other clients do.
    fileprivate func runTool(_ tool: URL, registering name: String, _ arguments: [String]) async throws
        -> ChildProcess
    {
        try await run(
            tool.lastPathComponent,
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", #"name=$1; shift; "$@" && echo "registered $name""#, "sh", name, tool.path] + arguments
        )
    }
}

extension ChildProcess {
    /// The names the client printed as `registered NAME`: calls the controller answered.
    var registeredNames: [String] {
        stdout.split(separator: "\n").compactMap { line in
            line.hasPrefix("registered ") ? String(line.dropFirst("registered ".count)) : nil
        }
    }

    /// How the client says the fd negotiation ended: true (agreed), false (refused), nil (it does not say).
    var agreedToPassDescriptors: Bool? {
        let output = stdout
        if output.contains("can-send-fd=1") || output.contains("unix-fd=True") || output.contains("negotiate AGREE") {
            return true
        }
        if output.contains("can-send-fd=0") || output.contains("unix-fd=False") || output.contains("negotiate ERROR") {
            return false
        }
        return nil
    }
}
