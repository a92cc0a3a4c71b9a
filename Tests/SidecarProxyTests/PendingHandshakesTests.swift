import NIOConcurrencyHelpers
import Testing

@testable import SidecarProxy

/// `tune.ssl.max-pending-handshakes`: a new handshake beyond the cap displaces the oldest still pending.
@Suite struct PendingHandshakesTests {
    @Test func aNewHandshakeBeyondTheCapDisplacesTheOldestPendingOne() {
        let queue = PendingHandshakes(limit: 2)
        let displaced = NIOLockedValueBox<[Int]>([])
        let first = queue.enter { displaced.withLockedValue { $0.append(1) } }
        _ = queue.enter { displaced.withLockedValue { $0.append(2) } }
        _ = queue.enter { displaced.withLockedValue { $0.append(3) } }
        #expect(displaced.withLockedValue { $0 } == [1])
        #expect(queue.count == 2)
        // A finished handshake leaves; the oldest still pending (2) goes next, not a finished one.
        queue.leave(first)
        _ = queue.enter { displaced.withLockedValue { $0.append(4) } }
        #expect(displaced.withLockedValue { $0 } == [1, 2])
        #expect(queue.count == 2)
    }

    @Test func handshakesThatFinishInTimeAreNeverDisplaced() {
        let queue = PendingHandshakes(limit: 1)
        let displaced = NIOLockedValueBox(0)
        for _ in 0..<100 {
            let ticket = queue.enter { displaced.withLockedValue { $0 += 1 } }
            queue.leave(ticket)
        }
        #expect(displaced.withLockedValue { $0 } == 0)
        #expect(queue.count == 0)
    }
}
