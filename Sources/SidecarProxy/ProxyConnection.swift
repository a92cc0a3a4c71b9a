import Logging
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTLS

#if canImport(Glibc)
    import Glibc
#endif

/// One proxied connection from accept to the last close: picks and connects a server (with failover),
/// links the relay, enforces the idle timeouts, counts bytes and writes the connection's log line.
///
/// Order of events, both modes: a TLS listener first completes the handshake (peer verified by OpenSSL);
/// only then is a server chosen and connected (so a refused client never reaches the backend); a TLS server
/// is linked only after its handshake succeeded (so client bytes never leave before the server is
/// authenticated). A failed connect or server handshake moves on to another server (`option redispatch`
/// semantics: the balancer avoids the servers already tried), up to `retries` more attempts; with nothing
/// left the client is closed at once and the log says `<NOSRV>` (no server was usable) or names the last
/// server tried, with termination state `SC`.
///
/// Timeouts once relaying, as HAProxy in TCP mode: `timeout tunnel` if set, else the smaller of
/// `timeout client` and `timeout server`; after one direction ended, `client-fin`/`server-fin` replace them.
/// Any byte either way counts as activity. One timer per connection, re-armed only when it fires, so the
/// relay path only stores a timestamp.
///
/// Lives on the client channel's event loop; the backend channel is created on the same loop, so every
/// method runs there. Not `Sendable`.
final class ProxyConnection {
    /// Which channel of the pair.
    enum Side: CustomStringConvertible {
        case client
        case server
        var description: String { self == .client ? "client" : "server" }
    }

    /// Where the connection is in its life.
    private enum State {
        /// A TLS listener is handshaking with the client.
        case clientHandshake
        /// Connecting `server` (TCP, then TLS if the server has `ssl`); `channel` once TCP is up.
        case connecting(server: ServerPlan, channel: Channel?)
        case relaying(server: Channel)
        case closed
    }

    private let frontend: FrontendPlan
    private let bind: BindPlan
    private let client: Channel
    private let logger: Logger
    /// The current server channel's relay handler, by identity only: events from a server given up for another
    /// are ignored. The handlers belong to their pipelines and keep this object alive; it holds no reference
    /// to them, not even a weak one: a weakly referenced object keeps its reference counts in a side table,
    /// and every retain and release of a relay handler (a dozen per relayed message, most in NIO's pipeline)
    /// then takes the slow path. `linkRelay` finds the handlers in their pipelines instead.
    private var serverRelay: ObjectIdentifier?
    private var state: State
    private let started = NIODeadline.now()
    private let acceptedAt = ConnectionLog.now()
    private var peerSubject: String?
    /// This connection in the runtime API's session table (`show sess`, `show stat` bytes); its byte counts
    /// are also the log line's. A `let`, so counting a read costs no reference count traffic.
    private let session: LiveSession
    /// The server slot held in the balancer, given back when the connection ends or the attempt fails.
    private var pick: Balancer.Pick?
    private var serverName: String?
    private var tried: [Int] = []
    private var redispatched = false
    private var lastAttemptTimedOut = false
    private var connectStarted: NIODeadline?
    private var connectMilliseconds: Int64 = -1
    private var termination: TerminationState?
    /// For the readable line: `client closed` / `server closed` (who ended first), or the error.
    private var detail: String?
    private var clientOpen = true
    private var serverOpen = false
    private var clientInputEnded = false
    private var serverInputEnded = false
    private var logged = false
    private var idle: (timeout: TimeAmount, cause: Character)?
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    /// This connection's place among the plan's pending handshakes, while its client handshake runs.
    private var handshakeTicket: UInt64?

