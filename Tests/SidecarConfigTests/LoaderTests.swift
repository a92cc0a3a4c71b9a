import Foundation
import Testing

@testable import SidecarConfig

@Suite("Loading files and directories")
struct LoaderTests {
    @Test func loadsDirectoryInCLocaleOrderWithDefaultsAcrossFiles() throws {
        let directory = try TemporaryDirectory()
        let elsewhere = try TemporaryDirectory()
        try directory.write("B.cfg", "global\n    hard-stop-after 5s\ndefaults\n    timeout connect 7s\n")
        try directory.write("a.cfg", "frontend fe\n    bind :1\n    default_backend be\nbackend be\n    server s h:1\n")
        try elsewhere.write("linked", "backend linked\n    server s h:2\n")
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/c.cfg",
            withDestinationPath: elsewhere.path + "/linked"
        )
        for skipped in ["x.cfg.bak", ".hidden.cfg", "a.cfg.cfg", "notes.txt", "cfg"] {
            try directory.write(skipped, "this is not a configuration\n")
        }
        try FileManager.default.createDirectory(atPath: directory.path + "/sub.cfg", withIntermediateDirectories: false)
        try directory.write("sub.cfg/inner.cfg", "not loaded: no recursion\n")

        let (files, findings) = ConfigLoader.files(in: [directory.path])
        #expect(findings.isEmpty)
        #expect(files.map { URL(fileURLWithPath: $0).lastPathComponent } == ["B.cfg", "a.cfg", "c.cfg"])

        let configuration = try ConfigLoader(environment: [:]).load(paths: [directory.path])
        #expect(configuration.global.hardStopAfter == .seconds(5))
        #expect(configuration.be.timeouts.connect == .seconds(7))
        #expect(configuration.fe.timeouts.connect == .seconds(7))
        #expect(configuration.backend(named: "linked")?.timeouts.connect == .seconds(7))
        #expect(configuration.fe.location == SourceLocation(file: directory.path + "/a.cfg", line: 1))
    }

    @Test func namedDefaultsAcrossFilesWithFrom() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "10-defaults.cfg",
            "defaults slow\n    timeout connect 30s\ndefaults fast\n    timeout connect 1s\n"
        )
        try directory.write(
            "20-proxies.cfg",
            "frontend fe\n    bind :1\n    default_backend be\nbackend be from slow\n    server s h:1\n"
        )
        let configuration = try ConfigLoader(environment: [:]).load(paths: [directory.path])
        #expect(configuration.fe.timeouts.connect == .seconds(1))
        #expect(configuration.be.timeouts.connect == .seconds(30))
    }

    @Test func severalPathsLoadInTheGivenOrder() throws {
        let directory = try TemporaryDirectory()
        try directory.write("z.cfg", "defaults\n    retries 9\n")
        try directory.write("a.cfg", "frontend fe\n    bind :1\n    default_backend be\nbackend be\n    server s h:1\n")
        let configuration = try ConfigLoader(environment: [:]).load(paths: [
            directory.path + "/z.cfg", directory.path + "/a.cfg",
        ])
        #expect(configuration.be.retries == 9)
    }

    @Test func expandsTheInjectedEnvironment() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "a.cfg",
            """
            frontend fe
                bind "${LISTEN-*:2021}" ssl crt "$CERTS/node.pem" verify required ca-file "${CERTS}/ca.pem"
                default_backend be
            backend be
                server s "$BACKEND_SOCKET"

            """
        )
        let configuration = try ConfigLoader(environment: ["CERTS": "/etc/certs", "BACKEND_SOCKET": "/run/b.sock"])
            .load(paths: [directory.path])
        #expect(configuration.bind.address == .tcp(host: "", port: 2021))
        #expect(configuration.bind.tls?.certificateFiles == ["/etc/certs/node.pem"])
        #expect(configuration.bind.tls?.caFile == "/etc/certs/ca.pem")
        #expect(configuration.server.address == .unix(path: "/run/b.sock"))
    }

    @Test func sectionsDoNotContinueIntoTheNextFile() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.cfg", "frontend fe\n    bind :1\n    default_backend be\n")
        try directory.write("b.cfg", "    server s h:1\n")
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader(environment: [:]).load(paths: [directory.path])
        }
        #expect(
            error?.errors.first?.description.hasPrefix(
                "\(directory.path)/b.cfg:1: error: 'server' outside of any section"
            ) == true
        )
    }

    @Test func missingPathsAndEmptyDirectories() throws {
        let directory = try TemporaryDirectory()
        let (files, findings) = ConfigLoader.files(in: [directory.path, directory.path + "/nope.cfg"])
        #expect(files.isEmpty)
        #expect(findings.map(\.severity) == [.warning, .error])
        #expect(findings[1].description == "\(directory.path)/nope.cfg: error: no such file or directory")
    }

    @Test(arguments: [
        ("a.cfg", true), ("B.cfg", true), ("00-x.cfg", true), (".hidden.cfg", false), ("a.cfg.cfg", false),
        ("x.cfg.bak", false), ("a.cfgx", false), ("cfg", false), (".cfg", false), ("a.CFG", false),
    ])
    func haproxyFileNameRule(_ name: String, _ loaded: Bool) {
        #expect(ConfigLoader.isConfigurationFileName(name) == loaded)
    }
}
