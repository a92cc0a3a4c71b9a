import Testing

@testable import SidecarConfig

@Suite("sidecar check output")
struct CheckTests {
    @Test func validConfigurationPrintsTheVerdict() {
        let check = ConfigCheck(paths: [confDirectory + "/forward"], environment: [:])
        #expect(check.isValid)
        #expect(check.lines == ["configuration valid: 1 frontend, 1 backend, 0 warnings"])
        #expect(check.configuration != nil)
    }

    @Test func warningsArePrintedBeforeAValidVerdict() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.cfg", BlueChiConfigs.agent)
        let check = ConfigCheck(paths: [directory.path], environment: [:])
        #expect(check.isValid)
        #expect(check.lines.last == "configuration valid: 1 frontend, 1 backend, 3 warnings")
        #expect(
            check.lines.dropLast().allSatisfy { $0.hasPrefix(directory.path + "/a.cfg:") && $0.contains(": warning: ") }
        )
    }

    @Test func invalidConfigurationListsEveryErrorThenTheVerdict() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.cfg", "global\n    daemon\n    chroott /x\nfrontend fe\n    mode http\n    bind :1\n")
        let check = ConfigCheck(paths: [directory.path], environment: [:])
        #expect(!check.isValid)
        #expect(check.configuration == nil)
        #expect(
            check.lines == [
                "\(directory.path)/a.cfg:2: warning: 'daemon' ignored: sidecar runs in the foreground under systemd",
                "\(directory.path)/a.cfg:3: error: unknown keyword 'chroott' in 'global' section; did you mean 'chroot'?",
                "\(directory.path)/a.cfg:5: error: 'mode http' is not supported: sidecar is a TCP-only proxy ('mode tcp')",
                "\(directory.path)/a.cfg:4: warning: frontend 'fe' has no 'default_backend': its connections will be closed",
                "\(directory.path)/a.cfg:4: warning: missing timeouts for frontend 'fe': no 'timeout' is set, so nothing "
                    + "bounds a stuck connection (D-Bus links may stay idle for days, but set at least 'timeout connect' "
                    + "in 'defaults')",
                "configuration invalid: 2 errors, 3 warnings",
            ]
        )
    }

    @Test func modeMismatchMakesTheCheckFail() {
        let check = ConfigCheck(paths: [confDirectory + "/forward"], mode: .reverse, environment: [:])
        #expect(!check.isValid)
        #expect(check.lines.count == 3)
        #expect(check.lines.last == "configuration invalid: 2 errors, 0 warnings")
    }
}
