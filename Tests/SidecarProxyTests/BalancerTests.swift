import SidecarConfig
import Testing

@testable import SidecarProxy

/// Server selection per `balance`, as HAProxy defines it.
@Suite struct BalancerTests {
    private func servers(
        weights: [Int], backup: Set<Int> = [], disabled: Set<Int> = [], maxconn: [Int: Int] = [:]
    ) -> [Server] {
        weights.enumerated().map { index, weight in
            Server(
                name: "s\(index)", address: .unix(path: "/s\(index)"), weight: weight, backup: backup.contains(index),
                disabled: disabled.contains(index), maxconn: maxconn[index], location: .commandLine("test"))
        }
    }

    /// Picks `count` servers, releasing each at once (short connections).
    private func spread(_ balancer: Balancer, _ count: Int, servers: Int) -> [Int] {
        var counts = Array(repeating: 0, count: servers)
        for _ in 0..<count {
            guard let pick = balancer.acquire() else { continue }
            counts[pick.index] += 1
            balancer.release(pick)
        }
        return counts
    }

    @Test(arguments: [Backend.Balance.roundrobin, .staticRR])
    func weightedRoundRobinSplitsExactly(algorithm: Backend.Balance) {
        let balancer = Balancer(algorithm: algorithm, servers: servers(weights: [1, 2, 3]))
        #expect(spread(balancer, 600, servers: 3) == [100, 200, 300])
    }

    @Test func smoothRoundRobinInterleaves() {
        let balancer = Balancer(servers: servers(weights: [1, 1, 4]))
        let order = (0..<6).map { _ in balancer.acquire()!.index }
        // Smooth: the heavy server never takes more than two in a row.
        #expect(order.filter { $0 == 2 }.count == 4)
        #expect(!zip(order, zip(order.dropFirst(), order.dropFirst(2))).contains { $0 == 2 && $1.0 == 2 && $1.1 == 2 })
    }

    @Test func weightZeroTakesNoTraffic() {
        let balancer = Balancer(servers: servers(weights: [0, 1]))
        #expect(spread(balancer, 50, servers: 2) == [0, 50])
    }

    @Test func disabledServerStartsInMaintenance() {
        let balancer = Balancer(servers: servers(weights: [1, 1], disabled: [0]))
        #expect(spread(balancer, 10, servers: 2) == [0, 10])
        #expect(!balancer.isUp(0))
    }

    @Test func onlyFirstBackupServesWhenAllNormalServersAreDown() {
        let balancer = Balancer(servers: servers(weights: [1, 1, 1, 1], backup: [2, 3]))
        #expect(spread(balancer, 10, servers: 4) == [5, 5, 0, 0])
        balancer.setUp(0, false)
        #expect(spread(balancer, 10, servers: 4) == [0, 10, 0, 0])
        let left = balancer.setUp(1, false)
        #expect(left.active == 0 && left.backup == 2)
        #expect(spread(balancer, 10, servers: 4) == [0, 0, 10, 0])
        balancer.setUp(2, false)
        #expect(spread(balancer, 10, servers: 4) == [0, 0, 0, 10])
        balancer.setUp(3, false)
        #expect(balancer.acquire() == nil)
        balancer.setUp(0, true)
        #expect(spread(balancer, 10, servers: 4) == [10, 0, 0, 0])
    }

    @Test func fullServerIsSkippedForTheNext() {
        let balancer = Balancer(servers: servers(weights: [1, 1], maxconn: [0: 2]))
        let held = (0..<6).compactMap { _ in balancer.acquire() }
        #expect(held.filter { $0.index == 0 }.count == 2)
        #expect(held.filter { $0.index == 1 }.count == 4)
        let full = Balancer(servers: servers(weights: [1], maxconn: [0: 1]))
        let only = full.acquire()
        #expect(only != nil && full.acquire() == nil)
        full.release(only!)
        #expect(full.acquire() != nil)
    }