    /// Sets up the client channel's pipeline and starts the connection.
    static func accept(
        _ channel: Channel, frontend: FrontendPlan, bind: BindPlan, registry: ConnectionRegistry, logger: Logger
    ) throws {
        let session = registry.statistics.open(
            client: channel, frontend: frontend.frontend.name, backend: frontend.backend.backend.name,
            peer: peerAddress(of: channel, frontend: frontend))
        let connection = ProxyConnection(
            channel: channel, frontend: frontend, bind: bind, session: session, logger: logger)
        registry.register(channel)
        // One close callback for both: a second one costs the callback list an array of its own.
        channel.closeFuture.whenComplete { _ in
            registry.statistics.close(session)
            registry.unregister(channel)
        }
        // `tcp-request connection` runs at accept, as in HAProxy: a refused client gets no TLS byte.
        if let refusal = frontend.admit(connectionFrom: channel.remoteAddress) {
            connection.session.denied()
            connection.refuse(ProxyError(refusal))
            connection.clientOpen = false
            channel.close(promise: nil)
            return
        }
        let relay = RelayHandler(connection: connection, side: .client)
        let operations = channel.pipeline.syncOperations
        if let tls = bind.tls {
            let bound = NIOLoopBound(connection, eventLoop: channel.eventLoop)
            let loop = channel.eventLoop
            connection.handshakeTicket = bind.handshakes.enter { loop.execute { bound.value.displaced() } }
            try operations.addHandler(TLSHandler(context: tls, handshakeTimeout: bind.handshakeTimeout))
        }
        if let dbus = frontend.frontend.dbus {
            let filter = DBusFilter(
                settings: dbus, frontend: frontend.frontend.name, peerAddress: connection.peerAddress,
                logger: logger, counters: connection.session.frontendCounters)
            try operations.addHandler(filter)
        }
        try operations.addHandler(relay)
        if bind.tls == nil { connection.connectNextServer() }
    }

    private init(channel: Channel, frontend: FrontendPlan, bind: BindPlan, session: LiveSession, logger: Logger) {
        self.client = channel
        self.session = session
        self.frontend = frontend
        self.bind = bind
        self.logger = logger
        self.state = .clientHandshake
    }

    // MARK: events from the relay handlers

    func count(_ bytes: Int, from side: Side) {
        session.add(bytes, fromClient: side == .client)
        if idle != nil { lastActivity = .now() }
    }

    func userEvent(_ event: Any, on side: Side, from relay: RelayHandler) {
        if let closed = event as? DBusStreamClosed {
            // The filter logged the reason and closes the client channel; the connection line says `PD`.
            end("P")
            detail =
                closed.kind == .registrationRefused
                ? "D-Bus registration refused" : "D-Bus protocol error from \(closed.from): \(closed.reason)"
            return
        }
        guard let completed = event as? TLSHandshakeCompleted, isCurrent(relay, side) else { return }
        switch (side, state) {
        case (.client, .clientHandshake):
            leavePendingHandshakes()
            peerSubject = completed.peerSubject
            session.setSubject(completed.peerSubject)
            session.handshakeCompleted(after: completed.duration)
            if let refusal = frontend.admit(client: completed, on: bind, from: client.remoteAddress) {
                session.denied()
                refuse(TLSError.rejected(refusal, certificate: completed.peerCertificate))
                client.close(promise: nil)
                return
            }
            logger.debug(
                "TLS handshake with client done",
                metadata: [
                    "peer": "\(peerAddress)", "subject": "\(completed.peerSubject ?? "-")",
                    "protocol": "\(completed.protocolVersion)", "cipher": "\(completed.cipher)",
                    "resumed": "\(completed.sessionReused)",
                ])
            connectNextServer()
        case (.server, .connecting(let server, let channel?)):
            if let refusal = server.admit(server: completed) {
                logger.warning(
                    "server refused by identity rules",
                    metadata: [
                        "server": "\(serverName ?? "-")", "reason": "\(refusal)",
                        "subject": "\(completed.peerSubject ?? "-")",
                    ])
                abandonServer(channel)
                connectNextServer()
                return
            }
            logger.debug(
                "TLS handshake with server done",
                metadata: [
                    "server": "\(serverName ?? "-")", "subject": "\(completed.peerSubject ?? "-")",
                    "protocol": "\(completed.protocolVersion)", "resumed": "\(completed.sessionReused)",
                ])
            // The log's `subject` is the TLS peer's: the client's on a TLS listener, else the server's.
            if peerSubject == nil {
                peerSubject = completed.peerSubject
                if frontend.frontend.dbus != nil {
                    try? client.pipeline.syncOperations.handler(type: DBusFilter.self)
                        .serverVerified(subject: completed.peerSubject)
                }
            }
            linkRelay(to: channel)
        default:
            break
        }
    }

    func inputClosed(on side: Side) {
        if detail == nil, case .relaying = state { detail = "\(side) closed" }
        if side == .client { clientInputEnded = true } else { serverInputEnded = true }
        if case .relaying = state { updateIdleTimeout() }
    }

    /// Events from a server channel given up for another (failover) no longer concern this connection.
    private func isCurrent(_ relay: RelayHandler, _ side: Side) -> Bool {
        side == .client || ObjectIdentifier(relay) == serverRelay
    }

