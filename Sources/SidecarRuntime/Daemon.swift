import Dispatch
import Logging
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarProxy

#if canImport(Glibc)
import Glibc
#endif

/// The process life cycle: serve a configuration until SIGTERM or SIGINT, then stop accepting, close what
/// is left and return. (Draining for up to `hard-stop-after` belongs to the systemd issue.)
public final class Daemon: Sendable {
    private let configuration: Configuration
    private let threads: Int
    private let logger: Logger

    /// - Parameters:
    ///   - threads: event loop threads; each connection stays on one.
    public init(configuration: Configuration, threads: Int, logger: Logger) {
        self.configuration = configuration
        self.threads = threads
        self.logger = logger
    }

    /// Builds the plan, binds every listener, serves until a stop signal.
    /// - Throws: the first problem that keeps it from starting (certificate, address), already worded for
    ///   the operator.
    public func run() async throws {
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let plan = try ProxyPlan(configuration: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let proxy: Proxy
        do {
            proxy = try await Proxy.start(plan: plan, group: group, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        logger.info("ready", metadata: ["frontends": "\(plan.frontends.count)", "threads": "\(threads)"])
        let signal = await Self.waitForStopSignal()
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        await proxy.stopListening()
        try? await group.shutdownGracefully()
    }

    /// Waits for SIGTERM or SIGINT (both taken away from their default action first).
    private static func waitForStopSignal() async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            let queue = DispatchQueue(label: "sidecar.signals")
            let resumed = NIOLockedBool()
            var sources: [DispatchSourceSignal] = []
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                Glibc.signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    if resumed.setOnce() { continuation.resume(returning: name) }
                }
                source.resume()
                sources.append(source)
            }
            // The sources live as long as the process: a second signal during shutdown is absorbed.
            SignalSources.keep(sources)
        }
    }
}

import NIOConcurrencyHelpers

/// A flag set once, from any thread.
private final class NIOLockedBool: Sendable {
    private let value = NIOLockedValueBox(false)
    func setOnce() -> Bool {
        value.withLockedValue { set in
            if set { return false }
            set = true
            return true
        }
    }
}

private enum SignalSources {
    nonisolated(unsafe) static var kept: [DispatchSourceSignal] = []
    static func keep(_ sources: [DispatchSourceSignal]) { kept.append(contentsOf: sources) }
}
