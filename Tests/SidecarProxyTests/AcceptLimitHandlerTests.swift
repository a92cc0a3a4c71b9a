import NIOCore
import NIOEmbedded
import Testing

@testable import SidecarProxy

@Suite struct AcceptLimitHandlerTests {
    /// The handler's waiter, which a full gate calls to wake it, captures the handler. Once the handler leaves
    /// its listener's pipeline (the listener closed: a reload, a stop) it must let the waiter go, or each closed
    /// listener keeps its handler, the waiter and the event loop alive in a cycle (LeakSanitizer found one per
    /// proxy in the tests: all its blocks indirect).
    @Test func aRemovedHandlerIsFreed() throws {
        let channel = EmbeddedChannel()
        weak var released: AcceptLimitHandler?
        do {
            let handler = AcceptLimitHandler(gates: ConnectionGates())
            released = handler
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        #expect(released != nil)
        _ = try channel.finish()
        #expect(released == nil, "a closed listener's AcceptLimitHandler is still alive")
    }
}
