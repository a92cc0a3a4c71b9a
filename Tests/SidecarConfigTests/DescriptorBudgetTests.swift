import Testing

@testable import SidecarConfig

/// The global `maxconn` derived from the descriptor limit, and the pending-handshake cap.
@Suite struct DescriptorBudgetTests {
    @Test func maxconnIsDerivedFromWhatTheReserveLeavesTwoDescriptorsPerConnection() {
        let configuration = parse(config(backend: ["server s1 127.0.0.1:80 check"])).configuration
        let budget = DescriptorBudget(configuration: configuration, descriptorLimit: 256)
        // 32 for the process, 1 listener, 1 checked server.
        #expect(budget.reserved == 34)
        #expect(budget.maxconn == (256 - 34) / 2)
        #expect(budget.maxconnDerived)
        #expect(budget.pendingHandshakes == 27)
        #expect(budget.needed <= 256)
        #expect(budget.warning == nil)
        #expect(budget.summary.contains("global maxconn 111 (derived from the limit)"))
    }

    @Test func statsSocketsAndMetricsReserveTheirConnectionCaps() {
        let configuration = parse(
            config(global: ["stats socket /run/s.sock", "metrics-bind 127.0.0.1:9100"])
        ).configuration
        let budget = DescriptorBudget(configuration: configuration, descriptorLimit: 65536)
        #expect(budget.reserved == 32 + 1 + 11 + 11)
        #expect(budget.pendingHandshakes == DescriptorBudget.maxDefaultPendingHandshakes)
    }

    @Test func aConfiguredMaxconnBeyondTheLimitIsKeptAndWarnedAbout() {
        let configuration = parse(
            config(global: ["maxconn 1000", "tune.ssl.max-pending-handshakes 5"])
        ).configuration
        let budget = DescriptorBudget(configuration: configuration, descriptorLimit: 256)
        #expect(budget.maxconn == 1000)
        #expect(!budget.maxconnDerived)
        #expect(budget.pendingHandshakes == 5)
        #expect(budget.warning?.contains("global maxconn 1000 needs about 2033 open descriptors") == true)
    }

    @Test func tinyLimitsStillAllowOneConnectionAndOneHandshake() {
        let budget = DescriptorBudget(configuration: parse(config()).configuration, descriptorLimit: 16)
        #expect(budget.maxconn == 1)
        #expect(budget.pendingHandshakes == 1)
    }
}