    func failed(_ side: Side, _ error: any Error, from relay: RelayHandler) {
        guard isCurrent(relay, side) else { return }
        switch (side, state) {
        case (.client, .clientHandshake):
            leavePendingHandshakes()
            let code = (error as? TLSError)?.code
            session.handshakeFailed(
                code == TLSError.certificateRejected
                    ? .certificate : code == TLSError.handshakeTimeout ? .timeout : .protocolError)
            refuse(error)
        case (.server, .connecting(let server, let channel)):
            logger.warning(
                "server refused the tunnel",
                metadata: [
                    "server": "\(server.server.name)", "reason": "\(error)", "frontend": "\(frontend.frontend.name)",
                ])
            lastAttemptTimedOut = (error as? TLSError)?.code == TLSError.handshakeTimeout
            if let channel { abandonServer(channel) } else { releasePick() }
            connectNextServer()
        default:
            if termination == nil { detail = "\(side) error: \((error as? TLSError)?.description ?? "\(error)")" }
            end(side == .client ? "C" : "S")
        }
    }

    func closed(_ side: Side, from relay: RelayHandler) {
        guard isCurrent(relay, side) else { return }
        switch side {
        case .client:
            clientOpen = false
            if session.wasShutDown { end("K") }
            switch state {
            case .clientHandshake:
                leavePendingHandshakes()
                state = .closed
            case .connecting(_, let channel):
                end("C")
                channel?.close(promise: nil)
                state = .closed
            case .relaying(let server):
                server.close(promise: nil)
            case .closed:
                break
            }
        case .server:
            serverOpen = false
            if case .connecting(_, let channel?) = state, clientOpen {
                // Closed during its TLS handshake without an error event: the next server, all the same.
                abandonServer(channel)
                connectNextServer()
                return
            }
        }
        if !clientOpen && !serverOpen {
            state = .closed
            idleTimer?.cancel()
            logEnd()
        }
    }

    private func leavePendingHandshakes() {
        guard let handshakeTicket else { return }
        self.handshakeTicket = nil
        bind.handshakes.leave(handshakeTicket)
    }

    /// A newer connection took this one's place among the pending handshakes (the queue already let go).
    private func displaced() {
        guard handshakeTicket != nil, case .clientHandshake = state else { return }
        handshakeTicket = nil
        session.handshakeFailed(.timeout)
        refuse(
            ProxyError(
                "TLS handshake not finished when \(bind.handshakes.limit) newer connections were handshaking; closed "
                    + "to make room (tune.ssl.max-pending-handshakes)"))
        clientOpen = false
        client.close(promise: nil)
    }

    // MARK: connecting the backend

