import Logging
import NIOCore
import NIOPosix
import SidecarConfig

#if canImport(Glibc)
    import Glibc
#endif

/// One `stats socket` line served: a Unix socket speaking HAProxy's runtime API text protocol, so
/// `echo 'show stat' | socat stdio UNIX-CONNECT:PATH` and `nc -U PATH` work as with HAProxy.
///
/// Protocol, as HAProxy's: a client sends one command line (several may be joined with `;`) and gets the
/// answer, then the connection closes. After `prompt` the connection is interactive: every answer is followed
/// by a `> ` prompt and the connection stays open until `quit`, EOF or 10 s without a command (HAProxy's
/// default `stats timeout`).
///
/// The socket file is created with the line's `mode` (0600 when none is given: the socket may change servers,
/// so it is private by default, where HAProxy would leave it to the umask) and removed on `close`. A stale
/// socket file at the path is replaced.
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
    static func start(
        _ socket: StatsSocket, api: RuntimeAPI, group: any EventLoopGroup, logger: Logger
    ) async throws -> StatsSocketServer {
        guard case .unix(let path) = socket.address else {
            throw StatsSocketError("\(socket.location): 'stats socket' must be a Unix socket path")
        }
        let level = socket.level
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            IdleStateHandler(readTimeout: .seconds(10)))
                        try channel.pipeline.syncOperations.addHandler(
                            RuntimeAPIHandler(api: api, level: level))
                    }
                }
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        } catch {
            throw StatsSocketError("\(socket.location): cannot create stats socket \(path): \(error)")
        }
        if chmod(path, mode_t(socket.mode ?? 0o600)) != 0 {
            let reason = String(cString: strerror(errno))
            try? await channel.close()
            unlink(path)
            throw StatsSocketError("\(socket.location): cannot set mode of stats socket \(path): \(reason)")
        }
        logger.info("stats socket listening", metadata: ["path": "\(path)", "level": "\(level.rawValue)"])
        return StatsSocketServer(socket: socket, channel: channel, path: path)
    }

    /// Stops answering and removes the socket file.
    func close() async {
        try? await channel.close()
        unlink(path)
    }
}
