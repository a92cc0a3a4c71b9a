import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarProxy
import SidecarSystemd

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// The process life cycle (DESIGN.md §6): start, reload on SIGHUP, drain on SIGTERM/SIGINT, with
/// `sd_notify` at each step.
///
/// - Start: load and check the configuration, build every TLS context, adopt systemd's sockets, bind the
///   rest, then `READY=1`.
/// - SIGHUP: `RELOADING=1`, re-read every `-f` path and rebuild every context; on success swap (listeners
///   that stay keep their sockets; established connections keep their old plan); on failure keep serving
///   the old configuration and say why (log, `STATUS=reload failed: ...`). Then `READY=1`.
/// - SIGTERM/SIGINT: `STOPPING=1`, stop accepting, let connections finish for up to `hard-stop-after`, close
///   the rest, return.
///
/// Signals are handled one at a time in arrival order, so a SIGHUP during a reload waits for it to end, and
/// one during the drain is ignored.
public final class Daemon: Sendable {
    private let source: ConfigurationSource
    private let mode: ProxyMode
    /// `--threads` or `SIDECAR_THREADS`; nil lets the configuration's `nbthread`, then the core count, decide.
    private let threads: Int?
    private let logger: Logger
    private let notifier: Notifier

    public init(
        source: ConfigurationSource, mode: ProxyMode, threads: Int?, logger: Logger, notifier: Notifier = Notifier()
    ) {
        self.source = source
        self.mode = mode
        self.threads = threads
        self.logger = logger
        self.notifier = notifier
    }