    private func connectNextServer() {
        guard clientOpen else { return }
        let backend = frontend.backend
        guard tried.count <= backend.backend.retries, let pick = backend.balancer.acquire(excluding: tried) else {
            if tried.isEmpty {
                logger.warning(
                    "no server available",
                    metadata: [
                        "frontend": "\(frontend.frontend.name)", "backend": "\(backend.backend.name)",
                        "peer": "\(peerAddress)",
                    ])
            }
            end(lastAttemptTimedOut ? "s" : "S", phase: "C")
            state = .closed
            // Logged now: this can run inside the child channel's initializer, before the channel is active,
            // and then no close event follows.
            clientOpen = false
            logEnd()
            client.close(promise: nil)
            return
        }
        let server = backend.servers[pick.index]
        if let previous = tried.last, previous != pick.index { redispatched = true }
        tried.append(pick.index)
        self.pick = pick
        serverName = server.server.name
        state = .connecting(server: server, channel: nil)
        if connectStarted == nil { connectStarted = .now() }
        let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
        let timeout = backend.backend.timeouts.connect.map(TimeAmount.init) ?? .seconds(10)
        let bootstrap = ClientBootstrap(group: client.eventLoop)
            .connectTimeout(timeout)
            // As on accepted channels, the options set in the initializer (RelayChannelOptions); autoRead is
            // on by default.
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try RelayChannelOptions.apply(to: channel)
                    let connection = bound.value
                    let relay = RelayHandler(connection: connection, side: .server)
                    connection.serverRelay = ObjectIdentifier(relay)
                    if let tls = server.tls {
                        try channel.pipeline.syncOperations.addHandler(
                            TLSHandler(
                                context: tls, serverName: server.server.tls?.serverName,
                                expectedPeerName: server.server.tls?.expectedPeerName, sessionKey: server.sessionKey,
                                handshakeTimeout: connection.bind.handshakeTimeout))
                    }
                    try channel.pipeline.syncOperations.addHandler(relay)
                }
            }
        // A Unix server is connected here when its `connect` completes at once (it does, unless the backend's
        // backlog is full or nobody listens); anything else goes the bootstrap's way, which reports the error.
        let channel: EventLoopFuture<Channel>
        if let descriptor = server.unixAddress?.connect() {
            channel = bootstrap.withConnectedSocket(descriptor)
        } else {
            channel = bootstrap.connect(to: server.address)
        }
        channel.whenComplete { result in
            bound.value.connected(result, server: server)
        }
    }

    private func connected(_ result: Result<Channel, any Error>, server: ServerPlan) {
        guard case .connecting(let current, nil) = state, current.index == server.index, clientOpen else {
            // The client left (or the attempt was given up) meanwhile.
            if case .success(let channel) = result { channel.close(promise: nil) }
            return
        }
        switch result {
        case .success(let channel):
            serverOpen = true
            state = .connecting(server: server, channel: channel)
            // A TLS server is linked once its handshake succeeds (userEvent); a plain one now.
            if server.tls == nil { linkRelay(to: channel) }
        case .failure(let error):
            logger.warning(
                "cannot connect to server",
                metadata: [
                    "server": "\(server.server.name)", "address": "\(server.server.address)", "reason": "\(error)",
                ])
            session.connectFailed(to: server.server.name)
            if let error = error as? ChannelError, case .connectTimeout = error {
                lastAttemptTimedOut = true
            } else {
                lastAttemptTimedOut = false
            }
            releasePick()
            connectNextServer()
        }
    }

    /// Gives up a server channel for another server: its later events are ignored.
    private func abandonServer(_ channel: Channel) {
        serverRelay = nil
        serverOpen = false
        releasePick()
        channel.close(promise: nil)
    }

    private func releasePick() {
        if let pick { frontend.backend.balancer.release(pick) }
        pick = nil
    }

    private func linkRelay(to channel: Channel) {
        guard let clientRelay = try? client.pipeline.syncOperations.handler(type: RelayHandler.self),
            let serverRelay = try? channel.pipeline.syncOperations.handler(type: RelayHandler.self)
        else { return }
        if let connectStarted { connectMilliseconds = (NIODeadline.now() - connectStarted).nanoseconds / 1_000_000 }
        state = .relaying(server: channel)
        if let serverName { session.relaying(to: serverName) }
        RelayHandler.link(clientRelay, serverRelay)
        updateIdleTimeout()
        logger.debug(
            "connection relaying",
            metadata: [
                "frontend": "\(frontend.frontend.name)", "server": "\(serverName ?? "-")", "peer": "\(peerAddress)",
            ])
    }

    // MARK: timeouts

    /// Chooses the idle timeout for the relay's current phase and (re)arms the timer.
    private func updateIdleTimeout() {
        let front = frontend.frontend.timeouts
        let back = frontend.backend.backend.timeouts
        var choices: [(Duration, Character)] = []
        if clientInputEnded, let fin = front.clientFin ?? back.clientFin { choices.append((fin, "c")) }
        if serverInputEnded, let fin = back.serverFin ?? front.serverFin { choices.append((fin, "s")) }
        if choices.isEmpty {
            if let tunnel = back.tunnel ?? front.tunnel {
                choices.append((tunnel, "c"))
            } else {
                if let timeout = front.client { choices.append((timeout, "c")) }
                if let timeout = back.server { choices.append((timeout, "s")) }
            }
        }
        guard let shortest = choices.min(by: { $0.0 < $1.0 }) else {
            idle = nil
            idleTimer?.cancel()
            idleTimer = nil
            return
        }
        idle = (TimeAmount(shortest.0), shortest.1)
        lastActivity = .now()
        armIdleTimer()
    }

    private func armIdleTimer() {
        idleTimer?.cancel()
        guard let idle else { return }
        let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
        idleTimer = client.eventLoop.scheduleTask(deadline: lastActivity + idle.timeout) {
            bound.value.idleTimerFired()
        }
    }

    private func idleTimerFired() {
        idleTimer = nil
        guard let idle, case .relaying(let server) = state else { return }
        guard NIODeadline.now() >= lastActivity + idle.timeout else {
            armIdleTimer()
            return
        }
        end(idle.cause)
        logger.debug(
            "connection idle timeout",
            metadata: [
                "frontend": "\(frontend.frontend.name)", "timeout_ms": "\(idle.timeout.nanoseconds / 1_000_000)",
            ])
        server.close(promise: nil)
        client.close(promise: nil)
    }

    // MARK: refusing and logging

    /// Records why the connection ends; the first reason wins.
    private func end(_ cause: Character, phase: Character? = nil) {
        guard termination == nil else { return }
        termination = TerminationState(cause: cause, phase: phase ?? currentPhase)
    }

    private var currentPhase: Character {
        switch state {
        case .clientHandshake: return "R"
        case .connecting: return "C"
        case .relaying: return clientInputEnded || serverInputEnded ? "L" : "D"
        case .closed: return "-"
        }
    }

    private func refuse(_ error: any Error) {
        state = .closed
        logged = true
        releasePick()
        if frontend.frontend.tcplog, let refusal = error as? ProxyError {
            // Refused at accept by `tcp-request connection`: no handshake took place.
            logger.warning("\(logClient) \(frontend.frontend.name)/\(bindName): refused (\(refusal.message))")
            return
        }
        if frontend.frontend.tcplog {
            let line = ConnectionLog.handshakeFailure(
                client: logClient, accepted: acceptedAt, frontend: frontend.frontend.name, bindName: bindName,
                error: error)
            logger.warning("\(line)")
            return
        }
        var metadata: Logger.Metadata = [
            "frontend": "\(frontend.frontend.name)", "peer": "\(peerAddress)",
            "reason": "\((error as? TLSError)?.reason ?? "\(error)")",
        ]
        if let certificate = (error as? TLSError)?.certificate {
            metadata["subject"] = "\(certificate.subject)"
            metadata["issuer"] = "\(certificate.issuer)"
            metadata["serial"] = "\(certificate.serialHex)"
        }
        logger.warning("connection refused", metadata: metadata)
    }

    private func logEnd() {
        guard !logged else { return }
        logged = true
        // The line is at `info`: below that level nothing of it is built (its fields are formatted strings,
        // and a TCP client's address is formatted anew), only the server slot given back.
        guard logger.logLevel <= .info else {
            releasePick()
            return
        }
        let milliseconds = (NIODeadline.now() - started).nanoseconds / 1_000_000
        let connections = frontend.backend.balancer.connections(on: pick?.index)
        let bytes = session.bytes
        let log = ConnectionLog(
            client: frontend.frontend.tcplog ? logClient : peerAddress, accepted: acceptedAt,
            frontend: frontend.frontend.name, bindName: bindName, tls: bind.tls != nil,
            backend: frontend.backend.backend.name, server: serverName, queueMilliseconds: tried.isEmpty ? -1 : 0,
            connectMilliseconds: connectMilliseconds, totalMilliseconds: milliseconds,
            bytesFromClient: bytes.in, bytesFromServer: bytes.out, termination: termination ?? .normal,
            processConnections: bind.gates.global.count, frontendConnections: bind.gates.frontend.count,
            backendConnections: connections.backend, serverConnections: connections.server,
            retries: max(tried.count - 1, 0), redispatched: redispatched, peerSubject: peerSubject,
            detail: termination == nil || termination?.cause == "P" || detail?.contains("error") == true ? detail : nil)
        releasePick()
        if frontend.frontend.tcplog {
            logger.info("\(log.tcplog)")
        } else {
            logger.info("connection closed", metadata: log.readableMetadata)
        }
    }

    /// The readable line's peer: `address:port`, or `unix:<frontend>`.
    private var peerAddress: String { Self.peerAddress(of: client, frontend: frontend) }

    private static func peerAddress(of client: Channel, frontend: FrontendPlan) -> String {
        guard let address = client.remoteAddress else { return "unix:\(frontend.frontend.name)" }
        switch address {
        case .unixDomainSocket: return "unix:\(frontend.frontend.name)"
        default: return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
    }

    /// HAProxy's `%ci:%cp`: a Unix client is `unix:<listener id>`, the bind's position in its frontend from 1.
    private var logClient: String {
        if let address = client.remoteAddress, address.protocol != .unix {
            return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
        let position = frontend.binds.firstIndex { $0.bind == bind.bind } ?? 0
        return "unix:\(position + 1)"
    }

    /// The error format's bind name: `name`, else the address.
    private var bindName: String { bind.bind.name ?? "\(bind.bind.address)" }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
