import Foundation
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTLS
import SidecarTestSupport
import Testing

@testable import SidecarProxy

/// A generation that a reload replaced is freed, with what its configuration compiled: no retain cycle or cache
/// keeps its `Proxy`, its TLS context or its ACL regular expressions alive, so reloads do not accumulate memory.
/// Weak references tell, where LeakSanitizer cannot: it misses pointers Swift tags in spare bits, such as those
/// inside a compiled `Regex` (Fuzz/lsan.supp).
@Suite struct GenerationReleaseTests {
    static func regex(of proxy: Proxy) -> ACLRegex? {
        let acl = proxy.plan.configuration.frontends[0].sessionRules[0].condition?.allACLs.first
        guard case .regexes(let regexes) = acl?.patterns else { return nil }
        return regexes.first
    }

    @Test func aReplacedGenerationIsFreedWithItsCompiledRegex() async throws {
        let fixture = try await IdentityFixture()
        let rules = ["acl ok ssl_c_s_dn(CN) -m reg ^node[0-3]$", "tcp-request session reject unless ok"]
        weak var oldProxy: Proxy?
        weak var oldContext: TLSContext?
        weak var oldRegex: ACLRegex?
        var proxy = try await fixture.startReverse(try fixture.reverseConfiguration(lines: rules))
        oldProxy = proxy
        oldContext = proxy.plan.frontends[0].binds[0].tls
        oldRegex = Self.regex(of: proxy)
        #expect(oldProxy != nil && oldContext != nil && oldRegex != nil)
        let port = try #require(proxy.boundAddresses[0].port)
        let forward = try await fixture.startForward(name: "fwd", port: port, certificate: try fixture.client("node2"))
        #expect(try await fixture.roundTrip(through: "fwd"))
        let next = try ProxyPlan(configuration: try fixture.reverseConfiguration(lines: rules))
        proxy = try await proxy.reload(to: next, logger: fixture.reverseLogs.logger)
        #expect(try await fixture.roundTrip(through: "fwd"), "the new generation serves")
        let freed = try await poll { oldProxy == nil && oldContext == nil && oldRegex == nil }
        let alive = [
            oldProxy == nil ? nil : "Proxy", oldContext == nil ? nil : "TLSContext", oldRegex == nil ? nil : "ACLRegex",
        ]
        #expect(freed, "still alive after the reload: \(alive.compactMap { $0 })")
        await fixture.shutdown(proxy, forward)
    }
}
