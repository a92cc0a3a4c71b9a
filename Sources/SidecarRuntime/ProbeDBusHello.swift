import NIOCore

/// The handler of a `unix:` probe: on connect it sends a D-Bus `AUTH` line with no mechanism (optionally),
/// then reports the first line the far end sends, or how the connection ended.
///
/// `\0AUTH\r\n` is the most harmless thing a D-Bus client can say: every D-Bus server (sd-bus in
/// bluechi-controller, dbus-daemon) answers it with `REJECTED <mechanisms>` and waits for a real attempt,
/// so no session is created on the controller.
///
/// Threading: lives on its channel's event loop; it hands its result out through a promise only.
final class ProbeDBusHello: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The NUL byte every D-Bus client sends first, then `AUTH` without a mechanism.
    static let hello: [UInt8] = [0] + Array("AUTH\r\n".utf8)

    /// How the exchange ended.
    enum Outcome: Sendable {
        /// The far end sent a line (without its CRLF), after `elapsed` since connecting.
        case answered(String, elapsed: TimeAmount)
        /// The far end closed the connection first.
        case closed(elapsed: TimeAmount, sentBytes: Bool)
        /// Nothing happened within the wait; the connection is still open.
        case silent
    }

    private let outcome: EventLoopPromise<Outcome>
    private let sendHello: Bool
    private let wait: TimeAmount
    private var received: [UInt8] = []
    private var connectedAt: NIODeadline?
    private var timer: Scheduled<Void>?
    private var done = false

    init(outcome: EventLoopPromise<Outcome>, sendHello: Bool, wait: TimeAmount) {
        self.outcome = outcome
        self.sendHello = sendHello
        self.wait = wait
    }

    func channelActive(context: ChannelHandlerContext) {
        connectedAt = .now()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: wait) {
            let (handler, context) = bound.value
            handler.finish(.silent, context: context)
        }
        if sendHello {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: Self.hello)), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        received.append(contentsOf: buffer.readableBytesView)
        if let end = received.firstIndex(of: UInt8(ascii: "\n")) {
            var line = received[..<end]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            finish(.answered(String(decoding: line, as: UTF8.self), elapsed: elapsed), context: context)
        } else if received.count > 4096 {
            finish(.answered(String(decoding: received.prefix(200), as: UTF8.self), elapsed: elapsed), context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            finish(.closed(elapsed: elapsed, sentBytes: !received.isEmpty), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.closed(elapsed: elapsed, sentBytes: !received.isEmpty), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.closed(elapsed: elapsed, sentBytes: !received.isEmpty), context: context)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Never leave the promise unfulfilled, whatever removed us.
        finish(.closed(elapsed: elapsed, sentBytes: !received.isEmpty), context: nil)
    }

    private var elapsed: TimeAmount { NIODeadline.now() - (connectedAt ?? .now()) }

    /// Reports `result` once, then closes the connection (when `context` is given).
    private func finish(_ result: Outcome, context: ChannelHandlerContext?) {
        guard !done else { return }
        done = true
        timer?.cancel()
        outcome.succeed(result)
        context?.close(promise: nil)
    }
}