    @Test func leastconnPicksFewestAndRotatesTies() {
        let balancer = Balancer(algorithm: .leastconn, servers: servers(weights: [1, 1, 1]))
        let first = (0..<3).map { _ in balancer.acquire()!.index }
        #expect(Set(first) == [0, 1, 2])
        // Server 1 finishes its connection: it is now the least loaded.
        balancer.release(Balancer.Pick(index: 1))
        #expect(balancer.acquire()?.index == 1)
        // Short connections rotate among equals.
        let fresh = Balancer(algorithm: .leastconn, servers: servers(weights: [1, 1, 1]))
        #expect(spread(fresh, 9, servers: 3) == [3, 3, 3])
    }

    @Test func firstFillsTheLowestServerFirst() {
        let balancer = Balancer(algorithm: .first, servers: servers(weights: [1, 1, 1], maxconn: [0: 2, 1: 2]))
        let picks = (0..<5).map { _ in balancer.acquire()!.index }
        #expect(picks == [0, 0, 1, 1, 2])
        balancer.release(Balancer.Pick(index: 0))
        #expect(balancer.acquire()?.index == 0)
    }

    @Test func failoverAvoidsServersAlreadyTried() {
        let balancer = Balancer(servers: servers(weights: [1, 1, 1]))
        let first = balancer.acquire()!
        let second = balancer.acquire(excluding: [first.index])!
        #expect(second.index != first.index)
        let third = balancer.acquire(excluding: [first.index, second.index])!
        #expect(Set([first.index, second.index, third.index]) == [0, 1, 2])
        // Everything tried: the tried ones are used again rather than giving up.
        #expect(balancer.acquire(excluding: [0, 1, 2]) != nil)
    }

    @Test func threeEchoServersWeighted123Get100_200_300Of600Connections() async throws {
        let fixture = try await BackendFixture(echoes: 3) { index, path in
            Server(name: "s\(index + 1)", address: .unix(path: path), weight: index + 1, location: .commandLine("test"))
        }
        #expect(try await fixture.roundTrips(600, parallel: 12) == 0)
        try await eventually("600 accepts") { fixture.accepts.reduce(0, +) == 600 }
        #expect(fixture.accepts == [100, 200, 300])
        await fixture.shutdown()
    }

    @Test func stateHistoryCountsDownTransitionsAndAccumulatesDowntime() {
        let start = ContinuousClock.now
        var history = StateHistory(down: false, at: start)
        history.update(down: true, at: start + .seconds(10))
        history.update(down: true, at: start + .seconds(12))  // no change: neither counted nor restarted
        #expect(
            history.report(at: start + .seconds(15))
                == StateHistory.Report(downTransitions: 1, secondsSinceChange: 5, downtimeSeconds: 5))
        history.update(down: false, at: start + .seconds(40))
        history.update(down: true, at: start + .seconds(100))
        #expect(
            history.report(at: start + .seconds(107))
                == StateHistory.Report(downTransitions: 2, secondsSinceChange: 7, downtimeSeconds: 37))
    }

    @Test func backendHistoryGoesDownOnlyWhenNoServerIsUsable() {
        let balancer = Balancer(servers: servers(weights: [1, 1]))
        balancer.setAdministrativeState(0, .maint)
        #expect(balancer.history(of: 0).downTransitions == 1)
        #expect(balancer.history(of: nil).downTransitions == 0)
        balancer.setUp(1, false)
        #expect(balancer.history(of: 1).downTransitions == 1)
        #expect(balancer.history(of: nil).downTransitions == 1)
        balancer.setUp(1, true)
        balancer.setWeight(1, 0)
        // Weight 0 takes a server out of the backend's rotation but does not make the server DOWN.
        #expect(balancer.history(of: 1).downTransitions == 1)
        #expect(balancer.history(of: nil).downTransitions == 2)
    }
}