    /// Serves until a stop signal; returns after the drain.
    /// - Throws: whatever keeps it from starting (configuration, certificate, address), worded for the operator.
    public func run() async throws {
        MallocTuning.apply(environment: ProcessInfo.processInfo.environment)
        let signals = SignalStream.start([SIGHUP, SIGTERM, SIGINT])
        let inherited = InheritedSocket.takeAll()
        // As HAProxy: the soft descriptor limit up to the hard one (the units set LimitNOFILE).
        let descriptorLimit = DescriptorLimit.raiseSoftToHard().soft
        var configuration = try source.load(for: mode)
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let plan = try ProxyPlan(configuration: configuration, descriptorLimit: descriptorLimit)
        logCertificateFindings(plan)
        logDescriptorBudget(plan)
        let descriptors = try SocketActivation.assign(inherited, to: configuration)
        let threads = self.threads ?? configuration.global.nbthread ?? System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let exporter = MetricsExporter()
        var proxy: Proxy
        do {
            proxy = try await Proxy.start(
                plan: plan, group: group, registry: ConnectionRegistry(metrics: exporter.factory),
                descriptors: descriptors, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        var stats: StatsSockets
        do {
            stats = try await StatsSockets.start(
                configuration.global.statsSockets, api: RuntimeAPI(proxy: proxy), group: group, logger: logger)
        } catch {
            await proxy.stopListening()
            try? await group.shutdownGracefully()
            throw error
        }
        let reloads = exporter.reloads
        var metrics: MetricsServer?
        if let address = configuration.global.metricsBind {
            do {
                metrics = try await MetricsServer.start(
                    address, location: configuration.global.metricsBindLocation, api: stats.api, metrics: exporter,
                    group: group, logger: logger)
            } catch {
                await stats.close()
                await proxy.stopListening()
                try? await group.shutdownGracefully()
                throw error
            }
        }
        let watchdog = startWatchdog()
        defer { watchdog?.cancel() }
        notifier.ready(status: summary(proxy, "serving"))
        logger.info("ready", metadata: ["frontends": "\(plan.frontends.count)", "threads": "\(threads)"])

        for await signal in signals {
            if signal == SIGHUP {
                notifier.reloading()
                logger.info("reloading")
                do {
                    let next = try source.load(for: mode)
                    for warning in next.warnings { logger.warning("\(warning)") }
                    let nextPlan = try ProxyPlan(
                        configuration: next, descriptorLimit: descriptorLimit, continuing: proxy.plan)
                    logCertificateFindings(nextPlan)
                    logDescriptorBudget(nextPlan)
                    let nextDescriptors = try SocketActivation.assign(inherited, to: next)
                    if self.threads == nil, next.global.nbthread != configuration.global.nbthread {
                        logger.warning(
                            "nbthread changed: the event loop threads (\(threads)) change at the next restart, not on reload"
                        )
                    }
                    proxy = try await proxy.reload(to: nextPlan, descriptors: nextDescriptors, logger: logger)
                    stats = await stats.reload(
                        to: next.global.statsSockets, adopting: proxy, group: group, logger: logger)
                    metrics = await MetricsServer.reload(
                        metrics, to: next.global.metricsBind, location: next.global.metricsBindLocation,
                        api: stats.api, metrics: exporter, group: group, logger: logger)
                    reloads.record(success: true)
                    configuration = next
                    logger.info("reloaded", metadata: ["frontends": "\(nextPlan.frontends.count)"])
                    notifier.ready(status: summary(proxy, "reloaded"))
                } catch {
                    reloads.record(success: false)
                    for line in Self.lines(of: error) { logger.error("reload failed: \(line)") }
                    logger.error("reload failed; still serving the previous configuration")
                    notifier.ready(
                        status:
                            "reload failed: \(Self.lines(of: error).first ?? "\(error)"); serving the previous configuration"
                    )
                }
                continue
            }
            let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
            notifier.stopping()
            logger.info("stopping", metadata: ["signal": "\(name)", "connections": "\(proxy.registry.count)"])
            metrics?.markStopping()
            await proxy.stopListening()
            await drain(proxy.registry, limit: configuration.global.hardStopAfter)
            // The stats socket stays up during the drain, so an operator can watch the sessions leave.
            await stats.close()
            await metrics?.close()
            break
        }
        SignalStream.stop()
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }

    /// Waits for connections to finish, up to `limit`, then closes what is left.
    private func drain(_ registry: ConnectionRegistry, limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while registry.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = registry.count
        if left > 0 {
            logger.warning("hard-stop-after reached; closing connections", metadata: ["connections": "\(left)"])
            registry.closeAll()
            let closeDeadline = ContinuousClock.now + .seconds(2)
            while registry.count > 0, ContinuousClock.now < closeDeadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    /// Certificates that expire soon (warning) or have expired (error), at start and at each reload.
    private func logCertificateFindings(_ plan: ProxyPlan) {
        for finding in plan.certificateFindings() {
            if finding.severity == .error { logger.error("\(finding)") } else { logger.warning("\(finding)") }
        }
    }

    /// The descriptor limit, the reserve and the global `maxconn` in force; a warning when a configured
    /// `maxconn` needs more descriptors than the limit allows.
    private func logDescriptorBudget(_ plan: ProxyPlan) {
        guard let budget = plan.descriptors else { return }
        logger.info("\(budget.summary)")
        if let warning = budget.warning { logger.warning("\(warning)") }
    }

    private func startWatchdog() -> Task<Void, Never>? {
        guard let interval = notifier.watchdogInterval else { return nil }
        let notifier = self.notifier
        return Task {
            while !Task.isCancelled {
                notifier.watchdog()
                try? await Task.sleep(for: interval / 2)
            }
        }
    }

    private func summary(_ proxy: Proxy, _ verb: String) -> String {
        "\(verb): \(proxy.plan.frontends.count) frontend(s), \(proxy.registry.count) connection(s)"
    }

    static func lines(of error: any Error) -> [String] {
        if let error = error as? ConfigError { return error.errors.map(\.description) }
        return ["\(error)"]
    }
}

/// Delivers the given signals, in order, as an async sequence; their default actions are disabled while it
/// runs. Process-wide by nature, so a single instance.
enum SignalStream {
    /// Touched only by `start` and `stop`, which the daemon calls from its one task.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func start(_ numbers: [Int32]) -> AsyncStream<Int32> {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        let queue = DispatchQueue(label: "sidecar.signals")
        var sources: [DispatchSourceSignal] = []
        for number in numbers {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        Self.sources = sources
        return stream
    }

    /// Stops delivering; signals stay ignored, so a late one during exit does nothing.
    static func stop() {
        for source in sources { source.cancel() }
    }
}
