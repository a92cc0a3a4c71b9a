import Logging
import NIOCore
import SidecarConfig
import SidecarSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a daemon for the subcommands and never returns: exit status 0 after a stop signal and the drain;
/// any failure becomes `error` log lines (one per configuration finding) and exit status 1, with no stack trace.
///
/// Threads: the main thread, which blocks SIGHUP, SIGTERM and SIGINT before any other thread exists and then
/// only waits for them (`BlockedSignals`) and hands them over in order; and the event loops, on one of which
/// the daemon's async code runs (`EventLoopTaskExecutor`). No libdispatch worker thread is ever started: they
/// call `setpriority(2)`, which the units' `SystemCallFilter=` does not allow.
public func runDaemon(
    logger: Logger, threads: Int? = nil, mode: ProxyMode, source: ConfigurationSource
) -> Never {
    let signals = BlockedSignals.block([SIGHUP, SIGTERM, SIGINT])
    let daemon = Daemon(source: source, mode: mode, threads: threads, logger: logger)
    let start: Daemon.Start
    do {
        start = try daemon.prepare()
    } catch {
        exitReporting(error, logger: logger)
    }
    let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
    Task(executorPreference: EventLoopTaskExecutor(start.group.next())) {
        do {
            try await daemon.serve(start, signals: stream)
        } catch {
            exitReporting(error, logger: logger)
        }
        exit(0)
    }
    while true {
        continuation.yield(signals.next())
    }
}

/// Logs why the daemon cannot start and exits with status 1.
private func exitReporting(_ error: any Error, logger: Logger) -> Never {
    if let error = error as? ConfigError {
        for diagnostic in error.diagnostics {
            if diagnostic.severity == .error { logger.error("\(diagnostic)") } else { logger.warning("\(diagnostic)") }
        }
        logger.error("cannot start: \(error.errors.count) configuration error(s)")
    } else {
        logger.error("cannot start: \(error)")
    }
    exit(1)
}
