import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A client of the runtime API, as `socat` is: one connection per command, read until the server closes.
public enum RuntimeAPIClient {
    /// Sends `command` to the stats socket at `path` and returns the whole answer.
    /// - Throws: `StatsSocketError` when the socket cannot be reached or does not answer within `timeout`.
    public static func send(
        _ command: String, to path: String, timeout: TimeAmount = .seconds(10)
    ) async throws -> String {
        let group = MultiThreadedEventLoopGroup.singleton
        let answer = NIOLockedValueBox(ByteBuffer())
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Collector(answer: answer))
                    }
                }
                .connect(unixDomainSocketPath: path).get()
        } catch {
            throw StatsSocketError("cannot connect to stats socket \(path): \(error)")
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        try await channel.writeAndFlush(channel.allocator.buffer(string: command + "\n")).get()
        try await channel.closeFuture.get()
        return answer.withLockedValue { String(buffer: $0) }
    }

    /// Appends everything read; lives on the client channel's loop.
    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let answer: NIOLockedValueBox<ByteBuffer>
        init(answer: NIOLockedValueBox<ByteBuffer>) { self.answer = answer }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            answer.withLockedValue { _ = $0.writeBuffer(&buffer) }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
