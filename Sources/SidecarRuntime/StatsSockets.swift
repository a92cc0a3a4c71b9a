import Logging
import NIOCore
import SidecarConfig
import SidecarProxy

/// The `stats socket` lines of the running configuration, served by one `RuntimeAPI`.
///
/// Started by the daemon after the proxy (so the API always has a proxy to report on); at a reload, sockets
/// whose line is unchanged keep running, removed or changed ones are closed (their files removed) and new
/// ones opened. Owned by the daemon's task; not shared.
struct StatsSockets {
    let api: RuntimeAPI
    private var servers: [StatsSocketServer]

    private init(api: RuntimeAPI, servers: [StatsSocketServer]) {
        self.api = api
        self.servers = servers
    }

    /// Opens every socket of `sockets` or none.
    /// - Throws: `StatsSocketError` naming the line that could not be served.
    static func start(
        _ sockets: [StatsSocket], api: RuntimeAPI, group: any EventLoopGroup, logger: Logger
    ) async throws -> StatsSockets {
        var servers: [StatsSocketServer] = []
        do {
            for socket in sockets {
                servers.append(try await StatsSocketServer.start(socket, api: api, group: group, logger: logger))
            }
        } catch {
            for server in servers { await server.close() }
            throw error
        }
        return StatsSockets(api: api, servers: servers)
    }

    /// Points the API at `proxy` (re-applying runtime server states) and serves the lines of `sockets`:
    /// unchanged ones stay open; a socket that cannot be opened is logged and left out, since the proxy has
    /// already switched to the new configuration.
    func reload(
        to sockets: [StatsSocket], adopting proxy: Proxy, group: any EventLoopGroup, logger: Logger
    ) async -> StatsSockets {
        api.adopt(proxy)
        let wanted = Set(sockets.map(StatsSocketServer.key))
        var kept: [StatsSocketServer] = []
        for server in servers {
            if wanted.contains(StatsSocketServer.key(server.socket)) {
                kept.append(server)
            } else {
                logger.info("stats socket closed", metadata: ["address": "\(server.socket.address)"])
                await server.close()
            }
        }
        let running = Set(kept.map { StatsSocketServer.key($0.socket) })
        for socket in sockets where !running.contains(StatsSocketServer.key(socket)) {
            do {
                kept.append(try await StatsSocketServer.start(socket, api: api, group: group, logger: logger))
            } catch {
                logger.error("reload: \(error)")
            }
        }
        return StatsSockets(api: api, servers: kept)
    }

    /// Closes every socket and removes its file.
    func close() async {
        for server in servers { await server.close() }
    }
}
