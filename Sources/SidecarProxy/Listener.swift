import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarSystemd

/// One listening socket of a frontend's `bind` line, accepting connections into `ProxyConnection`s.
///
/// A Unix socket is created the way HAProxy does it: bound at `<path>.<pid>.tmp`, given its mode and owner,
/// then renamed over `<path>` in one step, so clients never see a socket with the wrong permissions and a
/// stale socket file is replaced atomically. An existing path that is not a socket, or a socket someone
/// still listens on, is an error rather than something to delete.
///
/// A reload keeps the listener (and its socket: no connection is refused meanwhile) when the `bind`
/// address is unchanged, and points it at the new plan: each accepted connection reads the plan current at
/// accept time and keeps it for its whole life.
final class Listener: Sendable {
    /// The plan new connections on this listener are served with; swapped on reload.
    struct Generation: Sendable {
        var frontend: FrontendPlan
        var bind: BindPlan
    }

    let address: ListenAddress
    let channel: Channel
    /// The Unix socket path this listener created (and removes at shutdown) and the identity of the socket
    /// file bound there; nil for TCP and for a socket systemd passed in, which sidecar never unlinks.
    let created: (path: String, identity: UnixSocketFile.Identity)?
    private let current: NIOLockedValueBox<Generation>

    var createdPath: String? { created?.path }
    var bind: BindPlan { current.withLockedValue { $0.bind } }

    private init(
        address: ListenAddress, channel: Channel, created: (path: String, identity: UnixSocketFile.Identity)?,
        current: NIOLockedValueBox<Generation>
    ) {
        self.address = address
        self.channel = channel
        self.created = created
        self.current = current
    }

    /// A reload's change to this listener, checked but not yet applied.
    struct Update {
        var generation: Generation
        /// Owner and mode for the socket file this listener created, names resolved.
        var permissions: UnixSocketFile.Permissions?
    }

    /// Checks what serving `frontend`/`bind` needs (user and group names resolve) without changing anything.
    func prepareUpdate(frontend: FrontendPlan, bind: BindPlan) throws -> Update {
        var permissions: UnixSocketFile.Permissions?
        if let created {
            let options = bind.bind.unixSocket
            do {
                permissions = try UnixSocketFile.resolve(
                    user: options.user, uid: options.uid, group: options.group, gid: options.gid, mode: options.mode,
                    shown: created.path)
            } catch {
                throw ProxyError(error.description, at: bind.bind.location)
            }
        }
        return Update(generation: Generation(frontend: frontend, bind: bind), permissions: permissions)
    }

    /// Gives the socket file the update's owner and mode, only if the path still holds the socket this
    /// listener bound.
    /// - Returns: the owner and mode before, for `restorePermissions` if another listener's update fails.
    func applyPermissions(of update: Update) throws -> UnixSocketFile.Permissions? {
        guard let created, let permissions = update.permissions else { return nil }
        do {
            return try UnixSocketFile.apply(
                permissions, to: created.path, expecting: created.identity, shown: created.path)
        } catch {
            throw ProxyError(error.description, at: update.generation.bind.bind.location)
        }
    }

    /// Puts back what `applyPermissions` changed (best effort: it succeeded a moment ago).
    func restorePermissions(_ previous: UnixSocketFile.Permissions?) {
        guard let created, let previous else { return }
        _ = try? UnixSocketFile.apply(previous, to: created.path, expecting: created.identity, shown: created.path)
    }

    /// Serves new connections with the update's plan from now on (reload). Cannot fail: everything that can
    /// was done by `prepareUpdate` and `applyPermissions` for every listener first.
    func commit(_ update: Update) {
        current.withLockedValue { $0 = update.generation }
    }

    /// Binds and starts accepting for `bind`, serving `frontend`.
    /// - Parameter descriptor: an inherited listening socket (systemd, `fd@N`) to adopt instead of binding.
    static func start(
        bind: BindPlan, frontend: FrontendPlan, group: any EventLoopGroup, registry: ConnectionRegistry,
        descriptor: Int32? = nil, logger: Logger
    ) async throws -> Listener {
        let current = NIOLockedValueBox(Generation(frontend: frontend, bind: bind))
        let address = bind.bind.address
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptLimitHandler(
                            gates: { current.withLockedValue { $0.bind.gates } }, logger: logger,
                            address: "\(address)"))
                }
            }
            // No child channel options: RelayChannelOptions sets them in the initializer, without futures.
            .childChannelInitializer { channel in
                let generation = current.withLockedValue { $0 }
                return channel.eventLoop.makeCompletedFuture {
                    try RelayChannelOptions.apply(to: channel)
                    try ProxyConnection.accept(
                        channel, frontend: generation.frontend, bind: generation.bind, registry: registry,
                        logger: logger)
                }
            }
        let location = bind.bind.location
        if let descriptor {
            do {
                let channel = try await bootstrap.withBoundSocket(descriptor).get()
                return Listener(address: address, channel: channel, created: nil, current: current)
            } catch {
                throw ProxyError(
                    "cannot listen on inherited socket fd \(descriptor) for \(address): \(Self.describe(error))",
                    at: location)
            }
        }
        switch bind.bind.address {
        case .tcp(let host, let port):
            do {
                let channel = try await bootstrap.bind(host: host.isEmpty ? "0.0.0.0" : host, port: port).get()
                return Listener(address: address, channel: channel, created: nil, current: current)
            } catch {
                throw ProxyError("cannot listen on \(bind.bind.address): \(Self.describe(error))", at: location)
            }
        case .unix(let path):
            do {
                try UnixSocketFile.checkReplaceable(path)
            } catch {
                throw ProxyError(error.description, at: location)
            }
            let temporary = UnixSocketFile.temporaryPath(for: path)
            UnixSocketFile.remove(temporary)
            let channel: Channel
            do {
                channel = try await bootstrap.bind(unixDomainSocketPath: temporary).get()
            } catch {
                throw ProxyError("cannot listen on \(path): \(Self.describe(error))", at: location)
            }
            let identity: UnixSocketFile.Identity
            do {
                identity = try Self.setOwnerAndMode(temporary, bind.bind.unixSocket, shownAs: path, at: location)
                do {
                    try UnixSocketFile.install(temporary, at: path)
                } catch {
                    throw ProxyError(error.description, at: location)
                }
            } catch {
                UnixSocketFile.remove(temporary)
                try? await channel.close()
                throw error
            }
            return Listener(address: address, channel: channel, created: (path, identity), current: current)
        case .inheritedFD, .systemd:
            throw ProxyError("\(bind.bind.address): no such socket was passed to sidecar", at: location)
        }
    }

    /// Stops accepting; removes the socket file this listener created.
    func close() async {
        try? await channel.close()
        // Only our own socket: whatever someone put at the path since is not ours to delete.
        if let created,
            (try? UnixSocketFile.identity(ofSocketAt: created.path, shown: created.path)) == created.identity
        {
            UnixSocketFile.remove(created.path)
        }
    }

    private static func setOwnerAndMode(
        _ path: String, _ options: UnixSocketOptions, shownAs shown: String, at location: SourceLocation
    ) throws -> UnixSocketFile.Identity {
        do {
            return try UnixSocketFile.setOwnerAndMode(
                path, user: options.user, uid: options.uid, group: options.group, gid: options.gid,
                mode: options.mode, shown: shown)
        } catch {
            throw ProxyError(error.description, at: location)
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return UnixSocketFile.errorText(error.errnoCode)
        }
        return "\(error)"
    }
}
