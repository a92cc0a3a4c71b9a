import NIOCore
import SidecarTLS

/// The handler above `TLSHandler` in a probe's channel: reports when TCP connected, how the handshake
/// ended, and then what the server did in the short wait that follows, which is when a TLS 1.3 server's
/// verdict on our certificate arrives.
///
/// Threading: lives on its channel's event loop; it hands results out through promises only.
final class ProbeTLSObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// What the server did after the handshake.
    enum Verdict: Sendable {
        /// It sent a session ticket: a TLS 1.3 server does that only after it accepted our certificate.
        case sessionTicket
        /// It sent application data (its protocol speaks first).
        case applicationData(bytes: Int)
        /// It sent close_notify.
        case closed
        /// TCP closed without close_notify.
        case disconnected
        /// A TLS error, typically the alert that refuses our certificate.
        case failed(TLSError)
        /// Nothing within the wait: no refusal.
        case quiet
    }

    /// The moments that make up the report.
    struct Handshake: Sendable {
        var completed: TLSHandshakeCompleted
        var connectedAt: NIODeadline
        var completedAt: NIODeadline
    }

    private enum State {
        case handshaking(connectedAt: NIODeadline)
        case waitingForVerdict(timer: Scheduled<Void>?)
        case finished
    }

    private var state: State
    private let handshake: EventLoopPromise<Handshake>
    private let verdict: EventLoopPromise<Verdict>
    private let verdictWait: TimeAmount
    private let context: TLSContext
    private let sessionKey: String

    /// - Parameters:
    ///   - connectedAt: when TCP connected; the observer is added to a connected channel.
    ///   - verdictWait: how long to wait after the handshake for a refusal before calling it `.quiet`.
    ///   - context: the probe's client context, to see whether a ticket for `sessionKey` arrived.
    init(
        connectedAt: NIODeadline, handshake: EventLoopPromise<Handshake>, verdict: EventLoopPromise<Verdict>,
        verdictWait: TimeAmount, context: TLSContext, sessionKey: String
    ) {
        self.state = .handshaking(connectedAt: connectedAt)
        self.handshake = handshake
        self.verdict = verdict
        self.verdictWait = verdictWait
        self.context = context
        self.sessionKey = sessionKey
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let completed = event as? TLSHandshakeCompleted, case .handshaking(let connectedAt) = state {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let timer = context.eventLoop.scheduleTask(in: verdictWait) {
                let (observer, context) = bound.value
                observer.finish(.quiet, context: context)
            }
            state = .waitingForVerdict(timer: timer)
            handshake.succeed(Handshake(completed: completed, connectedAt: connectedAt, completedAt: .now()))
            // A TLS 1.2 server verified our certificate before its Finished: nothing more to wait for.
            if completed.protocolVersion != "TLSv1.3" { finish(.quiet, context: context) }
        } else if let event = event as? ChannelEvent, case .inputClosed = event {
            finish(.closed, context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        finish(.applicationData(bytes: unwrapInboundIn(data).readableBytes), context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .waitingForVerdict = state, self.context.hasSession(for: sessionKey) {
            finish(.sessionTicket, context: context)
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch state {
        case .handshaking:
            state = .finished
            handshake.fail(error)
            verdict.fail(error)
        case .waitingForVerdict:
            if let error = error as? TLSError, error.code == TLSError.uncleanShutdown {
                finish(.disconnected, context: context)
            } else if let error = error as? TLSError {
                finish(.failed(error), context: context)
            } else {
                finish(.disconnected, context: context)
            }
        case .finished:
            break
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .handshaking:
            state = .finished
            // TCP closed and TLSHandler reported nothing (it reports what it can first).
            handshake.fail(ChannelError.eof)
            verdict.fail(ChannelError.eof)
        case .waitingForVerdict:
            finish(.disconnected, context: context)
        case .finished:
            break
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Never leave a promise unfulfilled, whatever removed us.
        if case .finished = state { return }
        if case .waitingForVerdict(let timer) = state { timer?.cancel() }
        state = .finished
        handshake.fail(ChannelError.ioOnClosedChannel)
        verdict.fail(ChannelError.ioOnClosedChannel)
    }

    private func finish(_ result: Verdict, context: ChannelHandlerContext) {
        guard case .waitingForVerdict(let timer) = state else { return }
        timer?.cancel()
        state = .finished
        verdict.succeed(result)
    }
}
