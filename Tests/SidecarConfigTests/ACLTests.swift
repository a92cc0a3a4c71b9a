import Foundation
import Testing

@testable import SidecarConfig

/// `acl`, `tcp-request`, the `allow-*` bind/server options and `cert-expiry-warning`.
@Suite struct ACLTests {
    private let tls = "ssl crt /x/server.pem ca-file /x/ca.pem verify required"

    @Test func aclAndSessionRulesReachTheModel() throws {
        let text = config(frontend: [
            "bind :2021 \(tls)",
            "acl ok_cn ssl_c_s_dn(CN) -m reg -i ^node[0-9]+$",
            "acl ok_cn ssl_c_s_dn(CN) manager",
            "tcp-request session reject unless { ssl_c_used } { ssl_c_verify 0 } ok_cn",
            "tcp-request session accept",
        ])
        let (model, diagnostics) = parse(text)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let rules = model.fe.sessionRules
        try #require(rules.count == 2)
        #expect(rules[0].action == .reject)
        #expect(rules[0].condition?.polarity == .unless)
        #expect(rules[0].condition?.alternatives.first?.count == 3)
        #expect(rules[0].condition?.alternatives.first?.last?.acls.count == 2)
        #expect(rules[0].location.line == 7)
        #expect(rules[1].condition == nil)
    }

