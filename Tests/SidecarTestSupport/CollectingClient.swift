import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A plain client that sends a payload, optionally half-closes, and collects everything until EOF.
package final class CollectingClient: Sendable {
    package let channel: Channel
    private let box: NIOLockedValueBox<(bytes: ByteBuffer, ended: Bool)>

    package var received: ByteBuffer { box.withLockedValue { $0.bytes } }
    package var ended: Bool { box.withLockedValue { $0.ended } }

    package static func connect(unixPath: String, group: any EventLoopGroup) async throws -> CollectingClient {
        let box = NIOLockedValueBox<(bytes: ByteBuffer, ended: Bool)>((ByteBuffer(), false))
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(box: box))
                }
            }
            .connect(unixDomainSocketPath: unixPath).get()
        return CollectingClient(channel: channel, box: box)
    }

    private init(channel: Channel, box: NIOLockedValueBox<(bytes: ByteBuffer, ended: Bool)>) {
        self.channel = channel
        self.box = box
    }

    /// Writes `payload` in pieces of at most `chunk` bytes.
    package func send(_ payload: ByteBuffer, chunk: Int = 1 << 20) async throws {
        var rest = payload
        while rest.readableBytes > 0 {
            let piece = rest.readSlice(length: min(chunk, rest.readableBytes))!
            try await channel.writeAndFlush(piece).get()
        }
    }

    /// Bytes received so far.
    package var receivedCount: Int { received.readableBytes }

    /// Sends `count` bytes and waits, up to `timeout`, until as many more have come back.
    /// - Throws: `TestSupportError` when they do not, naming how many came back.
    package func echo(_ count: Int, timeout: Duration = .seconds(10)) async throws {
        let before = receivedCount
        try await channel.writeAndFlush(ByteBuffer(repeating: UInt8(ascii: "x"), count: count)).get()
        let echoed = try await poll(timeout: timeout) { self.receivedCount >= before + count || self.ended }
        guard echoed, receivedCount >= before + count else {
            throw TestSupportError("\(receivedCount - before) of \(count) bytes echoed (connection ended: \(ended))")
        }
    }

    package func shutdownOutput() async throws { try await channel.close(mode: .output).get() }

    package func close() async { try? await channel.close() }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let box: NIOLockedValueBox<(bytes: ByteBuffer, ended: Bool)>
        init(box: NIOLockedValueBox<(bytes: ByteBuffer, ended: Bool)>) { self.box = box }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            box.withLockedValue { _ = $0.bytes.writeBuffer(&buffer) }
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event {
                box.withLockedValue { $0.ended = true }
                context.close(promise: nil)
            }
        }
        func channelInactive(context: ChannelHandlerContext) {
            box.withLockedValue { $0.ended = true }
        }
    }
}
