import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SidecarConfig

/// The `metrics-bind` endpoint: plain HTTP/1.1 with `GET /metrics` (Prometheus text format 0.0.4) and
/// `GET /health` (200 `{"status":"ok"}`, or 503 with the problems); any other path is 404, any other method
/// 405. Values are computed per request from the proxy the `RuntimeAPI` serves now, so a reload needs no
/// restart of the endpoint unless its address changes.
final class MetricsServer: Sendable {
    /// The address served; a reload keeps the server when it is unchanged.
    let address: ListenAddress
    private let channel: Channel
    private let stoppingBox: NIOLockedValueBox<Bool>

    private init(address: ListenAddress, channel: Channel, stopping: NIOLockedValueBox<Bool>) {
        self.address = address
        self.channel = channel
        self.stoppingBox = stopping
    }

    /// The address bound (the port chosen when port 0 was asked).
    var localAddress: SocketAddress? { channel.localAddress }

    /// Binds `address` and starts answering.
    /// - Throws: `StatsSocketError` naming `location` when the address cannot be bound.
    /// - Parameter idleTimeout: how long a connection may send no request (or not read its answers).
    static func start(
        _ address: ListenAddress, location: SourceLocation?, api: RuntimeAPI, metrics: MetricsExporter,
        group: any EventLoopGroup, logger: Logger, idleTimeout: TimeAmount = .seconds(10)
    ) async throws -> MetricsServer {
        let place = location.map { "\($0): " } ?? ""
        guard case .tcp(let host, let port) = address else {
            throw StatsSocketError("\(place)'metrics-bind' must be ADDR:PORT")
        }
        let stopping = NIOLockedValueBox(false)
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ConnectionCapHandler())
                    }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        // Pipelined requests are queued (and capped) by MetricsHTTPHandler itself, which answers
                        // only while the client reads.
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: false, withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            MetricsHTTPHandler(api: api, metrics: metrics, stopping: stopping))
                    }
                }
                .bind(host: host.isEmpty ? "0.0.0.0" : host, port: port).get()
        } catch {
            throw StatsSocketError("\(place)cannot listen for metrics on \(address): \(error)")
        }
        logger.info("metrics listening", metadata: ["address": "\(address)"])
        return MetricsServer(address: address, channel: channel, stopping: stopping)
    }

    /// From now on `/health` reports the frontends as not listening (the daemon is draining).
    func markStopping() { stoppingBox.withLockedValue { $0 = true } }

    /// Stops answering.
    func close() async { try? await channel.close() }

    /// Keeps `server` when `address` is unchanged, else closes it and opens `address` (logging a failure:
    /// the proxy has already switched to the new configuration).
    static func reload(
        _ server: MetricsServer?, to address: ListenAddress?, location: SourceLocation?, api: RuntimeAPI,
        metrics: MetricsExporter, group: any EventLoopGroup, logger: Logger
    ) async -> MetricsServer? {
        if let server, server.address == address { return server }
        await server?.close()
        guard let address else { return nil }
        do {
            return try await start(
                address, location: location, api: api, metrics: metrics, group: group, logger: logger)
        } catch {
            logger.error("reload: \(error)")
            return nil
        }
    }
}

/// Answers the requests of one metrics connection, in order, only while the client reads.
///
/// A client that pipelines requests and never reads its answers must not make the server build and buffer
/// every body (measured before: RSS 27 → 51 MiB): an answer is written only while the channel is writable,
/// no more input is read while answers wait, at most `maxPipelined` requests may wait (more closes the
/// connection: Prometheus never pipelines), and the idle event (no request for 10 s, also while answers wait
/// for a client that does not read) closes the connection.
///
/// Lives on its channel's event loop; not `Sendable`.
private final class MetricsHTTPHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests received and not yet answered, at most.
    static let maxPipelined = 16

    private let api: RuntimeAPI
    private let metrics: MetricsExporter
    private let stopping: NIOLockedValueBox<Bool>
    /// The request whose head arrived and whose end has not.
    private var request: HTTPRequestHead?
    /// Complete requests waiting for the channel to be writable.
    private var waiting: [HTTPRequestHead] = []
    /// The connection is closing (after `Connection: close`, too many pipelined requests, or idle).
    private var closing = false
    private var readHeld = false

    init(api: RuntimeAPI, metrics: MetricsExporter, stopping: NIOLockedValueBox<Bool>) {
        self.api = api
        self.metrics = metrics
        self.stopping = stopping
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            waiting.append(head)
            if waiting.count > Self.maxPipelined {
                close(context: context)
                return
            }
            answerWaiting(context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        guard !closing else { return }
        if !waiting.isEmpty || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            answerWaiting(context: context)
            if readHeld, waiting.isEmpty, !closing {
                readHeld = false
                context.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { close(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    private func answerWaiting(context: ChannelHandlerContext) {
        while !closing, context.channel.isWritable, !waiting.isEmpty {
            respond(to: waiting.removeFirst(), context: context)
        }
    }

    private func close(context: ChannelHandlerContext) {
        closing = true
        waiting = []
        context.close(promise: nil)
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        let contentType: String
        let body: String
        if head.method != .GET && head.method != .HEAD {
            (status, contentType, body) = (.methodNotAllowed, "text/plain; charset=utf-8", "method not allowed\n")
        } else if path == "/metrics" {
            let text = metrics.exposition(of: api.proxy)
            (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", text)
        } else if path == "/health" {
            let problems = MetricsExporter.problems(
                proxy: api.proxy, stopping: stopping.withLockedValue { $0 })
            (status, contentType, body) = (
                problems.isEmpty ? .ok : .serviceUnavailable, "application/json",
                MetricsExporter.healthBody(problems)
            )
        } else {
            (status, contentType, body) = (.notFound, "text/plain; charset=utf-8", "not found\n")
        }
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(buffer.readableBytes)")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        var response = HTTPResponseHead(version: head.version, status: status, headers: headers)
        response.headers = headers
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        let channel = context.channel
        if !keepAlive {
            closing = true
            waiting = []
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