    @Test(arguments: [
        ("acl a ssl_c_foo x", "unknown or unsupported fetch 'ssl_c_foo'"),
        ("acl a ssl_c_s_dn(CN) -m regex x", "unsupported match method '-m regex'"),
        ("acl a ssl_c_s_dn(CN) -m reg (", "invalid regular expression '(': unmatched '(' at 1"),
        ("acl a ssl_c_s_dn(CN) -m reg ^(a)\\1$", "invalid regular expression '^(a)\\1$': backreferences ('\\1') are"),
        ("acl a ssl_c_used yes", "takes no pattern"),
        ("acl a src 10.0.0.0/40", "not an IP address or CIDR block"),
        ("acl a ssl_c_verify x", "not an integer pattern"),
        ("acl a ssl_c_s_dn(CN) -n x", "unsupported ACL flag '-n'"),
        ("acl a ssl_c_sha1,lower x", "converter 'lower' is not supported"),
        ("tcp-request session reject if nope", "unknown ACL 'nope'"),
        ("tcp-request session reject if {ssl_c_used}", "braces must be separate words"),
        ("tcp-request session reject if { ssl_c_used", "'{' without a matching '}'"),
        ("tcp-request session reject if { ssl_c_used } ||", "ends with an operator"),
        ("tcp-request session deny", "'tcp-request session deny' is not supported"),
        ("tcp-request session reject when x", "expected 'if' or 'unless'"),
        ("tcp-request content reject", "never inspects the payload"),
        ("tcp-request connection reject unless { ssl_c_s_dn(CN) node1 }", "before the TLS handshake"),
    ])
    func errorsNameTheLine(line: String, message: String) {
        let found = errors(in: config(frontend: ["bind :2021 \(tls)", line]))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.message.contains(message) == true, "\(found)")
        #expect(found.first?.location.line == 5)
    }

    /// A pattern a backtracking engine takes exponential time on still loads and answers at once (see
    /// `ACLRegexTests.catastrophicPatternsRunInLinearSteps`); an unsupported construct is a load error naming the
    /// file and line.
    @Test func regexACLWithNestedRepetitionLoadsAndEvaluates() throws {
        let (model, diagnostics) = parse(
            config(frontend: [
                "bind :2021 \(tls)", "acl ok_cn ssl_c_s_dn(CN) -m reg -i ^([a-z0-9-]+\\.?)+\\.example\\.com$",
                "tcp-request session reject unless ok_cn",
            ]), file: "conf.d/manager.cfg")
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let acl = try #require(model.fe.sessionRules.first?.condition?.allACLs.first)
        guard case .regexes(let regexes) = acl.patterns, let regex = regexes.first else {
            Issue.record("expected a regular expression, got \(acl.patterns)")
            return
        }
        #expect(regex.matches("Node-1.Example.com"))
        #expect(regex.matches("a.b.example.com"))
        #expect(!regex.matches("example.com"))
        #expect(!regex.matches(String(repeating: "a", count: 63) + "!"))

        let (_, refused) = parse(
            config(frontend: ["bind :2021 \(tls)", "acl ok_cn ssl_c_s_dn(CN) -m reg ^(?=node)[a-z0-9]+$"]),
            file: "conf.d/manager.cfg")
        let failures = refused.filter { $0.severity == .error }
        #expect(failures.count == 1, "\(failures)")
        #expect(
            failures.first?.description.hasPrefix(
                "conf.d/manager.cfg:5: error: invalid regular expression '^(?=node)[a-z0-9]+$': lookahead ('(?=') "
                    + "is not supported: sidecar matches in linear time at 2") == true, "\(failures)")
    }

    /// The configuration's escapes apply before the expression's outside single quotes, as in HAProxy
    /// (README, `-m reg`): `'\x{e9}'` reaches the expression, unquoted it is a configuration error.
    @Test func regexEscapesInSingleQuotesReachTheExpression() throws {
        let (model, diagnostics) = parse(
            config(frontend: [
                "bind :2021 \(tls)", "acl ok ssl_c_s_dn(CN) -m reg '^caf\\x{e9}\\\\$'",
                "tcp-request session reject unless ok",
            ]))
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        guard case .regexes(let regexes) = model.fe.sessionRules.first?.condition?.allACLs.first?.patterns else {
            Issue.record("expected a regular expression")
            return
        }
        #expect(regexes.first?.source == "^caf\\x{e9}\\\\$")
        #expect(regexes.first?.matches("café\\") == true)
        let found = errors(in: config(frontend: ["bind :2021 \(tls)", "acl ok ssl_c_s_dn(CN) -m reg ^caf\\x{e9}$"]))
        #expect(found.first?.message.contains("invalid '\\x' escape") == true, "\(found)")
    }

    @Test func connectionRulesWithoutTLSFetchesAreKept() throws {
        let (model, diagnostics) = parse(
            config(frontend: ["bind :2021 \(tls)", "tcp-request connection reject unless { src 10.0.0.0/8 }"]))
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty)
        #expect(model.fe.connectionRules.count == 1)
        #expect(model.fe.sessionRules.isEmpty)
    }

    @Test func namedTLSACLInConnectionRuleIsAnError() {
        let found = errors(
            in: config(frontend: [
                "bind :2021 \(tls)", "acl ok ssl_c_s_dn(CN) node1", "tcp-request connection reject unless ok",
            ]))
        #expect(
            found.first?.message.contains("ACL 'ok' (ssl_c_s_dn(CN)) cannot be used in 'tcp-request connection'")
                == true, "\(found)")
    }

    @Test func aclIsNotAllowedInBackend() {
        let found = errors(in: config(backend: ["acl a src 10.0.0.1"]))
        #expect(found.first?.message.contains("not allowed in a 'backend' section") == true, "\(found)")
    }

    @Test func patternFilesAreRelativeToTheConfigFile() throws {
        let directory = try TemporaryDirectory()
        try directory.write("cns.lst", "# nodes\n  node1\n\nnode2\n")
        try directory.write(
            "a.cfg",
            config(frontend: [
                "bind :2021 \(tls)", "acl ok ssl_c_s_dn(CN) -f cns.lst", "tcp-request session reject unless ok",
            ]))
        let model = try ConfigLoader(environment: [:]).load(paths: [directory.path])
        let acl = try #require(model.fe.sessionRules.first?.condition?.alternatives.first?.first?.acls.first)
        #expect(acl.patterns == .strings(["node1", "node2"], method: .str, ignoreCase: false))
        #expect(acl.patternFiles == [directory.path + "/cns.lst"])
    }

    @Test func unreadablePatternFileIsAnErrorWithFileAndLine() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.cfg", config(frontend: ["bind :2021 \(tls)", "acl ok ssl_c_s_dn(CN) -f missing.lst"]))
        let (model, diagnostics) = ConfigLoader(environment: [:]).diagnose(paths: [directory.path])
        #expect(model == nil)
        let error = try #require(diagnostics.first { $0.severity == .error })
        #expect(error.description.hasPrefix(directory.path + "/a.cfg:5: error: cannot read ACL pattern file"))
    }

    @Test func allowListsOnBindAndServer() throws {
        let (model, diagnostics) = parse(
            config(
                frontend: ["bind :2021 \(tls) allow-cn node1,node2 allow-uri spiffe://example.org/node/*"],
                backend: [
                    "server s1 127.0.0.1:2021 ssl ca-file /x/ca.pem verifyhost m allow-dns *.example.com allow-ip 10.0.0.0/8"
                ]))
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let bindAllow = try #require(model.bind.tls?.allowedPeers)
        #expect(bindAllow.commonNames == ["node1", "node2"])
        #expect(bindAllow.uris == ["spiffe://example.org/node/*"])
        let serverAllow = try #require(model.server.tls?.allowedPeers)
        #expect(serverAllow.dnsNames == ["*.example.com"])
        #expect(serverAllow.ipAddresses.map(\.description) == ["10.0.0.0/8"])
    }

    @Test func badAllowListIsAnError() {
        let found = errors(in: config(frontend: ["bind :2021 \(tls) allow-ip 300.1.1.1"]))
        #expect(found.first?.message.contains("'allow-ip 300.1.1.1' is not an IP address") == true, "\(found)")
    }

    @Test func certExpiryWarning() {
        let (model, _) = parse(config(global: ["cert-expiry-warning 7"]))
        #expect(model.global.certExpiryWarningDays == 7)
        #expect(parse(config()).configuration.global.certExpiryWarningDays == 30)
        #expect(errors(in: config(global: ["cert-expiry-warning soon"])).count == 1)
    }

    @Test func tlsPolicyDefaultsFlowToBindAndServer() throws {
        let (model, diagnostics) = parse(
            config(
                global: [
                    "ssl-default-bind-ciphers ECDHE+AESGCM", "ssl-default-bind-ciphersuites TLS_AES_256_GCM_SHA384",
                    "ssl-default-bind-curves X25519", "ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets",
                    "ssl-default-server-options ssl-max-ver TLSv1.2",
                ],
                frontend: ["bind :2021 \(tls)"],
                backend: ["server s1 127.0.0.1:2021 ssl ca-file /x/ca.pem verifyhost m ciphers HIGH"]))
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let bind = try #require(model.bind.tls)
        #expect(bind.ciphers == "ECDHE+AESGCM" && bind.ciphersuites == "TLS_AES_256_GCM_SHA384")
        #expect(bind.curves == "X25519" && bind.minVersion == .tls13 && !bind.sessionTickets)
        let server = try #require(model.server.tls)
        #expect(server.ciphers == "HIGH" && server.maxVersion == .tls12 && server.minVersion == nil)
    }
}
