import NIOCore
import SidecarConfig
import SidecarTLS

/// A configuration made ready to serve: every TLS context built and every backend address resolved.
///
/// Built in one step at start or reload; if any certificate, key, CA, CRL or address fails, the whole
/// plan fails and a running proxy keeps its old one. Immutable and `Sendable`; connections hold on to the
/// plan they started with.
public struct ProxyPlan: Sendable {
    public let configuration: Configuration
    public let frontends: [FrontendPlan]

    /// - Throws: `TLSContextError` for a certificate problem, `ProxyError` for an address problem.
    public init(configuration: Configuration, handshakeTimeout: TimeAmount = .seconds(10)) throws {
        self.configuration = configuration
        var backends: [String: BackendPlan] = [:]
        for backend in configuration.backends {
            backends[backend.name] = try BackendPlan(backend: backend)
        }
        frontends = try configuration.frontends.map { frontend in
            guard let name = frontend.defaultBackend, let backend = backends[name] else {
                throw ProxyError("frontend '\(frontend.name)' has no backend", at: frontend.location)
            }
            let binds = try frontend.binds.map { bind in
                BindPlan(
                    bind: bind, tls: try bind.tls.map { try TLSContext.make($0, role: .server, for: bind.location) },
                    handshakeTimeout: handshakeTimeout)
            }
            return FrontendPlan(frontend: frontend, binds: binds, backend: backend)
        }
    }
}

/// A frontend ready to serve.
public struct FrontendPlan: Sendable {
    public let frontend: Frontend
    public let binds: [BindPlan]
    public let backend: BackendPlan
}

/// A `bind` line with its server-role TLS context.
public struct BindPlan: Sendable {
    public let bind: Bind
    public let tls: TLSContext?
    public let handshakeTimeout: TimeAmount
}

/// A backend ready to serve: its servers with resolved addresses and client-role TLS contexts.
public struct BackendPlan: Sendable {
    public let backend: Backend
    public let servers: [ServerPlan]
    public let balancer: Balancer

    init(backend: Backend) throws {
        self.backend = backend
        servers = try backend.servers.map { try ServerPlan(server: $0) }
        balancer = Balancer(servers: backend.servers.map { ($0.weight, $0.backup, $0.disabled) })
    }
}

/// A `server` line with its address resolved once (no resolver on the per-connection path) and its
/// client-role TLS context.
public struct ServerPlan: Sendable {
    public let server: Server
    public let address: SocketAddress
    public let tls: TLSContext?

    init(server: Server) throws {
        self.server = server
        switch server.address {
        case .tcp(let host, let port):
            do {
                address = try SocketAddress.makeAddressResolvingHost(host, port: port)
            } catch {
                throw ProxyError("cannot resolve server '\(server.name)' address '\(host)': \(error)", at: server.location)
            }
        case .unix(let path):
            do {
                address = try SocketAddress(unixDomainSocketPath: path)
            } catch {
                throw ProxyError("server '\(server.name)' path '\(path)' is not a usable Unix socket path", at: server.location)
            }
        }
        tls = try server.tls.map { try TLSContext.make($0, role: .client, for: server.location) }
    }

    /// The key under which TLS sessions with this server are cached.
    var sessionKey: String { server.address.description }
}

extension TLSContext {
    /// A context whose failure names the configuration line it was built for.
    static func make(_ settings: TLSSettings, role: Role, for location: SourceLocation) throws -> TLSContext {
        do {
            return try TLSContext(settings: settings, role: role)
        } catch let error as TLSContextError {
            throw ProxyError(error.description, at: location)
        }
    }
}
