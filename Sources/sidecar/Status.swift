import ArgumentParser
import SidecarRuntime
import SidecarSystemd

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `sidecar status`: what a running sidecar is doing, read from its stats socket.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show frontends, backends, servers and certificates of a running sidecar (from its stats socket).",
        discussion: """
            Asks the runtime API (`stats socket` in the global section; level operator or admin, for the \
            certificates) for `show stat` and `show ssl cert`, and prints one table per kind: frontends with their \
            sessions and bytes, each backend with its servers (state, health check result, sessions, bytes), and \
            the certificates in use with the days left before they expire.

              sidecar status --socket /run/sidecar/admin.sock
              sidecar status --json | jq '.backends[] | select(.status != "UP")'

            Exit status: 0 all is well; 1 the stats socket could not be queried; 2 a backend has no server up or \
            a certificate has expired (the PROBLEM lines, or `problems` in JSON, say which).
            """
    )

    @Option(help: ArgumentHelp("The stats socket to ask.", valueName: "path"))
    var socket = "/run/sidecar/admin.sock"

    @Flag(help: "Print JSON for scripts instead of tables.")
    var json = false

    func run() throws {
        let report: StatusReport
        let socket = self.socket
        do {
            report = try EventLoopTask.wait { try await StatusReport.fetch(from: socket) }
        } catch {
            StandardError.write("sidecar status: \(error)\n")
            throw ExitCode(1)
        }
        print(json ? try report.json() : report.table, terminator: json ? "\n" : "")
        if !report.problems.isEmpty { throw ExitCode(2) }
    }
}
