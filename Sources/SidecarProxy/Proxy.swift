import Logging
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarSystemd

/// The running proxy: every frontend's listeners, serving from one `ProxyPlan`.
///
/// A value per configuration generation: `reload` returns the next one, sharing sockets that stay.
/// `start` binds everything or nothing: if one listener fails, the ones already bound are closed and the
/// error names the failing `bind`.
public final class Proxy: Sendable {
    public let plan: ProxyPlan
    private let listeners: [Listener]
    private let group: any EventLoopGroup
    /// Shared by every generation of a running proxy, so a stop can wait for and close all connections.
    public let registry: ConnectionRegistry

    private init(plan: ProxyPlan, listeners: [Listener], group: any EventLoopGroup, registry: ConnectionRegistry) {
        self.plan = plan
        self.listeners = listeners
        self.group = group
        self.registry = registry
    }

    /// Binds every listener of `plan` on `group` and starts accepting.
    /// - Parameter descriptors: inherited listening sockets to adopt, by the `bind` address they serve.
    /// - Throws: `ProxyError` naming the address that could not be bound.
    public static func start(
        plan: ProxyPlan, group: any EventLoopGroup, registry: ConnectionRegistry = ConnectionRegistry(),
        descriptors: [ListenAddress: Int32] = [:], logger: Logger
    ) async throws -> Proxy {
        let listeners = try await openListeners(
            plan: plan, group: group, registry: registry, descriptors: descriptors, keeping: [], logger: logger)
        for frontend in plan.frontends { frontend.backend.startHealthChecks(group: group, logger: logger) }
        return Proxy(plan: plan, listeners: listeners, group: group, registry: registry)
    }

    /// Serves `plan` from now on: listeners whose address is unchanged keep their sockets and switch to the
    /// new plan; new addresses are bound; addresses no longer configured are closed. Established connections
    /// keep the plan they started with. If a new address cannot be bound, nothing changes and the error says
    /// why.
    public func reload(to plan: ProxyPlan, descriptors: [ListenAddress: Int32] = [:], logger: Logger) async throws
        -> Proxy
    {
        let listeners = try await Self.openListeners(
            plan: plan, group: group, registry: registry, descriptors: descriptors, keeping: self.listeners,
            logger: logger)
        // The process-wide gate may be the old plan's, shared: it takes the new limit now that nothing can fail.
        plan.globalGate.setLimit(plan.globalMaxconn)
        for frontend in self.plan.frontends { frontend.backend.stopHealthChecks() }
        for frontend in plan.frontends { frontend.backend.startHealthChecks(group: group, logger: logger) }
        let kept = Set(listeners.map { ObjectIdentifier($0) })
        for listener in self.listeners where !kept.contains(ObjectIdentifier(listener)) {
            logger.info("listener closed", metadata: ["address": "\(listener.address)"])
            await listener.close()
        }
        return Proxy(plan: plan, listeners: listeners, group: group, registry: registry)
    }

    /// `127.0.0.1:2021`, `[::]:2021` or the socket path: the address as an operator writes it.
    static func describe(_ address: SocketAddress?) -> String? {
        guard let address else { return nil }
        switch address {
        case .unixDomainSocket: return address.pathname
        case .v4: return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        case .v6: return "[\(address.ipAddress ?? "?")]:\(address.port ?? 0)"
        }
    }

    /// Opens (or, from `keeping`, reuses) a listener for every bind; all or nothing.
    private static func openListeners(
        plan: ProxyPlan, group: any EventLoopGroup, registry: ConnectionRegistry, descriptors: [ListenAddress: Int32],
        keeping existing: [Listener], logger: Logger
    ) async throws -> [Listener] {
        var opened: [Listener] = []
        var result: [(Listener, FrontendPlan, BindPlan)] = []
        do {
            for frontend in plan.frontends {
                for bind in frontend.binds {
                    if let reused = existing.first(where: { $0.address == bind.bind.address }) {
                        result.append((reused, frontend, bind))
                        continue
                    }
                    let listener = try await Listener.start(
                        bind: bind, frontend: frontend, group: group, registry: registry,
                        descriptor: descriptors[bind.bind.address], logger: logger)
                    opened.append(listener)
                    result.append((listener, frontend, bind))
                    logger.info(
                        "listening",
                        metadata: [
                            "frontend": "\(frontend.frontend.name)",
                            "address":
                                "\(listener.createdPath ?? Self.describe(listener.channel.localAddress) ?? "\(bind.bind.address)")",
                            "tls": "\(bind.tls != nil)", "backend": "\(frontend.backend.backend.name)",
                            "inherited": "\(descriptors[bind.bind.address] != nil)",
                        ])
                }
            }
            // Only once every new socket is bound do reused listeners switch to the new plan, all of them or
            // none: every update is checked first, then socket permissions are applied (and put back if one
            // fails), and only then is any plan swapped, which cannot fail.
            var updates: [(Listener, Listener.Update)] = []
            for (listener, frontend, bind) in result where !opened.contains(where: { $0 === listener }) {
                updates.append((listener, try listener.prepareUpdate(frontend: frontend, bind: bind)))
            }
            var applied: [(Listener, UnixSocketFile.Permissions?)] = []
            do {
                for (listener, update) in updates {
                    applied.append((listener, try listener.applyPermissions(of: update)))
                }
            } catch {
                for (listener, previous) in applied.reversed() { listener.restorePermissions(previous) }
                throw error
            }
            for (listener, update) in updates {
                listener.commit(update)
                // A listener holding accepts at the old plan's limits re-checks against the new plan's.
                listener.channel.read()
            }
        } catch {
            for listener in opened { await listener.close() }
            throw error
        }
        return result.map(\.0)
    }

    /// The addresses actually bound (a TCP port 0 shows the port chosen), in configuration order.
    public var boundAddresses: [SocketAddress] {
        listeners.compactMap { $0.channel.localAddress }
    }

    /// Stops accepting and removes the Unix sockets this proxy created. Established connections go on.
    public func stopListening() async {
        for listener in listeners { await listener.close() }
        for frontend in plan.frontends { frontend.backend.stopHealthChecks() }
    }
}
