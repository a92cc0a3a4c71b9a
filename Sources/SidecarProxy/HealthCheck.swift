import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTLS

#if canImport(Glibc)
    import Glibc
#endif

/// HAProxy's `check` for one server: every `inter`, a TCP connect (plain server) or a TCP connect and a full
/// TLS handshake with verification (an `ssl` server); `fall` consecutive failures mark an up server DOWN,
/// `rise` consecutive successes mark a down server UP. Servers start UP, as in HAProxy, so a dead server
/// takes `fall` checks to leave the rotation.
///
/// Timeouts follow HAProxy: with `timeout check`, the connect is bounded by min(`timeout connect`, `inter`)
/// and the TLS handshake by `timeout check`; without it, `inter` bounds each.
///
/// State changes go to the `Balancer` and are logged like HAProxy's:
/// `server b/s is DOWN, reason: Layer4 connection problem, info: "Connection refused", 0 active and 1 backup
/// servers left`.
///
/// Threading: every check runs on the one event loop given to `start`; `stop` may come from any thread.
/// The schedule and counters sit in a lock, taken briefly per check.
final class HealthCheck: Sendable {
    private struct State {
        var started = false
        var stopped = false
        var timer: Scheduled<Void>?
        var probe: Channel?
        var up = true
        var successes = 0
        var failures = 0
        var lastFailure: String?
        /// Checks that failed while the server was up (HAProxy's `chkfail`).
        var failedWhileUp = 0
        /// How long the last finished check took (`check_duration`).
        var lastDurationMilliseconds: Int64?
    }

    let server: ServerPlan
    private let backendName: String
    private let balancer: Balancer
    private let inter: TimeAmount
    private let connectTimeout: TimeAmount
    private let handshakeTimeout: TimeAmount
    private let state = NIOLockedValueBox(State())

    init(server: ServerPlan, backend: Backend, balancer: Balancer) {
        self.server = server
        self.backendName = backend.name
        self.balancer = balancer
        let inter = TimeAmount(server.server.inter)
        self.inter = inter
        if let check = backend.timeouts.check {
            connectTimeout = min(backend.timeouts.connect.map(TimeAmount.init) ?? inter, inter)
            handshakeTimeout = TimeAmount(check)
        } else {
            connectTimeout = inter
            handshakeTimeout = inter
        }
    }

    /// The reason of the last failed check, kept after the server went DOWN; nil once a check passed.
    var lastFailure: String? { state.withLockedValue { $0.lastFailure } }

    /// Whether the checks consider the server up now.
    var isUp: Bool { state.withLockedValue { $0.up } }

    /// Checks failed while the server was up, and the duration of the last check in milliseconds.
    var counts: (failedWhileUp: Int, lastDurationMilliseconds: Int64?) {
        state.withLockedValue { ($0.failedWhileUp, $0.lastDurationMilliseconds) }
    }

    /// Starts checking on `loop`; the first check comes after a random part of `inter`, spreading the
    /// checks of many servers as HAProxy does. A second call, or one after `stop`, does nothing.
    func start(on loop: any EventLoop, logger: Logger) {
        let first = TimeAmount.nanoseconds(Int64.random(in: 0...max(inter.nanoseconds / 2, 0)))
        let proceed = state.withLockedValue { state in
            guard !state.started, !state.stopped else { return false }
            state.started = true
            return true
        }
        if proceed { schedule(on: loop, in: first, logger: logger) }
    }

    /// Stops for good: cancels the next check and abandons one in progress.
    func stop() {
        let (timer, probe) = state.withLockedValue { state in
            state.stopped = true
            defer {
                state.timer = nil
                state.probe = nil
            }
            return (state.timer, state.probe)
        }
        timer?.cancel()
        probe?.close(promise: nil)
    }

    private func schedule(on loop: any EventLoop, in delay: TimeAmount, logger: Logger) {
        state.withLockedValue { state in
            guard !state.stopped else { return }
            state.timer = loop.scheduleTask(in: delay) { self.run(on: loop, logger: logger) }
        }
    }

    private func run(on loop: any EventLoop, logger: Logger) {
        let started = NIODeadline.now()
        let outcome = loop.makePromise(of: String?.self)
        let server = self.server
        let handshakeTimeout = self.handshakeTimeout
        ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let tls = server.tls else { return }
                    let operations = channel.pipeline.syncOperations
                    // No session key: a resumed session would skip certificate verification, which is what
                    // the check is for.
                    try operations.addHandler(
                        TLSHandler(
                            context: tls, serverName: server.server.tls?.serverName,
                            expectedPeerName: server.server.tls?.expectedPeerName, sessionKey: nil,
                            handshakeTimeout: handshakeTimeout))
                    try operations.addHandler(HealthCheckProbe(server: server, outcome: outcome))
                }
            }
            .connect(to: server.address)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    outcome.succeed(Self.layer4Reason(error))
                case .success(let channel):
                    let abandoned = self.state.withLockedValue { state in
                        if !state.stopped { state.probe = channel }
                        return state.stopped
                    }
                    if abandoned || server.tls == nil {
                        channel.close(promise: nil)
                        outcome.succeed(nil)
                    }
                // A TLS probe completes `outcome` itself.
                }
            }
        outcome.futureResult.whenSuccess { failure in
            let milliseconds = (NIODeadline.now() - started).nanoseconds / 1_000_000
            self.record(failure, milliseconds: milliseconds, logger: logger)
            let next = max(started + self.inter - NIODeadline.now(), .zero)
            self.schedule(on: loop, in: next, logger: logger)
        }
    }

    /// Counts one result and applies a state change.
    private func record(_ failure: String?, milliseconds: Int64, logger: Logger) {
        let change: Bool? = state.withLockedValue { state in
            guard !state.stopped else { return nil }
            state.probe = nil
            state.lastDurationMilliseconds = milliseconds
            if let failure {
                if state.up { state.failedWhileUp += 1 }
                state.successes = 0
                state.failures += 1
                state.lastFailure = failure
                guard state.up, state.failures >= server.server.fall else { return nil }
                state.up = false
                return false
            }
            state.failures = 0
            state.successes += 1
            state.lastFailure = nil
            guard !state.up, state.successes >= server.server.rise else { return nil }
            state.up = true
            return true
        }
        guard let up = change else { return }
        let left = balancer.setUp(server.index, up)
        let name = "\(backendName)/\(server.server.name)"
        let passed = server.tls == nil ? "Layer4 check passed" : "Layer6 check passed"
        let metadata: Logger.Metadata = [
            "backend": "\(backendName)", "server": "\(server.server.name)", "check_duration_ms": "\(milliseconds)",
        ]
        let servers = "\(left.active) active and \(left.backup) backup servers"
        if up {
            logger.notice("server \(name) is UP, reason: \(passed), \(servers) online", metadata: metadata)
        } else {
            logger.warning("server \(name) is DOWN, reason: \(failure ?? "-"), \(servers) left", metadata: metadata)
            if left.active == 0 && left.backup == 0 {
                logger.error("backend \(backendName) has no server available!")
            }
        }
    }

    /// HAProxy's wording for a failed connect.
    private static func layer4Reason(_ error: any Error) -> String {
        if let error = error as? ChannelError, case .connectTimeout = error { return "Layer4 timeout" }
        if let error = error as? IOError {
            return "Layer4 connection problem, info: \"\(String(cString: strerror(error.errnoCode)))\""
        }
        return "Layer4 connection problem, info: \"\(error)\""
    }
}
