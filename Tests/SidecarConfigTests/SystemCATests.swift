import Testing

@testable import SidecarConfig

/// `ca-file @system-ca` on a listener that verifies clients admits anyone with a certificate from any public
/// CA; it is only an error when no identity rule says who may get in.
@Suite struct SystemCATests {
    static let bind = "bind :2021 ssl crt /etc/sidecar/manager.pem verify required ca-file @system-ca"

    @Test func withoutAnIdentityRuleItIsAnErrorNamingTheBindLine() {
        let found = errors(in: config(frontend: [Self.bind]))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.location.line == 4)
        #expect(found.first?.message.contains("'@system-ca' with no identity rule") == true, "\(found)")
        #expect(found.first?.message.contains("allow-cn") == true)
    }

    @Test(arguments: [
        ["\(Self.bind) allow-cn node1"],
        ["\(Self.bind) allow-uri spiffe://example.org/node/*"],
        [Self.bind, "tcp-request session reject unless { ssl_c_s_dn(CN) node1 node2 }"],
        [Self.bind, "acl ours ssl_c_i_dn(O) Example", "tcp-request session reject unless ours"],
    ])
    func anIdentityRuleMakesItValid(frontend: [String]) {
        #expect(errors(in: config(frontend: frontend)).isEmpty, "\(errors(in: config(frontend: frontend)))")
    }

    @Test func aSourceRuleIsNotAnIdentityRule() {
        let found = errors(
            in: config(frontend: [Self.bind, "tcp-request connection reject unless { src 10.0.0.0/8 }"]))
        #expect(found.contains { $0.message.contains("'@system-ca' with no identity rule") }, "\(found)")
    }

    @Test func ownCAFileOrNoVerificationIsNotConcerned() {
        #expect(errors(in: config(frontend: ["bind :2021 ssl crt /m.pem verify required ca-file /etc/ca.pem"])).isEmpty)
        #expect(errors(in: config(frontend: ["bind :2021 ssl crt /m.pem verify none ca-file @system-ca"])).isEmpty)
    }
}
