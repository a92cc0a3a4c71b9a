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
    /// How the descriptor limit is shared out; nil when the plan was made without one (tests, `check`).
    public let descriptors: DescriptorBudget?
    /// The process-wide `maxconn` gate. A plan made to continue another shares its gate, so connections of
    /// every loaded configuration count: they all hold descriptors of this one process.
    let globalGate: ConnectionGate
    /// The global `maxconn` this plan asks for; a shared gate takes it when the plan starts serving.
    let globalMaxconn: Int?

    /// - Parameters:
    ///   - descriptorLimit: the soft `RLIMIT_NOFILE`; with it, a configuration without a global `maxconn`
    ///     gets one derived from the limit (`DescriptorBudget`).
    ///   - previous: the plan this one replaces on reload; its process-wide gate is kept (see `globalGate`).
    /// - Throws: `TLSContextError` for a certificate problem, `ProxyError` for an address problem.
    public init(
        configuration: Configuration, descriptorLimit: Int? = nil, continuing previous: ProxyPlan? = nil,
        handshakeTimeout: TimeAmount = .seconds(10)
    ) throws {
        self.configuration = configuration
        descriptors = descriptorLimit.map { DescriptorBudget(configuration: configuration, descriptorLimit: $0) }
        var backends: [String: BackendPlan] = [:]
        for backend in configuration.backends {
            backends[backend.name] = try BackendPlan(backend: backend)
        }
        globalMaxconn = descriptors?.maxconn ?? configuration.global.maxconn
        let global = previous?.globalGate ?? ConnectionGate(maxconn: globalMaxconn)
        globalGate = global
        let handshakes = PendingHandshakes(
            limit: descriptors?.pendingHandshakes ?? configuration.global.maxPendingHandshakes
                ?? DescriptorBudget.defaultPendingHandshakes(maxconn: configuration.global.maxconn))
        frontends = try configuration.frontends.map { frontend in
            guard let name = frontend.defaultBackend, let backend = backends[name] else {
                throw ProxyError("frontend '\(frontend.name)' has no backend", at: frontend.location)
            }
            let frontendGate = ConnectionGate(maxconn: frontend.maxconn)
            let binds = try frontend.binds.map { bind in
                BindPlan(
                    bind: bind, tls: try bind.tls.map { try TLSContext.make($0, role: .server, for: bind.location) },
                    handshakeTimeout: bind.handshakeTimeout.map(TimeAmount.init) ?? handshakeTimeout,
                    gates: ConnectionGates(
                        bind: ConnectionGate(maxconn: bind.maxconn), frontend: frontendGate, global: global),
                    handshakes: handshakes)
            }
            return FrontendPlan(frontend: frontend, binds: binds, backend: backend)
        }
    }
}

/// A frontend ready to serve.
///
/// A class, like `BindPlan` and `ServerPlan`: every connection refers to the plan it started with, and a
/// reference is one pointer where a copy of the configuration values was most of a kilobyte per connection.
public final class FrontendPlan: Sendable {
    public let frontend: Frontend
    public let binds: [BindPlan]
    public let backend: BackendPlan

    init(frontend: Frontend, binds: [BindPlan], backend: BackendPlan) {
        self.frontend = frontend
        self.binds = binds
        self.backend = backend
    }
}

/// A `bind` line with its server-role TLS context.
public final class BindPlan: Sendable {
    public let bind: Bind
    public let tls: TLSContext?
    public let handshakeTimeout: TimeAmount
    /// The `maxconn` counters this bind's connections count against.
    public let gates: ConnectionGates
    /// The plan's pending TLS handshakes (`tune.ssl.max-pending-handshakes`), shared by all its binds.
    let handshakes: PendingHandshakes

    init(
        bind: Bind, tls: TLSContext?, handshakeTimeout: TimeAmount, gates: ConnectionGates = ConnectionGates(),
        handshakes: PendingHandshakes = PendingHandshakes(limit: DescriptorBudget.maxDefaultPendingHandshakes)
    ) {
        self.bind = bind
        self.tls = tls
        self.handshakeTimeout = handshakeTimeout
        self.gates = gates
        self.handshakes = handshakes
    }
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
