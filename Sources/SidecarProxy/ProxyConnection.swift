import Logging
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTLS

/// One proxied connection from accept to the last close: connects the backend, links the relay, counts
/// bytes and writes the connection's log line.
///
/// Order of events, both modes: a TLS listener first completes the handshake (peer verified by OpenSSL);
/// only then is a server chosen and connected (so a refused client never reaches the backend); a TLS server
/// is linked only after its handshake succeeded (so client bytes never leave before the server is
/// authenticated). A failed connect or server handshake moves on to the next server, up to `retries`.
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
        /// Connecting to `servers[attempt]` of the backend (TCP, then TLS if the server has `ssl`).
        case connecting(order: [Int], attempt: Int, channel: Channel?)
        case relaying(server: Channel)
        case closed
    }

    private let frontend: FrontendPlan
    private let bind: BindPlan
    private let client: Channel
    private let logger: Logger
    /// The relay handlers belong to their pipelines, and they keep this object alive; these are weak so the
    /// connection is freed with its channels.
    private weak var clientRelay: RelayHandler?
    private weak var serverRelay: RelayHandler?
    private var state: State
    private let started = NIODeadline.now()
    private var bytesFromClient = 0
    private var bytesFromServer = 0
    private var peerCertificate: PeerCertificate?
    private var serverName: String?
    private var ending: String?
    private var clientOpen = true
    private var serverOpen = false
    private var logged = false

    /// Sets up the client channel's pipeline and starts the connection.
    static func accept(
        _ channel: Channel, frontend: FrontendPlan, bind: BindPlan, registry: ConnectionRegistry, logger: Logger
    ) throws {
        let connection = ProxyConnection(channel: channel, frontend: frontend, bind: bind, logger: logger)
        registry.register(channel)
        channel.closeFuture.whenComplete { _ in registry.unregister(channel) }
        let relay = RelayHandler(connection: connection, side: .client)
        connection.clientRelay = relay
        let operations = channel.pipeline.syncOperations
        if let tls = bind.tls {
            try operations.addHandler(TLSHandler(context: tls, handshakeTimeout: bind.handshakeTimeout))
        }
        try operations.addHandler(relay)
        if bind.tls == nil { connection.connectNextServer() }
    }

    private init(channel: Channel, frontend: FrontendPlan, bind: BindPlan, logger: Logger) {
        self.client = channel
        self.frontend = frontend
        self.bind = bind
        self.logger = logger
        self.state = bind.tls == nil ? .connecting(order: frontend.backend.balancer.order(), attempt: -1, channel: nil) : .clientHandshake
    }

    // MARK: events from the relay handlers

    func count(_ bytes: Int, from side: Side) {
        if side == .client { bytesFromClient += bytes } else { bytesFromServer += bytes }
    }

    func userEvent(_ event: Any, on side: Side, from relay: RelayHandler) {
        guard let completed = event as? TLSHandshakeCompleted, isCurrent(relay, side) else { return }
        switch (side, state) {
        case (.client, .clientHandshake):
            peerCertificate = completed.peerCertificate
            if let refusal = frontend.admit(client: completed, on: bind, from: client.remoteAddress) {
                refuse(TLSError.rejected(refusal, certificate: completed.peerCertificate))
                client.close(promise: nil)
                return
            }
            logger.debug(
                "TLS handshake with client done",
                metadata: [
                    "peer": "\(peerAddress)", "subject": "\(completed.peerCertificate?.subject ?? "-")",
                    "protocol": "\(completed.protocolVersion)", "cipher": "\(completed.cipher)",
                    "resumed": "\(completed.sessionReused)",
                ])
            state = .connecting(order: frontend.backend.balancer.order(), attempt: -1, channel: nil)
            connectNextServer()
        case (.server, .connecting(let order, let attempt, let channel?)):
            if let refusal = frontend.backend.servers[order[attempt]].admit(server: completed) {
                logger.warning(
                    "server refused by identity rules",
                    metadata: [
                        "server": "\(serverName ?? "-")", "reason": "\(refusal)",
                        "subject": "\(completed.peerCertificate?.subject ?? "-")",
                    ])
                state = .connecting(order: order, attempt: attempt, channel: nil)
                channel.close(promise: nil)
                connectNextServer()
                return
            }
            logger.debug(
                "TLS handshake with server done",
                metadata: [
                    "server": "\(serverName ?? "-")", "subject": "\(completed.peerCertificate?.subject ?? "-")",
                    "protocol": "\(completed.protocolVersion)", "resumed": "\(completed.sessionReused)",
                ])
            linkRelay(to: channel)
        default:
            break
        }
    }

    func inputClosed(on side: Side) {}

    /// Events from a server channel given up for another (failover) no longer concern this connection.
    private func isCurrent(_ relay: RelayHandler, _ side: Side) -> Bool {
        side == .client || relay === serverRelay
    }

    func failed(_ side: Side, _ error: any Error, from relay: RelayHandler) {
        guard isCurrent(relay, side) else { return }
        switch (side, state) {
        case (.client, .clientHandshake):
            refuse(error)
        case (.server, .connecting(let order, let attempt, _)):
            logger.warning(
                "server refused the tunnel",
                metadata: ["server": "\(serverName ?? "-")", "reason": "\(error)", "frontend": "\(frontend.frontend.name)"])
            state = .connecting(order: order, attempt: attempt, channel: nil)
            connectNextServer()
        default:
            if ending == nil { ending = "\(side) error: \(Self.describe(error))" }
        }
    }

    func closed(_ side: Side, from relay: RelayHandler) {
        guard isCurrent(relay, side) else { return }
        switch side {
        case .client:
            clientOpen = false
            if ending == nil { ending = "client closed" }
            switch state {
            case .connecting(_, _, let channel?):
                channel.close(promise: nil)
            case .relaying(let server):
                server.close(promise: nil)
            default:
                break
            }
            if case .relaying = state {} else { state = .closed }
        case .server:
            serverOpen = false
            if case .relaying = state, ending == nil { ending = "server closed" }
        }
        if !clientOpen && !serverOpen {
            state = .closed
            logEnd()
        }
    }

    // MARK: connecting the backend

    private func connectNextServer() {
        guard case .connecting(let order, let attempt, _) = state, clientOpen else { return }
        let backend = frontend.backend
        let next = attempt + 1
        guard next < order.count, next <= backend.backend.retries else {
            ending = order.isEmpty ? "no server available (<NOSRV>)" : "every server failed (<NOSRV>)"
            logger.warning(
                "no server for connection", metadata: ["frontend": "\(frontend.frontend.name)", "backend": "\(backend.backend.name)", "peer": "\(peerAddress)"])
            state = .closed
            client.close(promise: nil)
            return
        }
        let server = backend.servers[order[next]]
        serverName = server.server.name
        state = .connecting(order: order, attempt: next, channel: nil)
        let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
        let timeout = backend.backend.timeouts.connect.map(TimeAmount.init) ?? .seconds(10)
        ClientBootstrap(group: client.eventLoop)
            .connectTimeout(timeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = bound.value
                    let relay = RelayHandler(connection: connection, side: .server)
                    connection.serverRelay = relay
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
            .connect(to: server.address)
            .whenComplete { result in
                bound.value.connected(result, attempt: next, server: server)
            }
    }

    private func connected(_ result: Result<Channel, any Error>, attempt: Int, server: ServerPlan) {
        switch result {
        case .success(let channel):
            serverOpen = true
            guard case .connecting(let order, attempt, nil) = state, clientOpen else {
                channel.close(promise: nil)
                return
            }
            state = .connecting(order: order, attempt: attempt, channel: channel)
            // A TLS server is linked once its handshake succeeds (userEvent); a plain one now.
            if server.tls == nil { linkRelay(to: channel) }
        case .failure(let error):
            logger.warning(
                "cannot connect to server",
                metadata: ["server": "\(server.server.name)", "address": "\(server.server.address)", "reason": "\(error)"])
            connectNextServer()
        }
    }

    private func linkRelay(to channel: Channel) {
        guard let clientRelay, let serverRelay else { return }
        state = .relaying(server: channel)
        RelayHandler.link(clientRelay, serverRelay)
        logger.debug(
            "connection relaying",
            metadata: ["frontend": "\(frontend.frontend.name)", "server": "\(serverName ?? "-")", "peer": "\(peerAddress)"])
    }

    // MARK: refusing and logging

    private func refuse(_ error: any Error) {
        state = .closed
        var metadata: Logger.Metadata = [
            "frontend": "\(frontend.frontend.name)", "peer": "\(peerAddress)",
            "reason": "\((error as? TLSError)?.reason ?? "\(error)")",
        ]
        if let certificate = (error as? TLSError)?.certificate {
            metadata["subject"] = "\(certificate.subject)"
            metadata["issuer"] = "\(certificate.issuer)"
            metadata["serial"] = "\(certificate.serialHex)"
        }
        ending = "refused: \((error as? TLSError)?.reason ?? "\(error)")"
        logged = true
        logger.warning("connection refused", metadata: metadata)
    }

    private func logEnd() {
        guard !logged else { return }
        logged = true
        let milliseconds = (NIODeadline.now() - started).nanoseconds / 1_000_000
        logger.info(
            "connection closed",
            metadata: [
                "frontend": "\(frontend.frontend.name)",
                "server": "\(frontend.backend.backend.name)/\(serverName ?? "<NOSRV>")",
                "peer": "\(peerAddress)",
                "subject": "\(peerCertificate?.subject ?? "-")",
                "bytes_in": "\(bytesFromClient)",
                "bytes_out": "\(bytesFromServer)",
                "duration_ms": "\(milliseconds)",
                "end": "\(ending ?? "closed")",
            ])
    }

    private var peerAddress: String {
        guard let address = client.remoteAddress else { return "unix:\(frontend.frontend.name)" }
        switch address {
        case .unixDomainSocket: return "unix:\(frontend.frontend.name)"
        default: return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
    }

    private static func describe(_ error: any Error) -> String {
        (error as? TLSError)?.description ?? "\(error)"
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
