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
/// Signals arrive in `serve`'s stream, fed by the main thread (`runDaemon`). They are handled one at a time
/// in arrival order, so a SIGHUP during a reload waits for it to end, and one during the drain is ignored.
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

    /// What `prepare()` built on the calling thread: everything that needs no event loop.
    struct Start: Sendable {
        let configuration: Configuration
        let plan: ProxyPlan
        let inherited: [InheritedSocket]
        let descriptors: [ListenAddress: Int32]
        let threads: Int
        /// The soft descriptor limit after raising it, which reloads derive the global `maxconn` from.
        let descriptorLimit: Int
        /// The daemon's event loops; `serve` runs on one of them (see `EventLoopTaskExecutor`).
        let group: MultiThreadedEventLoopGroup
    }

    /// Loads and checks the configuration, builds every TLS context, takes systemd's sockets and creates the
    /// event loops. Runs on the main thread, before any other thread exists except the loops it creates.
    /// - Throws: a configuration, certificate or socket-activation error, worded for the operator.
    func prepare() throws -> Start {
        MallocTuning.apply(environment: ProcessInfo.processInfo.environment)
        let inherited = InheritedSocket.takeAll()
        // As HAProxy: the soft descriptor limit up to the hard one (the units set LimitNOFILE).
        let descriptorLimit = DescriptorLimit.raiseSoftToHard().soft
        let configuration = try source.load(for: mode)
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let plan = try ProxyPlan(configuration: configuration, descriptorLimit: descriptorLimit)
        logCertificateFindings(plan)
        logDescriptorBudget(plan)
        let descriptors = try SocketActivation.assign(inherited, to: configuration)
        let threads = self.threads ?? configuration.global.nbthread ?? System.coreCount
        return Start(
            configuration: configuration, plan: plan, inherited: inherited, descriptors: descriptors,
            threads: threads, descriptorLimit: descriptorLimit,
            group: MultiThreadedEventLoopGroup(numberOfThreads: threads))
    }

    /// Serves until a stop signal arrives in `signals`; returns after the drain.
    ///
    /// Run it as a task that prefers one of `start.group`'s loops (`runDaemon` does): it then never touches
    /// Swift's global executor (libdispatch), so no thread other than the event loops and the main thread
    /// exists. For the same reason it sleeps with the event loop's timers, not `Task.sleep`, and leaves the
    /// event loops to end with the process instead of calling `shutdownGracefully` (which uses a Dispatch queue).
    /// - Throws: whatever keeps it from starting (an address in use, a stats socket), worded for the operator.
    func serve(_ start: Start, signals: AsyncStream<Int32>) async throws {
        var configuration = start.configuration
        let plan = start.plan
        let inherited = start.inherited
        let threads = start.threads
        let descriptorLimit = start.descriptorLimit
        let group = start.group
        let loop = group.next()
        let exporter = MetricsExporter()
        var proxy = try await Proxy.start(
            plan: plan, group: group, registry: ConnectionRegistry(metrics: exporter.factory),
            descriptors: start.descriptors, logger: logger)
        var stats: StatsSockets
        do {
            stats = try await StatsSockets.start(
                configuration.global.statsSockets, api: RuntimeAPI(proxy: proxy), group: group, logger: logger)
        } catch {
            await proxy.stopListening()
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
                throw error
            }
        }
        let watchdog = startWatchdog(on: loop)
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
            await drain(proxy.registry, limit: configuration.global.hardStopAfter, on: loop)
            // The stats socket stays up during the drain, so an operator can watch the sessions leave.
            await stats.close()
            await metrics?.close()
            break
        }
        logger.info("stopped")
    }

    /// Waits for connections to finish, up to `limit`, then closes what is left.
    private func drain(_ registry: ConnectionRegistry, limit: Duration, on loop: any EventLoop) async {
        let deadline = ContinuousClock.now + limit
        while registry.count > 0, ContinuousClock.now < deadline {
            await Self.pause(.milliseconds(50), on: loop)
        }
        let left = registry.count
        if left > 0 {
            logger.warning("hard-stop-after reached; closing connections", metadata: ["connections": "\(left)"])
            registry.closeAll()
            let closeDeadline = ContinuousClock.now + .seconds(2)
            while registry.count > 0, ContinuousClock.now < closeDeadline {
                await Self.pause(.milliseconds(10), on: loop)
            }
        }
    }

    /// `Task.sleep` without the global executor: a timer on `loop`.
    private static func pause(_ amount: TimeAmount, on loop: any EventLoop) async {
        try? await loop.scheduleTask(in: amount) {}.futureResult.get()
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

    /// `WATCHDOG=1` every half `WatchdogSec=`, from a timer on `loop`.
    private func startWatchdog(on loop: any EventLoop) -> RepeatedTask? {
        guard let interval = notifier.watchdogInterval else { return nil }
        let notifier = self.notifier
        return loop.scheduleRepeatedTask(initialDelay: .zero, delay: TimeAmount(interval / 2)) { _ in
            notifier.watchdog()
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
