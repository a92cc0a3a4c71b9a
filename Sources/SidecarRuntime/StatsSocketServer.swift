import Logging
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarSystemd

/// One `stats socket` line served: a Unix socket speaking HAProxy's runtime API text protocol, so
/// `echo 'show stat' | socat stdio UNIX-CONNECT:PATH` and `nc -U PATH` work as with HAProxy.
///
/// Protocol, as HAProxy's: a client sends one command line (several may be joined with `;`) and gets the
/// answer, then the connection closes. After `prompt` the connection is interactive: every answer is followed
/// by a `> ` prompt and the connection stays open until `quit`, EOF or 10 s without a command (HAProxy's
/// default `stats timeout`), or 10 s while its answers wait for a client that does not read. At most 10
/// connections at once per socket (HAProxy's default `stats maxconn`); more are closed on accept.
///
/// The socket file is created like a `bind` socket (`UnixSocketFile`: bound under a temporary name, given the
/// line's `mode`, renamed into place) and removed on `close`. The mode is 0600 when none is given: the socket
/// may change servers, so it is private by default, where HAProxy would leave it to the umask. A stale socket
/// file at the path is replaced; a path where another process listens, or that is not a socket, is an error.
final class StatsSocketServer: Sendable {
    /// The line this server serves; a reload keeps the server when its `key` is unchanged.
    let socket: StatsSocket
    private let channel: Channel
    private let path: String

    private init(socket: StatsSocket, channel: Channel, path: String) {
        self.socket = socket
        self.channel = channel
        self.path = path
    }

    /// What identifies a `stats socket` line, ignoring where it was written.
    static func key(_ socket: StatsSocket) -> String {
        "\(socket.address) \(socket.mode.map { String($0, radix: 8) } ?? "-") \(socket.level.rawValue)"
    }

    /// Binds the socket of `socket` and starts answering with `api`.
    /// - Throws: `ProxyError`-worded `RuntimeAPIError` naming the line when the socket cannot be created.
    /// - Parameter idleTimeout: how long a connection may send no command (or not read its answers).
    static func start(
        _ socket: StatsSocket, api: RuntimeAPI, group: any EventLoopGroup, logger: Logger,
        idleTimeout: TimeAmount = .seconds(10)
    ) async throws -> StatsSocketServer {
        guard case .unix(let path) = socket.address else {
            throw StatsSocketError("\(socket.location): 'stats socket' must be a Unix socket path")
        }
        let level = socket.level
        do {
            try UnixSocketFile.checkReplaceable(path)
        } catch {
            throw StatsSocketError("\(socket.location): cannot create stats socket: \(error)")
        }
        // Bound under a temporary name, given its mode, then renamed into place, as `bind` sockets are: a
        // client never finds the socket with the wrong mode.
        let temporary = UnixSocketFile.temporaryPath(for: path)
        UnixSocketFile.remove(temporary)
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ConnectionCapHandler())
                    }
                }
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try channel.pipeline.syncOperations.addHandler(
                            RuntimeAPIHandler(api: api, level: level))
                    }
                }
                .bind(unixDomainSocketPath: temporary).get()
        } catch {
            throw StatsSocketError("\(socket.location): cannot create stats socket \(path): \(error)")
        }
        do {
            try UnixSocketFile.setOwnerAndMode(
                temporary, user: nil, uid: nil, group: nil, gid: nil, mode: socket.mode ?? 0o600, shown: path)
            try UnixSocketFile.install(temporary, at: path)
        } catch {
            UnixSocketFile.remove(temporary)
            try? await channel.close()
            throw StatsSocketError("\(socket.location): \(error)")
        }
        logger.info("stats socket listening", metadata: ["path": "\(path)", "level": "\(level.rawValue)"])
        return StatsSocketServer(socket: socket, channel: channel, path: path)
    }

    /// Stops answering and removes the socket file.
    func close() async {
        try? await channel.close()
        UnixSocketFile.remove(path)
    }
}
