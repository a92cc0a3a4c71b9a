import NIOCore
import SidecarTLS

/// One half of a relay: the last handler of a channel, paired with the `RelayHandler` of the other channel
/// (client side with server side), passing bytes across in both directions.
///
/// - Backpressure: a read is requested from this channel only while the partner channel is writable, so
///   neither side reads faster than the other drains. Each handler keeps its partner's writability in a flag
///   the partner updates (`channelWritabilityChanged`, close), so the read NIO asks for after every read burst
///   costs no look at the other channel.
/// - Before the pair is linked (while the backend is being connected and its handshake runs) reads are held
///   and anything that already arrived (bytes, EOF) is kept and handed over at `link`.
/// - Half-close: EOF on one channel closes the partner's output only; a channel whose input and output are
///   both closed is closed.
///
/// Both channels of a pair run on the same event loop (the backend is connected on the client's loop), so
/// partners call each other directly. Not `Sendable`.
///
/// On a TLS channel whose relay sits directly on the `TLSHandler` (every TLS channel but a client channel with
/// `option dbus`, whose filter sits between them), the pair also skips the pipeline between the two once
/// linked: the relay writes, flushes and asks for reads by calling the TLS handler with its own context, and
/// the TLS handler passes decrypted bytes straight to the relay (`TLSPlaintextReceiver`). The calls and their
/// order are those the pipeline would make; each skipped hop saved reference counting, an existential call and
/// `NIOAny` handling, five hops per relayed round trip on the TLS side.
final class RelayHandler: ChannelDuplexHandler, TLSPlaintextReceiver {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connection: ProxyConnection
    private let side: ProxyConnection.Side
    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Whether the partner's channel takes writes: false until linked and after the partner closed.
    private var partnerWritable = false
    private var held: CircularBuffer<ByteBuffer> = CircularBuffer(initialCapacity: 2)
    /// The TLS handler directly below this one, with its context, once linked (see the type's comment). The
    /// TLS handler holds this relay in turn; both let go in `handlerRemoved`.
    private var tlsBelow: (handler: TLSHandler, context: ChannelHandlerContext)?
    private var inputClosed = false
    private var outputClosed = false

    init(connection: ProxyConnection, side: ProxyConnection.Side) {
        self.connection = connection
        self.side = side
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        tlsBelow?.handler.passPlaintext(to: nil)
        tlsBelow = nil
    }

    /// Closes a channel whose both directions are finished; its output was closed only after its writes
    /// drained, so nothing is pending here.
    private func closeIfDone() {
        if inputClosed && outputClosed { context?.close(promise: nil) }
    }

    /// Pairs two handlers and releases whatever each held.
    static func link(_ first: RelayHandler, _ second: RelayHandler) {
        first.attachToTLSBelow()
        second.attachToTLSBelow()
        first.partner = second
        second.partner = first
        first.partnerWritable = second.channelWritable
        second.partnerWritable = first.channelWritable
        first.releaseHeld()
        second.releaseHeld()
    }

    /// Finds the TLS handler directly below, if any: the pipelines are built as TLS, then `option dbus`'s
    /// filter (client channel only), then this relay (`ProxyConnection.accept`, `connectNextServer`).
    private func attachToTLSBelow() {
        let operations = context?.pipeline.syncOperations
        guard let below = try? operations?.context(handlerType: TLSHandler.self),
            let handler = below.handler as? TLSHandler,
            (try? operations?.context(handlerType: DBusFilter.self)) == nil
        else { return }
        tlsBelow = (handler, below)
        handler.passPlaintext(to: self)
    }

    /// Asks the channel for a read: through the TLS handler directly when there is one below.
    private func readBelow(_ context: ChannelHandlerContext) {
        if let tlsBelow {
            tlsBelow.handler.read(context: tlsBelow.context)
        } else {
            context.read()
        }
    }

    private func releaseHeld() {
        guard let partner else { return }
        if !held.isEmpty {
            while let buffer = held.popFirst() { partner.partnerWrite(buffer) }
            partner.partnerFlush()
        }
        if inputClosed { partner.partnerCloseOutput() }
        if pendingRead, partnerWritable, let context {
            pendingRead = false
            readBelow(context)
        }
    }

    // MARK: inbound from our channel

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func tlsPlaintextRead(_ buffer: ByteBuffer) {
        received(buffer)
    }

    func tlsPlaintextReadComplete() {
        partner?.partnerFlush()
    }

    private func received(_ buffer: ByteBuffer) {
        connection.count(buffer.readableBytes, from: side)
        if let partner { partner.partnerWrite(buffer) } else { held.append(buffer) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
            connection.inputClosed(on: side)
            partner?.partnerCloseOutput()
            closeIfDone()
            return
        }
        connection.userEvent(event, on: side, from: self)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        partner?.partnerWritabilityChanged(to: context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.closed(side, from: self)
        let partner = self.partner
        self.partner = nil
        partner?.partnerClosed(cleanly: inputClosed && outputClosed)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.failed(side, error, from: self)
        context.close(promise: nil)
    }

    // MARK: outbound

    func read(context: ChannelHandlerContext) {
        if partnerWritable {
            readBelow(context)
        } else {
            pendingRead = true
        }
    }

    // MARK: called by the partner

    private var channelWritable: Bool { context?.channel.isWritable ?? false }

    private func partnerWrite(_ buffer: ByteBuffer) {
        if let tlsBelow {
            tlsBelow.handler.write(buffer, promise: nil, context: tlsBelow.context)
        } else {
            context?.write(wrapOutboundOut(buffer), promise: nil)
        }
    }

    private func partnerFlush() {
        if let tlsBelow {
            tlsBelow.handler.flush(context: tlsBelow.context)
        } else {
            context?.flush()
        }
    }

    private func partnerWritabilityChanged(to writable: Bool) {
        partnerWritable = writable
        guard writable, pendingRead, let context else { return }
        pendingRead = false
        readBelow(context)
    }

    private func partnerCloseOutput() {
        guard !outputClosed, let context else { return }
        outputClosed = true
        // An empty write completes after everything queued before it. Only then is the output closed: NIO
        // turns an output close on a channel whose input already ended into a full close, which would
        // discard writes still pending.
        let drained = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: drained)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        drained.futureResult.whenComplete { _ in bound.value.close(mode: .output, promise: nil) }
    }

    /// The partner channel closed. After an orderly end (both its directions finished) this side is already
    /// draining and closing its output in order, so it is left to finish; after an error or a reset nothing
    /// more can be relayed and this side closes now.
    private func partnerClosed(cleanly: Bool) {
        partnerWritable = false
        guard !cleanly, let context else { return }
        context.close(promise: nil)
    }

}
