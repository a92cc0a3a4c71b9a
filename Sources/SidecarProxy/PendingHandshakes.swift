import NIOConcurrencyHelpers

/// The client connections of a plan still in their TLS handshake, oldest first, at most `limit` of them
/// (`tune.ssl.max-pending-handshakes`): when a new connection would exceed it, the oldest pending one is
/// displaced (closed, and logged as refused). Clients that connect and stay silent, or handshake slowly, so
/// cannot hold more than `limit` descriptors and slots, and never keep a newer client out.
///
/// Shared by every listener of a plan on every event loop: the state sits behind a lock taken twice per TLS
/// connection (enter, leave), never per message. Entries are numbered in arrival order, so finding the
/// oldest skips over the ones that already left, amortised constant time.
final class PendingHandshakes: Sendable {
    /// What displacing an entry does: hop to the connection's event loop and close it.
    typealias Displace = @Sendable () -> Void

    private struct State {
        var next: UInt64 = 0
        /// No entry below this number is still pending.
        var oldest: UInt64 = 0
        var entries: [UInt64: Displace] = [:]
    }

    /// The cap; at least 1.
    let limit: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Handshakes pending now.
    var count: Int { state.withLockedValue { $0.entries.count } }

    /// Records a connection starting its handshake; displaces the oldest pending one if that exceeds the cap.
    /// - Returns: the ticket to `leave` with when the handshake ends either way.
    func enter(displace: @escaping Displace) -> UInt64 {
        let (ticket, displaced) = state.withLockedValue { state -> (UInt64, Displace?) in
            let ticket = state.next
            state.next += 1
            state.entries[ticket] = displace
            guard state.entries.count > limit else { return (ticket, nil) }
            while state.entries[state.oldest] == nil { state.oldest += 1 }
            let displaced = state.entries.removeValue(forKey: state.oldest)
            state.oldest += 1
            return (ticket, displaced)
        }
        displaced?()
        return ticket
    }

    /// The handshake of `ticket` ended (done, failed, closed or displaced).
    func leave(_ ticket: UInt64) {
        _ = state.withLockedValue { $0.entries.removeValue(forKey: ticket) }
    }
}
