import NIOCore

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
/// Lives on the listening channel's event loop. Gates wake it from other loops through a `Waiter` that hops
/// back onto this loop.
final class AcceptLimitHandler: ChannelDuplexHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel
    typealias OutboundIn = Never

    private let currentGates: @Sendable () -> ConnectionGates
    private var context: ChannelHandlerContext?
    private var waiter: ConnectionGate.Waiter?
    /// The gates holding a slot for the next accepted channel.
    private var reserved: ConnectionGates?
    /// A `read()` is held until a slot frees.
    private var readHeld = false

    /// - Parameter gates: the gates new connections count against now (they change on reload).
    init(gates: @escaping @Sendable () -> ConnectionGates) {
        self.currentGates = gates
    }

    convenience init(gates: ConnectionGates) {
        self.init(gates: { gates })
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
        readHeld = false
        if let waiter {
            let gates = currentGates()
            gates.bind.forget(waiter)
            gates.frontend.forget(waiter)
            gates.global.forget(waiter)
        }
        if let reserved {
            self.reserved = nil
            reserved.bind.cancelReservation()
            reserved.frontend.cancelReservation()
            reserved.global.cancelReservation()
        }
    }

    func read(context: ChannelHandlerContext) {
        if reserved != nil || reserve() {
            context.read()
        } else {
            readHeld = true
        }
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
        guard readHeld, let context else { return }
        readHeld = false
        read(context: context)
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
