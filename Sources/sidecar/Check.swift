import ArgumentParser
import SidecarConfig
import SidecarRuntime

/// `sidecar check`: validate a configuration without starting anything, like `haproxy -c`.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration (syntax, model, certificates) without starting anything.",
        discussion: """
            Prints every finding as `file:line: error|warning: message`, then a one-line verdict.
            Exit status 0 when valid, 1 when not. Certificates, keys, CA files and CRLs are loaded as at start,
            and server host names are resolved, so a configuration that passes will start.

            Example:
              sidecar check -f /etc/sidecar/conf.d --mode forward
            """
    )

    @Option(
        name: [.customShort("f"), .customLong("config")],
        help: ArgumentHelp(
            "Configuration file or conf.d directory; repeatable, loaded in order.", valueName: "path"))
    var configPaths: [String]

    @Option(help: "Also check that the configuration fits this mode: forward or reverse.")
    var mode: ProxyMode?

    @Flag(help: "Check syntax and model only; do not load certificate files or resolve host names.")
    var syntaxOnly = false

    func run() throws {
        let result = CheckRunner.check(paths: configPaths, mode: mode, loadFiles: !syntaxOnly)
        for line in result.lines { print(line) }
        if !result.isValid { throw ExitCode(1) }
    }
}

extension ProxyMode: ExpressibleByArgument {}
