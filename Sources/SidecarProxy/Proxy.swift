import Logging
import NIOCore
import NIOPosix

/// The running proxy: every frontend's listeners, serving from one `ProxyPlan`.
///
/// `start` binds everything or nothing: if one listener fails, the ones already bound are closed and the
/// error names the failing `bind`.
public final class Proxy: Sendable {
    public let plan: ProxyPlan
    private let listeners: [Listener]

    private init(plan: ProxyPlan, listeners: [Listener]) {
        self.plan = plan
        self.listeners = listeners
    }

    /// Binds every listener of `plan` on `group` and starts accepting.
    /// - Throws: `ProxyError` naming the address that could not be bound.
    public static func start(
        plan: ProxyPlan, group: any EventLoopGroup, registry: ConnectionRegistry = ConnectionRegistry(), logger: Logger
    ) async throws -> Proxy {
        var listeners: [Listener] = []
        do {
            for frontend in plan.frontends {
                for bind in frontend.binds {
                    let listener = try await Listener.start(
                        bind: bind, frontend: frontend, group: group, registry: registry, logger: logger)
                    listeners.append(listener)
                    logger.info(
                        "listening",
                        metadata: [
                            "frontend": "\(frontend.frontend.name)", "address": "\(bind.bind.address)",
                            "tls": "\(bind.tls != nil)", "backend": "\(frontend.backend.backend.name)",
                        ])
                }
            }
        } catch {
            for listener in listeners { await listener.close() }
            throw error
        }
        return Proxy(plan: plan, listeners: listeners)
    }

    /// The addresses actually bound (a TCP port 0 shows the port chosen), in configuration order.
    public var boundAddresses: [SocketAddress] {
        listeners.compactMap { $0.channel.localAddress }
    }

    /// Stops accepting and removes the Unix sockets this proxy created. Established connections go on.
    public func stopListening() async {
        for listener in listeners { await listener.close() }
    }
}
