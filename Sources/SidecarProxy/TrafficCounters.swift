import Atomics

/// Cumulative counters of one frontend, backend or server (HAProxy's `stot`, `scur`, `smax`, `bin`, `bout`,
/// `dreq`, `ereq`, `econ`). Atomics, so any event loop may count without a lock.
public final class TrafficCounters: Sendable {
    private let total = ManagedAtomic<Int>(0)
    private let current = ManagedAtomic<Int>(0)
    private let maximum = ManagedAtomic<Int>(0)
    private let closedBytesIn = ManagedAtomic<Int>(0)
    private let closedBytesOut = ManagedAtomic<Int>(0)
    private let failedConnects = ManagedAtomic<Int>(0)
    private let denied = ManagedAtomic<Int>(0)
    private let failedHandshakes = ManagedAtomic<Int>(0)
    private let dbusAccepted = ManagedAtomic<Int>(0)
    private let dbusRefused = ManagedAtomic<Int>(0)
    private let dbusErrors = ManagedAtomic<Int>(0)
    private let dbusFDRefusals = ManagedAtomic<Int>(0)

    init() {}

    /// Sessions since start (`stot`).
    public var sessionsTotal: Int { total.load(ordering: .relaxed) }
    /// Sessions open now (`scur`).
    public var sessionsCurrent: Int { current.load(ordering: .relaxed) }
    /// The most sessions open at once (`smax`).
    public var sessionsMaximum: Int { maximum.load(ordering: .relaxed) }
    /// Bytes from clients (`bin`) and to clients (`bout`) of sessions already closed; `show stat` adds the
    /// open ones.
    public var closedBytes: (in: Int, out: Int) {
        (closedBytesIn.load(ordering: .relaxed), closedBytesOut.load(ordering: .relaxed))
    }
    /// Failed connection attempts to a server (`econ`).
    public var connectionErrors: Int { failedConnects.load(ordering: .relaxed) }
    /// Clients refused by the frontend's rules after their handshake (`dreq`: `tcp-request session reject`,
    /// the peer allow-list).
    public var deniedRequests: Int { denied.load(ordering: .relaxed) }
    /// Client TLS handshakes that failed (`ereq`: no or untrusted certificate, timeout, garbage).
    public var requestErrors: Int { failedHandshakes.load(ordering: .relaxed) }

    /// `option dbus`: register calls accepted and refused by `dbus-register-name`, streams closed for a
    /// protocol violation (including fd passing), and `NEGOTIATE_UNIX_FD` requests answered with `ERROR`.
    public var dbus:
        (registrationsAccepted: Int, registrationsRefused: Int, protocolErrors: Int, fdNegotiationsRefused: Int)
    {
        (
            dbusAccepted.load(ordering: .relaxed), dbusRefused.load(ordering: .relaxed),
            dbusErrors.load(ordering: .relaxed), dbusFDRefusals.load(ordering: .relaxed)
        )
    }

    func sessionOpened() {
        total.wrappingIncrement(ordering: .relaxed)
        let now = current.wrappingIncrementThenLoad(ordering: .relaxed)
        var seen = maximum.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = maximum.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func sessionClosed(bytesIn: Int, bytesOut: Int) {
        current.wrappingDecrement(ordering: .relaxed)
        closedBytesIn.wrappingIncrement(by: bytesIn, ordering: .relaxed)
        closedBytesOut.wrappingIncrement(by: bytesOut, ordering: .relaxed)
    }

    func connectFailed() { failedConnects.wrappingIncrement(ordering: .relaxed) }

    func requestDenied() { denied.wrappingIncrement(ordering: .relaxed) }

    func handshakeFailed() { failedHandshakes.wrappingIncrement(ordering: .relaxed) }

    func dbusRegistrationAccepted() { dbusAccepted.wrappingIncrement(ordering: .relaxed) }

    func dbusRegistrationRefused() { dbusRefused.wrappingIncrement(ordering: .relaxed) }

    func dbusProtocolError() { dbusErrors.wrappingIncrement(ordering: .relaxed) }

    func dbusUnixFDNegotiationRefused() { dbusFDRefusals.wrappingIncrement(ordering: .relaxed) }
}
