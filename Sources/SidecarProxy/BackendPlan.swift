import Logging
import NIOCore
import SidecarConfig
import SidecarSystemd
import SidecarTLS

/// A backend ready to serve: its servers with resolved addresses and client-role TLS contexts, the
/// balancer that picks among them, and the health checks that tell it which are up.
///
/// Everything mutable (server states, connection counts, check schedules) lives in the `Balancer` and the
/// `HealthCheck`s this plan owns, so a reload that builds a new plan starts from fresh state while the old
/// plan's connections keep counting against the old objects.
public struct BackendPlan: Sendable {
    public let backend: Backend
    public let servers: [ServerPlan]
    public let balancer: Balancer
    /// One per server with `check` that is not `disabled` (HAProxy does not check servers in maintenance).
    let healthChecks: [HealthCheck]

    init(backend: Backend) throws {
        self.backend = backend
        let servers = try backend.servers.enumerated().map { try ServerPlan(server: $1, index: $0) }
        let balancer = Balancer(algorithm: backend.balance, servers: backend.servers)
        self.servers = servers
        self.balancer = balancer
        healthChecks = servers.filter { $0.server.check && !$0.server.disabled }.map {
            HealthCheck(server: $0, backend: backend, balancer: balancer)
        }
    }

    /// Starts checking every server with `check`, each on one loop of `group`. Calling it again does nothing.
    public func startHealthChecks(group: any EventLoopGroup, logger: Logger) {
        for check in healthChecks { check.start(on: group.next(), logger: logger) }
    }

    /// Stops the checks: no new check starts and one in progress is abandoned. Safe from any thread.
    public func stopHealthChecks() {
        for check in healthChecks { check.stop() }
    }
}

/// A `server` line with its address resolved once (no resolver on the per-connection path) and its
/// client-role TLS context.
public final class ServerPlan: Sendable {
    public let server: Server
    /// The server's position in its backend: what the `Balancer` knows it by.
    public let index: Int
    public let address: SocketAddress
    /// A Unix server's address, ready for `connect` without the bootstrap (`ProxyConnection`); nil for TCP.
    let unixAddress: UnixStreamAddress?
    public let tls: TLSContext?
    /// The key under which TLS sessions with this server are cached; built once, not per connection.
    let sessionKey: String

    init(server: Server, index: Int) throws {
        self.server = server
        self.index = index
        sessionKey = server.address.description
        switch server.address {
        case .tcp(let host, let port):
            do {
                address = try SocketAddress.makeAddressResolvingHost(host, port: port)
                unixAddress = nil
            } catch {
                throw ProxyError(
                    "cannot resolve server '\(server.name)' address '\(host)': \(error)", at: server.location)
            }
        case .unix(let path):
            do {
                address = try SocketAddress(unixDomainSocketPath: path)
                unixAddress = UnixStreamAddress(path: path)
            } catch {
                throw ProxyError(
                    "server '\(server.name)' path '\(path)' is not a usable Unix socket path", at: server.location)
            }
        }
        tls = try server.tls.map { try TLSContext.make($0, role: .client, for: server.location) }
    }
}
