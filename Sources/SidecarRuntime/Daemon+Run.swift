import Logging
import SidecarConfig

#if canImport(Glibc)
import Glibc
#endif

/// Runs a daemon for the subcommands: builds the configuration, serves, and turns any failure into one
/// `error` log line and exit status 1, with no stack trace.
public func runDaemon(
    logger: Logger, threads: Int = System.coreCount, configuration build: () throws -> Configuration
) async throws {
    do {
        let configuration = try build()
        try await Daemon(configuration: configuration, threads: threads, logger: logger).run()
    } catch {
        logger.error("cannot start: \(error)")
        exit(1)
    }
}

import NIOCore
