import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// The handler of a listening channel that enforces `maxconn` (global, frontend, bind) the way HAProxy
/// does: at the limit the listener stops accepting, so new clients wait in the kernel's backlog instead of
/// being accepted and dropped; when a connection closes, accepting resumes.
///
/// It holds the listening channel's `read()` until a slot is reserved in every gate, and counts each
/// accepted channel in the gates it reserved until that channel closes. It sets `maxMessagesPerRead` to 1
/// so that one `read()` is one `accept()` and a reservation covers exactly one connection (one more
/// `epoll_wait` per accepted connection; negligible at D-Bus connection rates).
///
/// The gates are read from `currentGates` at each reservation, so a listener kept across a reload counts
/// new connections against the new plan's gates while each older connection releases the gates it was
/// admitted into.
///
/// When `accept` fails for lack of descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`), NIO
/// keeps the listener open, reports the error here, and leaves its read pending: the socket stays
/// registered for readability, and as the failed connection is still in the backlog, `epoll` reports it at
/// once again: a busy loop (measured: 4.4 CPU-seconds in 3 s). Holding `read()` cannot stop that, since no
/// new `read()` is asked for; turning `autoRead` off can (NIO then unregisters the socket from `epoll`). So
/// the listener turns `autoRead` off for `backoff` (the kernel keeps new clients in the backlog), then on
/// again, which retries the accept with the slot still reserved for it; it logs the condition at most once
/// per `logInterval`, with the number of failures in between.
///
/// Lives on the listening channel's event loop. Gates wake it from other loops through a `Waiter` that hops
/// back onto this loop.
final class AcceptLimitHandler: ChannelDuplexHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel
    typealias OutboundIn = Never

    private let currentGates: @Sendable () -> ConnectionGates
    private var context: ChannelHandlerContext?
    private var waiter: ConnectionGate.Waiter?
    /// Why the listener is not accepting, if it is not.
    private enum Pause {
        /// A gate is full; a `read()` is held until a slot frees.
        case waitingForSlot
        /// `accept` failed for lack of resources; `autoRead` is off until the timer fires.
        case backingOff(until: Scheduled<Void>)
    }

    /// How long accepting stops after `accept` failed for lack of descriptors or memory.
    static let backoff: TimeAmount = .milliseconds(100)
    /// At most one log line per this interval about failing accepts.
    static let logInterval: TimeAmount = .seconds(10)

    /// The gates holding a slot for the next accepted channel.
    private var reserved: ConnectionGates?
    private var pause: Pause?
    private let logger: Logger
    private let address: String
    private var lastLogged: NIODeadline?
    private var failuresSinceLog = 0

    /// - Parameters:
    ///   - gates: the gates new connections count against now (they change on reload).
    ///   - address: the listening address, for the log.
    init(gates: @escaping @Sendable () -> ConnectionGates, logger: Logger, address: String) {
        self.currentGates = gates
        self.logger = logger
        self.address = address
    }

    convenience init(gates: ConnectionGates, logger: Logger = Logger(label: "sidecar"), address: String = "-") {
        self.init(gates: { gates }, logger: logger, address: address)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        waiter = ConnectionGate.Waiter { loop.execute { bound.value.slotFreed() } }
        _ = context.channel.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        if case .backingOff(let timer) = pause { timer.cancel() }
        pause = nil
        if let waiter {
            let gates = currentGates()
            gates.bind.forget(waiter)
            gates.frontend.forget(waiter)
            gates.global.forget(waiter)
            // The waiter's closure holds this handler (and its event loop): let it go, or the two keep each
            // other alive after the listener closed (one cycle per listener per reload).
            self.waiter = nil
        }
        if let reserved {
            self.reserved = nil
            reserved.bind.cancelReservation()
            reserved.frontend.cancelReservation()
            reserved.global.cancelReservation()
        }
    }

    func read(context: ChannelHandlerContext) {
        // An explicit read (a reload re-checking the limits) waits for the back-off to end.
        if case .backingOff = pause { return }
        if reserved != nil || reserve() {
            pause = nil
            context.read()
        } else {
            pause = .waitingForSlot
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let code = (error as? IOError)?.errnoCode, [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(code) else {
            context.fireErrorCaught(error)
            return
        }
        failuresSinceLog += 1
        let now = NIODeadline.now()
        if lastLogged.map({ now - $0 >= Self.logInterval }) ?? true {
            let reason = String(cString: strerror(code))
            let milliseconds = Self.backoff.nanoseconds / 1_000_000
            logger.warning(
                "cannot accept connections: \(reason); pausing accepts for \(milliseconds) ms at a time until resources free up",
                metadata: ["address": "\(address)", "failures": "\(failuresSinceLog)"])
            lastLogged = now
            failuresSinceLog = 0
        }
        if case .backingOff = pause { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timer = context.eventLoop.scheduleTask(in: Self.backoff) { bound.value.backoffEnded() }
        pause = .backingOff(until: timer)
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let gates: ConnectionGates
        if let reserved {
            gates = reserved
            self.reserved = nil
            gates.bind.admitReserved()
            gates.frontend.admitReserved()
            gates.global.admitReserved()
        } else {
            // Accepted by a read issued before this handler was added: count it all the same.
            gates = currentGates()
            gates.bind.admitUnreserved()
            gates.frontend.admitUnreserved()
            gates.global.admitUnreserved()
        }
        child.closeFuture.whenComplete { _ in
            gates.bind.connectionClosed()
            gates.frontend.connectionClosed()
            gates.global.connectionClosed()
        }
        context.fireChannelRead(data)
    }

    private func slotFreed() {
        guard case .waitingForSlot = pause, let context else { return }
        pause = nil
        read(context: context)
    }

    /// Accepts again: turning `autoRead` on re-registers the socket and retries the accept that failed (its
    /// slot is still reserved).
    private func backoffEnded() {
        guard case .backingOff = pause, let context else { return }
        pause = nil
        try? context.channel.syncOptions?.setOption(.autoRead, value: true)
    }

    /// Reserves a slot in all three gates, or none: a full gate registers the waiter and the slots already
    /// taken are given back.
    private func reserve() -> Bool {
        guard let waiter else { return false }
        let gates = currentGates()
        guard gates.bind.reserve(orWait: waiter) else { return false }
        guard gates.frontend.reserve(orWait: waiter) else {
            gates.bind.cancelReservation()
            return false
        }
        guard gates.global.reserve(orWait: waiter) else {
            gates.bind.cancelReservation()
            gates.frontend.cancelReservation()
            return false
        }
        reserved = gates
        return true
    }
}
