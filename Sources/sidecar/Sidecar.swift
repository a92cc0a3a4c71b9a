import ArgumentParser
import Logging
import NIOCore
import SidecarRuntime

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `sidecar`: a double-proxy mTLS sidecar for Unix-socket protocols such as D-Bus.
///
/// Every command is synchronous (`ParsableCommand`), on purpose: an async `main` runs on Swift's global
/// executor, which on Linux starts libdispatch worker threads, and those call `setpriority(2)`, which the
/// units' `SystemCallFilter=~@resources` punishes with SIGSYS. `forward` and `reverse` run their async code on
/// their own event loops (`runDaemon`), `status` and `probe` on NIO's (`EventLoopTask`).
@main
struct Sidecar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar",
        abstract: "Carry a Unix-socket protocol (D-Bus) between hosts over mutual TLS.",
        discussion: """
            On the agent node, `sidecar forward` listens on a local Unix socket and connects out over TCP with TLS
            and a client certificate. On the manager node, `sidecar reverse` listens on TCP, requires a client
            certificate from your CA, and hands each connection to the local Unix socket.
            """,
        version: BuildInfo.report,
        subcommands: [Forward.self, Reverse.self, Check.self, Certs.self, Probe.self, Status.self]
    )
}

/// Options every serving subcommand shares.
struct ServeOptions: ParsableArguments {
    @Option(
        help:
            "Log level: trace, debug, info, notice, warning, error or critical (default: $SIDECAR_LOG_LEVEL, else info)."
    )
    var logLevel: Logger.Level =
        ProcessInfo.processInfo.environment["SIDECAR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

    @Option(
        help:
            "Event loop threads (default: $SIDECAR_THREADS, else the configuration's nbthread, else one per CPU core).")
    var threads: Int?

    /// `--threads`, else `$SIDECAR_THREADS` (at least 1), else nil: the configuration's `nbthread` decides, or
    /// one per core.
    var eventLoopThreads: Int? {
        threads ?? ProcessInfo.processInfo.environment["SIDECAR_THREADS"].flatMap(Int.init).map { max($0, 1) }
    }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func makeLogger() -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { LineLogHandler(label: $0, level: level) }
        return Logger(label: "sidecar")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `--allow-cn`, `--allow-dns`, `--allow-uri`, `--allow-ip`: which peer certificates the tunnel accepts.
struct AllowOptions: ParsableArguments {
    @Option(
        name: .customLong("allow-cn"),
        help: "Accept only peer certificates with one of these subject CNs (comma-separated; repeatable).")
    var commonNames: [String] = []

    @Option(
        name: .customLong("allow-dns"), help: "...or a SAN DNS name in this list (a leading '*.' matches one label).")
    var dnsNames: [String] = []

    @Option(
        name: .customLong("allow-uri"), help: "...or a SAN URI in this list (a '*' path segment matches one segment).")
    var uris: [String] = []

    @Option(
        name: .customLong("allow-ip"), help: "...or a SAN IP address in this list of addresses and CIDR blocks.")
    var ipAddresses: [String] = []

    var isEmpty: Bool { commonNames.isEmpty && dnsNames.isEmpty && uris.isEmpty && ipAddresses.isEmpty }

    /// Adds the lists to `flags`.
    func apply(to flags: inout TunnelFlags) throws {
        try flags.allow(cn: commonNames, dns: dnsNames, uri: uris, ip: ipAddresses)
    }
}
