import NIOConcurrencyHelpers
import NIOCore
import SidecarConfig

/// The handler of a management listener (`stats socket`, `metrics-bind`) that keeps at most `limit`
/// connections open: one accepted beyond it is closed at once. Management clients are few (an operator, a
/// Prometheus scraper), so a flood of them must not take the descriptors that `DescriptorBudget` keeps for
/// them, nor memory.
///
/// Lives on the listening channel's event loop; the count is a locked integer because accepted channels
/// close on other loops.
final class ConnectionCapHandler: ChannelInboundHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    let limit: Int
    private let open = NIOLockedValueBox(0)

    init(limit: Int = DescriptorBudget.managementConnections) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let admitted = open.withLockedValue { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else {
            child.close(promise: nil)
            return
        }
        let open = self.open
        child.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
        context.fireChannelRead(data)
    }
}
