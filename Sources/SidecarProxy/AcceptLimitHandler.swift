import NIOCore

/// The handler of a listening channel that enforces `maxconn` (global, frontend, bind) the way HAProxy
/// does: at the limit the listener stops accepting, so new clients wait in the kernel's backlog instead of
/// being accepted and dropped; when a connection closes, accepting resumes.
///
/// It holds the listening channel's `read()` (one `read()` is one `accept()`, as it sets
/// `maxMessagesPerRead` to 1 when a limit exists) until a slot is reserved in every gate, and counts each
/// accepted channel in the gates until that channel closes. Without limits it only counts.
///
/// Lives on the listening channel's event loop. Gates are woken from other loops through a `Waiter` that
/// hops back onto this loop.
final class AcceptLimitHandler: ChannelDuplexHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel
    typealias OutboundIn = Never

    private let gates: ConnectionGates
    private var context: ChannelHandlerContext?
    private var waiter: ConnectionGate.Waiter?
    /// A slot is reserved in every gate for the next accepted channel.
    private var reserved = false
    /// A `read()` is held until a slot frees.
    private var readHeld = false

    init(gates: ConnectionGates) {
        self.gates = gates
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        waiter = ConnectionGate.Waiter { loop.execute { bound.value.slotFreed() } }
        if gates.limited {
            // One accept per read, so a reservation covers exactly one connection.
            _ = context.channel.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        if let waiter {
            gates.bind.forget(waiter)
            gates.frontend.forget(waiter)
            gates.global.forget(waiter)
        }
        if reserved {
            reserved = false
            gates.bind.cancelReservation()
            gates.frontend.cancelReservation()
            gates.global.cancelReservation()
        }
    }

    func read(context: ChannelHandlerContext) {
        if reserved || reserve() {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let gates = self.gates
        if reserved {
            reserved = false
            gates.bind.admitReserved()
            gates.frontend.admitReserved()
            gates.global.admitReserved()
        } else {
            // Accepted without a reservation (a read from before this handler): count it all the same.
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
        guard readHeld, let context else { return }
        readHeld = false
        read(context: context)
    }

    /// Reserves a slot in all three gates, or none: a full gate registers the waiter and the slots already
    /// taken are given back.
    private func reserve() -> Bool {
        guard let waiter else { return false }
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
        reserved = true
        return true
    }
}
