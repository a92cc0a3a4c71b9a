import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// An echo server on a Unix socket that counts the connections it accepted. Half-close aware: after the
/// client's EOF it finishes echoing and then closes its side.
package final class EchoServer: Sendable {
    package let path: String
    package let channel: Channel
    private let acceptedBox: NIOLockedValueBox<Int>

    package var accepted: Int { acceptedBox.withLockedValue { $0 } }

    /// - Parameter closesAfterInput: after the client's EOF, finish echoing and close (true), or keep the
    ///   connection open, half-closed, until the other side closes it (false).
    package static func start(path: String, group: any EventLoopGroup, closesAfterInput: Bool = true) async throws
        -> EchoServer
    {
        let accepted = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(closesAfterInput: closesAfterInput))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        return EchoServer(path: path, channel: channel, accepted: accepted)
    }

    private init(path: String, channel: Channel, accepted: NIOLockedValueBox<Int>) {
        self.path = path
        self.channel = channel
        self.acceptedBox = accepted
    }

    package func close() async { try? await channel.close() }

    private final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let closesAfterInput: Bool
        init(closesAfterInput: Bool) { self.closesAfterInput = closesAfterInput }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.write(data, promise: nil)
        }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event, closesAfterInput {
                // NIO turns an output close after input EOF into a full close that drops pending writes, so
                // close only once an empty write (queued behind the echoes) has completed.
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(NIOAny(ByteBuffer())).whenComplete { _ in
                    bound.value.close(mode: .output, promise: nil)
                }
            }
        }
    }
}
