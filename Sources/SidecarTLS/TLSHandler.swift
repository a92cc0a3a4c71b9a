import NIOCore

/// A SwiftNIO channel handler that runs TLS over system OpenSSL: ciphertext on the network side (below),
/// plaintext on the application side (above), in the client or the server role.
///
/// Events it produces, upwards: `TLSHandshakeCompleted` (user event) once, before any plaintext;
/// `ChannelEvent.inputClosed` when the peer sent close_notify (TLS 1.3 still lets us write);
/// `TLSError` through `errorCaught` before it closes the channel on failure.
/// Requests it understands, downwards: `write`/`flush` of plaintext (held until the handshake is done),
/// `close(mode: .output)` sends close_notify and shuts the TCP write side, `close(mode: .all)` sends
/// close_notify (best effort) and closes.
///
/// The channel must have `ChannelOptions.allowRemoteHalfClosure` on, so that TCP EOF arrives as
/// `ChannelEvent.inputClosed` and an EOF without close_notify can be told from a clean close.
///
/// Threading: lives on its channel's event loop, like every handler; not `Sendable`.
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Where the connection is. Each direction closes on its own after the handshake: `inputClosed` is
    /// the peer's close_notify seen, `outputClosed` is ours sent; both together close the channel.
    enum State {
        /// Added, channel not active yet.
        case idle
        case handshaking
        case active
        case inputClosed
        case outputClosed
        /// Closed, or failed and closing: nothing more is read or written.
        case closed
    }

    private let context: TLSContext
    private let serverName: String?
    private let expectedPeerName: String?
    private let sessionKey: String?
    private let handshakeTimeout: TimeAmount?
    private var connection: TLSConnection?
    private var state: State = .idle
    /// Plaintext written before the handshake finished, with a pending flush flag.
    private var pendingWrites: CircularBuffer<(ByteBuffer, EventLoopPromise<Void>?)> = .init(initialCapacity: 4)
    private var pendingFlush = false
    private var pendingOutputClose: EventLoopPromise<Void>?
    private var pendingOutputCloseRequested = false
    /// Promises of plaintext writes whose records sit in the connection's outbound buffer.
    private var unflushedPromise: EventLoopPromise<Void>?
    private var handshakeTimer: Scheduled<Void>?
    private var handshakeStarted: NIODeadline?
    /// Set while decrypting, so a plaintext burst ends with one `channelReadComplete`.
    private var producedPlaintext = false
    /// The handler directly above, when it takes plaintext straight from here (see `TLSPlaintextReceiver`).
    /// Held strongly; the receiver or `handlerRemoved` lets go.
    private var plaintextReceiver: (any TLSPlaintextReceiver)?

    /// - Parameters:
    ///   - context: the `SSL_CTX` wrapper; its role decides client or server.
    ///   - serverName: client role: the SNI to send.
    ///   - expectedPeerName: client role: the name the server certificate must carry (nil: chain only).
    ///   - sessionKey: client role: the resumption cache key (e.g. the server address); nil: no resumption.
    ///   - handshakeTimeout: the handshake must finish within this time, or the connection is closed.
    public init(
        context: TLSContext, serverName: String? = nil, expectedPeerName: String? = nil, sessionKey: String? = nil,
        handshakeTimeout: TimeAmount? = .seconds(10)
    ) {
        self.context = context
        self.serverName = serverName
        self.expectedPeerName = expectedPeerName
        self.sessionKey = sessionKey
        self.handshakeTimeout = handshakeTimeout
    }

    // MARK: life cycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        plaintextReceiver = nil
        handshakeTimer?.cancel()
        failPendingWrites(ChannelError.ioOnClosedChannel)
    }

    private func start(context: ChannelHandlerContext) {
        guard case .idle = state else { return }
        do {
            connection = try TLSConnection(
                context: self.context, allocator: context.channel.allocator, serverName: serverName,
                expectedPeerName: expectedPeerName, sessionKey: sessionKey)
        } catch {
            fail(error as! TLSError, context: context)
            return
        }
        state = .handshaking
        handshakeStarted = .now()
        if let handshakeTimeout {
            // Both values stay on this event loop; the timer is cancelled when the handshake ends or fails.
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            handshakeTimer = context.eventLoop.scheduleTask(in: handshakeTimeout) {
                let (handler, context) = bound.value
                guard case .handshaking = handler.state else { return }
                let seconds = Double(handshakeTimeout.nanoseconds) / 1e9
                handler.fail(TLSError(.handshakeTimeout, "no TLS handshake within \(seconds)s"), context: context)
            }
        }
        if self.context.role == .client { advanceHandshake(context: context) }
        // The handshake needs reads even while the application above holds them back (the relay does until
        // the pair is linked).
        context.read()
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard let connection else { return }
        switch state {
        case .handshaking:
            connection.feed(&buffer)
            advanceHandshake(context: context)
        case .active, .outputClosed:
            let fed = buffer.readableBytes
            connection.feed(&buffer)
            decrypt(context: context, expecting: fed)
        case .idle, .inputClosed, .closed:
            // Nothing may follow close_notify; bytes after a failure are dropped.
            break
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        writeOutbound(context: context)
        if case .handshaking = state { context.read() }
        if producedPlaintext {
            producedPlaintext = false
            passReadComplete(context: context)
        } else if case .active = state {
            // Nothing decrypted yet (partial record): ask for more if autoRead is off upstream.
            passReadComplete(context: context)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // TCP EOF. After close_notify it is the normal end; before it, OpenSSL reports what it means.
        connection?.feedEOF()
        switch state {
        case .handshaking:
            advanceHandshake(context: context)
        case .active, .outputClosed:
            decrypt(context: context)
        case .idle, .inputClosed, .closed:
            break
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        switch state {
        case .handshaking:
            state = .closed
            context.fireErrorCaught(TLSError(.handshakeFailed, "peer closed the connection during the handshake"))
        case .active, .outputClosed:
            state = .closed
            context.fireErrorCaught(TLSError(.uncleanShutdown, "peer closed TCP without a TLS close_notify"))
        case .idle, .inputClosed, .closed:
            state = .closed
        }
        failPendingWrites(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        guard let connection else { return }
        switch connection.handshake() {
        case .done:
            handshakeTimer?.cancel()
            handshakeTimer = nil
            state = .active
            writeOutbound(context: context)
            context.flush()
            var completed = TLSHandshakeCompleted(
                peer: connection.peerCertificate(), protocolVersion: connection.protocolVersion,
                cipher: connection.cipher, sessionReused: connection.sessionReused, alpn: connection.negotiatedALPN,
                serverName: self.context.role == .server ? connection.requestedServerName : nil)
            if let handshakeStarted {
                completed.duration = .nanoseconds((NIODeadline.now() - handshakeStarted).nanoseconds)
            }
            context.fireUserInboundEventTriggered(completed)
            guard case .active = state else { return }  // closed by whoever handled the event
            replayPendingWrites(context: context)
            decrypt(context: context)
        case .wantRead:
            writeOutbound(context: context)
        case .closed:
            fail(TLSError(.handshakeFailed, "peer closed the connection during the handshake"), context: context)
        case .failed(let error):
            fail(error, context: context)
        }
    }

    /// Decrypts everything OpenSSL can from what was fed, passing plaintext up in as few buffers as fit.
    ///
    /// - Parameter expecting: ciphertext bytes just fed. Without read-ahead OpenSSL buffers no more than the
    ///   record in progress, so the plaintext fits in that many bytes: small messages get small buffers.
    private func decrypt(context: ChannelHandlerContext, expecting: Int = 16 * 1024) {
        guard let connection else { return }
        var plaintext = connection.allocator.buffer(capacity: Self.plaintextCapacity(expecting))
        loop: while true {
            if plaintext.writableBytes == 0 {
                producedPlaintext = true
                pass(plaintext, context: context)
                plaintext = connection.allocator.buffer(capacity: Self.plaintextCapacity(expecting))
            }
            switch connection.read(into: &plaintext) {
            case .done:
                if connection.mayReadMore { continue }
                break loop
            case .wantRead:
                break loop
            case .closed:
                if plaintext.readableBytes > 0 {
                    producedPlaintext = true
                    pass(plaintext, context: context)
                    plaintext.clear()
                }
                peerSentCloseNotify(context: context)
                return
            case .failed(let error):
                if plaintext.readableBytes > 0 {
                    pass(plaintext, context: context)
                }
                fail(error, context: context)
                return
            }
        }
        if plaintext.readableBytes > 0 {
            producedPlaintext = true
            pass(plaintext, context: context)
        }
        // Post-handshake messages (key updates) may need an answer.
        if connection.hasOutbound {
            writeOutbound(context: context)
            context.flush()
        }
    }

    /// Hands decrypted bytes to the handler above: straight to a `TLSPlaintextReceiver` if one is set,
    /// else through the pipeline.
    private func pass(_ plaintext: ByteBuffer, context: ChannelHandlerContext) {
        if let plaintextReceiver {
            plaintextReceiver.tlsPlaintextRead(plaintext)
        } else {
            context.fireChannelRead(wrapInboundOut(plaintext))
        }
    }

    private func passReadComplete(context: ChannelHandlerContext) {
        if let plaintextReceiver {
            plaintextReceiver.tlsPlaintextReadComplete()
        } else {
            context.fireChannelReadComplete()
        }
    }

    /// Sends decrypted bytes and read-complete to `receiver` directly instead of through the pipeline, or
    /// through the pipeline again with nil. Only for the handler directly above this one: a handler in between
    /// would be skipped. Every other event still goes through the pipeline, in the same order as before.
    package func passPlaintext(to receiver: (any TLSPlaintextReceiver)?) {
        plaintextReceiver = receiver
    }

    /// Plaintext buffers are at most 64 KiB: larger ones would come from fresh `mmap`ed memory each time
    /// (glibc's threshold), page-faulting on every use, while 64 KiB blocks are recycled by malloc and stay in
    /// cache. A large read is passed on as several buffers, written with one flush.
    private static func plaintextCapacity(_ expecting: Int) -> Int {
        min(max(expecting, 64), 64 * 1024)
    }

    private func peerSentCloseNotify(context: ChannelHandlerContext) {
        switch state {
        case .active:
            state = .inputClosed
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        case .outputClosed:
            state = .closed
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            context.close(promise: nil)
        case .idle, .handshaking, .inputClosed, .closed:
            break
        }
    }

    // MARK: outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        write(unwrapOutboundIn(data), promise: promise, context: context)
    }

    /// `write(context:data:promise:)` for the handler directly above, called directly with this handler's own
    /// context and the plaintext as it is: no `NIOAny` to wrap and unwrap (see `TLSPlaintextReceiver`).
    package func write(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        switch state {
        case .idle, .handshaking:
            pendingWrites.append((buffer, promise))
        case .active, .inputClosed:
            encrypt(buffer, promise: promise, context: context)
        case .outputClosed, .closed:
            promise?.fail(ChannelError.outputClosed)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .idle, .handshaking:
            pendingFlush = true
        case .active, .inputClosed, .outputClosed:
            writeOutbound(context: context)
            context.flush()
        case .closed:
            break
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .output:
            closeOutput(context: context, promise: promise)
        case .input:
            context.close(mode: .input, promise: promise)
        case .all:
            switch state {
            case .active, .inputClosed:
                connection?.shutdown()
                writeOutbound(context: context)
                context.flush()
            case .idle, .handshaking, .outputClosed, .closed:
                break
            }
            state = .closed
            handshakeTimer?.cancel()
            failPendingWrites(ChannelError.ioOnClosedChannel)
            context.close(mode: .all, promise: promise)
        }
    }

    private func closeOutput(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        switch state {
        case .idle, .handshaking:
            // Sent after the buffered writes, once the handshake is done.
            pendingOutputCloseRequested = true
            if let promise {
                if let pending = pendingOutputClose {
                    pending.futureResult.cascade(to: promise)
                } else {
                    pendingOutputClose = promise
                }
            }
        case .active:
            state = .outputClosed
            sendCloseNotify(context: context) { context in context.close(mode: .output, promise: promise) }
        case .inputClosed:
            // Both directions are now done: close_notify out, then close the socket.
            state = .closed
            sendCloseNotify(context: context) { context in context.close(mode: .all, promise: promise) }
        case .outputClosed, .closed:
            promise?.succeed()
        }
    }

    /// Queues close_notify behind every pending record and runs `then` once all of it is written: closing
    /// the socket earlier would throw away records still waiting in the channel (NIO fails pending writes on
    /// a full close).
    private func sendCloseNotify(context: ChannelHandlerContext, then: @escaping (ChannelHandlerContext) -> Void) {
        connection?.shutdown()
        let written = context.eventLoop.makePromise(of: Void.self)
        if let unflushed = unflushedPromise { written.futureResult.cascade(to: unflushed) }
        unflushedPromise = written
        writeOutbound(context: context, always: true)
        context.flush()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in then(bound.value) }
    }

    private func encrypt(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        guard let connection else { return }
        switch connection.write(buffer) {
        case .done:
            if let promise {
                if let unflushed = unflushedPromise {
                    unflushed.futureResult.cascade(to: promise)
                } else {
                    unflushedPromise = promise
                }
            }
        case .wantRead, .closed:
            promise?.fail(ChannelError.outputClosed)
        case .failed(let error):
            promise?.fail(error)
            fail(error, context: context)
        }
    }

    /// Writes the ciphertext OpenSSL produced (without flushing), carrying the plaintext writes' promises.
    /// With `always`, writes even when there are no records, so pending promises complete in order.
    private func writeOutbound(context: ChannelHandlerContext, always: Bool = false) {
        guard let connection else { return }
        let records: ByteBuffer
        if let taken = connection.takeOutbound() {
            records = taken
        } else if always || unflushedPromise != nil {
            records = context.channel.allocator.buffer(capacity: 0)
        } else {
            return
        }
        let promise = unflushedPromise
        unflushedPromise = nil
        context.write(wrapOutboundOut(records), promise: promise)
        if case .handshaking = state { context.flush() }
    }

    private func replayPendingWrites(context: ChannelHandlerContext) {
        while let (buffer, promise) = pendingWrites.popFirst() {
            encrypt(buffer, promise: promise, context: context)
        }
        if pendingFlush || pendingOutputCloseRequested {
            pendingFlush = false
            writeOutbound(context: context)
            context.flush()
        }
        if pendingOutputCloseRequested {
            pendingOutputCloseRequested = false
            let promise = pendingOutputClose
            pendingOutputClose = nil
            closeOutput(context: context, promise: promise)
        }
    }

    private func failPendingWrites(_ error: any Error) {
        while let (_, promise) = pendingWrites.popFirst() { promise?.fail(error) }
        unflushedPromise?.fail(error)
        unflushedPromise = nil
        pendingOutputClose?.fail(error)
        pendingOutputClose = nil
    }

    /// Sends what OpenSSL queued (an alert), reports the error upwards and closes.
    private func fail(_ error: TLSError, context: ChannelHandlerContext) {
        if case .closed = state { return }
        state = .closed
        handshakeTimer?.cancel()
        writeOutbound(context: context)
        context.flush()
        failPendingWrites(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

extension TLSHandler {
    /// What a connection holds between bursts, for the structural tests of the data path: nothing should be
    /// queued on either side and OpenSSL should have given its buffers back.
    struct IdleState {
        var queuedCiphertext: Int
        var pendingOutbound: Bool
        var openSSLHoldsBytes: Bool
        var pendingWrites: Int
        var releasesBuffers: Bool
    }

    var idleState: IdleState {
        IdleState(
            queuedCiphertext: connection?.queuedCiphertext ?? 0, pendingOutbound: connection?.hasOutbound ?? false,
            openSSLHoldsBytes: connection?.mayReadMore ?? false, pendingWrites: pendingWrites.count,
            releasesBuffers: connection?.releasesBuffers ?? false)
    }
}
