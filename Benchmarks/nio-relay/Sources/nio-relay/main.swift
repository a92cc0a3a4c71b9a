// nio-relay LISTEN CONNECT: relays every connection accepted on LISTEN to a new connection to CONNECT, in both
// directions, with one SwiftNIO event-loop thread. Addresses: unix:/path or host:port. No TLS, no counters, no
// timers, no logging: the floor a SwiftNIO relay with sidecar's channel options cannot go below
// (Benchmarks/nio-floor.sh). Not part of the product.
import NIOCore
import NIOPosix

/// One half of a relay, as sidecar's RelayHandler without its bookkeeping: reads are requested only while the
/// partner channel is writable; EOF closes the partner's output.
final class Glue: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var partner: Glue?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var partnerWritable = true

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        partner?.partnerWritabilityChanged(to: context.channel.isWritable)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.context?.close(mode: .output, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        partner = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if partnerWritable { context.read() } else { pendingRead = true }
    }

    private func partnerWritabilityChanged(to writable: Bool) {
        partnerWritable = writable
        if writable, pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }
}

func address(_ text: String) throws -> SocketAddress {
    if text.hasPrefix("unix:") { return try SocketAddress(unixDomainSocketPath: String(text.dropFirst(5))) }
    let parts = text.split(separator: ":")
    return try SocketAddress(ipAddress: String(parts[0]), port: Int(parts[1])!)
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else { fatalError("usage: nio-relay LISTEN CONNECT") }
let listen = try address(arguments[1])
let target = try address(arguments[2])
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let allocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 256 * 1024)

let server = try ServerBootstrap(group: group)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.allowRemoteHalfClosure, value: true)
    .childChannelOption(.maxMessagesPerRead, value: 4)
    .childChannelOption(.recvAllocator, value: allocator)
    .childChannelInitializer { child in
        ClientBootstrap(group: child.eventLoop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.maxMessagesPerRead, value: 4)
            .channelOption(.recvAllocator, value: allocator)
            .connect(to: target)
            .flatMapThrowing { backend in
                let front = Glue()
                let back = Glue()
                front.partner = back
                back.partner = front
                try backend.pipeline.syncOperations.addHandler(back)
                try child.pipeline.syncOperations.addHandler(front)
            }
    }
    .bind(to: listen)
    .wait()
try server.closeFuture.wait()
