import Foundation
import Testing

/// The deployment kit agrees with itself: every path named in `systemd/`, `selinux/sidecar.fc` and the
/// `conf.d/` examples is the same path everywhere, and carries the SELinux type the daemon's policy expects.
///
/// Fixed paths (DESIGN §10 and the field issue): binary /usr/bin/sidecar; configuration /etc/sidecar/conf.d
/// (forward) and /etc/sidecar/reverse.d (reverse); certificates /etc/sidecar/certs; runtime /run/sidecar with
/// the agent socket /run/sidecar/agent.sock; reverse TCP port 2021; BlueChi's socket /run/bluechi/bluechi.sock.
struct DeploymentKitTests {
    // MARK: the files

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// `Key=value` settings of a unit file (comments skipped), in order; keys may repeat.
    static func unit(_ name: String) throws -> [(key: String, value: String)] {
        try read("systemd/\(name)").split(separator: "\n").compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.hasPrefix("#"), !text.hasPrefix("["), let equals = text.firstIndex(of: "=") else { return nil }
            return (String(text[..<equals]), String(text[text.index(after: equals)...]))
        }
    }

    static func values(_ key: String, in unit: [(key: String, value: String)]) -> [String] {
        unit.filter { $0.key == key }.map(\.value)
    }

    /// A config file's non-comment lines, split into words.
    static func configLines(_ relativePath: String) throws -> [[String]] {
        try read(relativePath).split(separator: "\n").compactMap { line in
            let text = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            return words.isEmpty ? nil : words
        }
    }

    /// One line of `sidecar.fc`: a path regular expression, and the type it gives.
    struct FileContext {
        var pattern: String
        var type: String
    }

    static func fileContexts() throws -> [FileContext] {
        try read("selinux/sidecar.fc").split(separator: "\n").compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.hasPrefix("#"), !text.isEmpty else { return nil }
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let context = fields.last, let start = context.range(of: "object_r:"),
                let end = context[start.upperBound...].firstIndex(where: { $0 == ":" || $0 == "," })
            else { return nil }
            return FileContext(pattern: String(fields[0]), type: String(context[start.upperBound..<end]))
        }
    }

    /// The type `sidecar.fc` gives `path` (the last matching line wins, as with semanage's ordering for equal
    /// specificity; our patterns do not overlap).
    static func selinuxType(of path: String) throws -> String? {
        try fileContexts().last { context in
            let regex = try NSRegularExpression(pattern: "^(?:\(context.pattern))$")
            return regex.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil
        }?.type
    }

    /// The `-f DIR` argument of a command line.
    static func configDirectory(of commandLine: String) -> String? {
        let words = commandLine.split(separator: " ").map(String.init)
        guard let flag = words.firstIndex(where: { $0 == "-f" || $0 == "--config" }), flag + 1 < words.count else {
            return nil
        }
        return words[flag + 1]
    }

    static let forwardExample = "conf.d/forward/bluechi-agent.cfg"
    static let reverseExample = "conf.d/reverse/bluechi-controller.cfg"

    // MARK: SELinux file contexts against the fixed paths

    @Test(arguments: [
        ("/usr/bin/sidecar", "sidecar_exec_t"),
        ("/etc/sidecar", "sidecar_conf_t"),
        ("/etc/sidecar/conf.d/bluechi-agent.cfg", "sidecar_conf_t"),
        ("/etc/sidecar/reverse.d/bluechi-controller.cfg", "sidecar_conf_t"),
        ("/etc/sidecar/certs/ca.pem", "sidecar_conf_t"),
        ("/etc/sidecar/certs/node1.key", "sidecar_conf_t"),
        ("/run/sidecar", "sidecar_runtime_t"),
        ("/run/sidecar/agent.sock", "sidecar_runtime_t"),
        ("/run/sidecar/stats.sock", "sidecar_runtime_t"),
    ])
    func fileContextsLabelTheFixedPaths(path: String, type: String) throws {
        #expect(try Self.selinuxType(of: path) == type)
    }

    @Test func fileContextsUseOnlyTypesThePolicyDeclares() throws {
        let policy = try Self.read("selinux/sidecar.te")
        for context in try Self.fileContexts() {
            #expect(
                policy.contains("type \(context.type);"), "sidecar.fc uses \(context.type), not declared in sidecar.te")
        }
    }

    // MARK: units against file contexts

    @Test(arguments: ["sidecar.service", "sidecar-reverse.service"])
    func unitsRunTheLabeledBinaryOnLabeledConfiguration(unitName: String) throws {
        let unit = try Self.unit(unitName)
        let commands = Self.values("ExecStart", in: unit) + Self.values("ExecStartPre", in: unit)
        #expect(!Self.values("ExecStart", in: unit).isEmpty)
        for command in commands {
            let binary = String(command.split(separator: " ")[0])
            #expect(binary == "/usr/bin/sidecar", "\(unitName): \(command)")
            #expect(try Self.selinuxType(of: binary) == "sidecar_exec_t")
            let directory = try #require(Self.configDirectory(of: command), "\(unitName): no -f in \(command)")
            #expect(try Self.selinuxType(of: directory) == "sidecar_conf_t", "\(unitName): -f \(directory)")
        }
        let expectedDirectory = unitName == "sidecar.service" ? "/etc/sidecar/conf.d" : "/etc/sidecar/reverse.d"
        #expect(commands.compactMap(Self.configDirectory).allSatisfy { $0 == expectedDirectory })
        for path in Self.values("ReadOnlyPaths", in: unit) {
            #expect(try Self.selinuxType(of: path) == "sidecar_conf_t", "\(unitName): ReadOnlyPaths=\(path)")
        }
        for path in Self.values("ReadWritePaths", in: unit)
            + Self.values("RuntimeDirectory", in: unit).map({
                "/run/\($0)"
            })
        {
            #expect(try Self.selinuxType(of: path) == "sidecar_runtime_t", "\(unitName): \(path)")
        }
    }

    @Test func agentSocketIsTheSameInSocketUnitForwardExampleAndFileContexts() throws {
        let socket = try Self.unit("sidecar.socket")
        let listen = Self.values("ListenStream", in: socket)
        #expect(listen == ["/run/sidecar/agent.sock"])
        #expect(try Self.selinuxType(of: listen[0]) == "sidecar_runtime_t")

        let binds = try Self.configLines(Self.forwardExample).filter { $0.first == "bind" }
        #expect(binds.map { $0[1] } == ["/run/sidecar/agent.sock"])
        // The agent's ControllerAddress in the example's instructions names the same socket.
        #expect(try Self.read(Self.forwardExample).contains("ControllerAddress=unix:path=/run/sidecar/agent.sock"))
    }

    @Test func tmpfilesRuntimeDirectoryIsLabeledRuntime() throws {
        let lines = try Self.configLines("systemd/sidecar.tmpfiles").filter { $0.first == "d" }
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(try Self.selinuxType(of: line[1]) == "sidecar_runtime_t", "tmpfiles: \(line[1])")
        }
    }

    @Test func reversePortIsTheSameInSocketUnitAndBothExamples() throws {
        let socket = try Self.unit("sidecar-reverse.socket")
        let listen = Self.values("ListenStream", in: socket)
        #expect(listen.count == 1)
        let port = try #require(listen.first.flatMap { Int($0.split(separator: ":").last ?? "") })
        #expect(port == 2021)

        let binds = try Self.configLines(Self.reverseExample).filter { $0.first == "bind" }
        #expect(binds.count == 1)
        #expect(binds.first.map { $0[1].split(separator: ":").last.map(String.init) } == "\(port)")

        let servers = try Self.configLines(Self.forwardExample).filter { $0.first == "server" }
        #expect(!servers.isEmpty)
        for server in servers {
            #expect(server[2].hasSuffix(":\(port)"), "forward example server \(server[2])")
        }
    }

    @Test func portTypeInTheInstructionsIsDeclaredByThePolicy() throws {
        let policy = try Self.read("selinux/sidecar.te")
        #expect(policy.contains("type sidecar_port_t;"))
        #expect(policy.contains("corenet_port(sidecar_port_t)"))
        let socketUnit = try Self.read("systemd/sidecar-reverse.socket")
        if socketUnit.contains("semanage port") {
            #expect(socketUnit.contains("semanage port -a -t sidecar_port_t -p tcp 2021"))
        }
    }

    // MARK: conf.d examples against file contexts and BlueChi

    @Test(arguments: [forwardExample, reverseExample])
    func certificatePathsInExamplesAreLabeledConfiguration(example: String) throws {
        let fileKeywords: Set = ["crt", "ca-file", "crl-file", "key"]
        var seen = 0
        for words in try Self.configLines(example) {
            for (index, word) in words.enumerated() where fileKeywords.contains(word) && index + 1 < words.count {
                let path = words[index + 1]
                #expect(path.hasPrefix("/etc/sidecar/certs/"), "\(example): \(word) \(path)")
                #expect(try Self.selinuxType(of: path) == "sidecar_conf_t", "\(example): \(word) \(path)")
                seen += 1
            }
        }
        #expect(seen >= 2, "\(example) names no certificate")
    }

    @Test func reverseExampleHandsConnectionsToBlueChisControllerSocket() throws {
        let servers = try Self.configLines(Self.reverseExample).filter { $0.first == "server" }
        #expect(servers.map { $0[2] } == ["/run/bluechi/bluechi.sock"])
        // Not ours to label: BlueChi's runtime directory keeps the policy's default type.
        #expect(try Self.selinuxType(of: "/run/bluechi/bluechi.sock") == nil)
    }

    /// The instructions written in the examples' comments (`Run it with: sidecar forward -f DIR`, `bind
    /// systemd@NAME`) must name what the units use, or an operator following them gets a broken setup.
    @Test(arguments: [
        (forwardExample, "sidecar.service", "sidecar.socket"),
        (reverseExample, "sidecar-reverse.service", "sidecar-reverse.socket"),
    ])
    func exampleInstructionsNameTheUnitsDirectoryAndSocketName(example: String, service: String, socket: String) throws
    {
        let text = try Self.read(example)
        let unitDirectory = try #require(
            Self.values("ExecStart", in: try Self.unit(service)).compactMap(Self.configDirectory).first)
        for line in text.split(separator: "\n")
        where line.contains("sidecar forward -f") || line.contains("sidecar reverse -f")
            || line.contains("sidecar check -f")
        {
            #expect(Self.configDirectory(of: String(line)) == unitDirectory, "\(example): '\(line)' vs \(service)")
        }
        let fdNames = Self.values("FileDescriptorName", in: try Self.unit(socket))
        for range in text.ranges(of: "systemd@") {
            let name = text[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
            #expect(fdNames.contains(String(name)), "\(example): systemd@\(name), \(socket) names \(fdNames)")
        }
    }
}
