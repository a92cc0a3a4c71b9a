import Logging
import NIOCore
import SidecarConfig

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a daemon for the subcommands: loads the configuration, serves, and turns any failure into `error`
/// log lines (one per configuration finding) and exit status 1, with no stack trace.
public func runDaemon(
    logger: Logger, threads: Int? = nil, mode: ProxyMode, source: ConfigurationSource
) async {
    do {
        try await Daemon(source: source, mode: mode, threads: threads, logger: logger).run()
    } catch let error as ConfigError {
        for diagnostic in error.diagnostics {
            if diagnostic.severity == .error { logger.error("\(diagnostic)") } else { logger.warning("\(diagnostic)") }
        }
        logger.error("cannot start: \(error.errors.count) configuration error(s)")
        exit(1)
    } catch {
        logger.error("cannot start: \(error)")
        exit(1)
    }
}
