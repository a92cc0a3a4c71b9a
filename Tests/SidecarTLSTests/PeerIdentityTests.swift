import Foundation
import SidecarConfig
import Testing

@testable import SidecarTLS

/// Matching of ACL fetches and `allow-*` lists against real certificates, without sockets.
@Suite struct PeerIdentityTests {
    /// Certificates issued once for the suite by a throwaway CA.
    final class Certificates: Sendable {
        let directory: URL
        let node1: PeerCertificate
        let node7: PeerCertificate
        let spiffe: PeerCertificate

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("pid-\(UUID().uuidString)")
            let pki = try TestPKI.make(in: directory)
            let issuer = try CertificateIssuer(caCertificateFile: pki.caCertificate, caKeyFile: pki.caKey)
            let one = try issuer.issueLeaf(
                commonName: "node1", dnsNames: ["node1.nodes.example.com"], ipAddresses: ["10.1.2.3"],
                validity: .days(30), in: directory)
            let seven = try issuer.issueLeaf(commonName: "Node7", validity: .days(30), in: directory)
            let spiffeLeaf = try issuer.issueLeaf(
                commonName: "agent", uris: ["spiffe://example.org/node/agent1"], validity: .days(30), in: directory)
            node1 = try PeerCertificate(pemFile: one.certificateFile)
            node7 = try PeerCertificate(pemFile: seven.certificateFile)
            spiffe = try PeerCertificate(pemFile: spiffeLeaf.certificateFile)
        }

        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    let certificates: Certificates

    init() throws { certificates = try Certificates() }

    private func acl(_ text: String, file: String = "t.cfg") throws -> ACL {
        var parser = Parser(environment: [:])
        let words = text.split(separator: " ").map(String.init)
        let acl = parser.aclBody(words[...], name: "t", at: SourceLocation(file: file, line: 1))
        #expect(parser.diagnostics.filter { $0.severity == .error }.isEmpty, "\(parser.diagnostics)")
        return try #require(acl)
    }

    @Test(arguments: [
        ("ssl_c_s_dn(CN) node1", true, false),
        ("ssl_c_s_dn(cn) -m str node1 node2", true, false),
        ("ssl_c_s_dn(CN) -i NODE7", false, true),
        ("ssl_c_s_dn(CN) node7", false, false),
        ("ssl_c_s_dn(CN) -m beg node", true, false),
        ("ssl_c_s_dn(CN) -m beg -i node", true, true),
        ("ssl_c_s_dn(CN) -m end 1", true, false),
        ("ssl_c_s_dn(CN) -m sub ode", true, true),
        ("ssl_c_s_dn(CN) -m reg ^node[0-9]+$", true, false),
        ("ssl_c_s_dn(CN) -m reg -i ^node[0-9]+$", true, true),
        ("ssl_c_s_dn -m end /CN=node1", true, false),
        ("ssl_c_i_dn(CN) -m str sidecar test CA", false, false),
        ("ssl_c_i_dn(CN) -m beg sidecar", true, true),
        ("ssl_c_i_dn -m sub CN=sidecar", true, true),
    ])
    func stringFetches(rule: String, node1: Bool, node7: Bool) throws {
        let acl = try acl(rule)
        #expect(PeerIdentity(certificate: certificates.node1).matches(acl) == node1)
        #expect(PeerIdentity(certificate: certificates.node7).matches(acl) == node7)
        #expect(!PeerIdentity(certificate: nil).matches(acl))
    }

    @Test func serialAndFingerprintMatchTheirHexForms() throws {
        let node1 = certificates.node1
        #expect(PeerIdentity(certificate: node1).matches(try acl("ssl_c_serial,hex \(node1.serialHex)")))
        #expect(PeerIdentity(certificate: node1).matches(try acl("ssl_c_serial \(node1.serialHex.lowercased())")))
        let colons = stride(from: 0, to: node1.sha1Hex.count, by: 2).map { offset -> String in
            let start = node1.sha1Hex.index(node1.sha1Hex.startIndex, offsetBy: offset)
            return String(node1.sha1Hex[start..<node1.sha1Hex.index(start, offsetBy: 2)])
        }.joined(separator: ":")
        #expect(PeerIdentity(certificate: node1).matches(try acl("ssl_c_sha1,hex \(colons)")))
        #expect(!PeerIdentity(certificate: certificates.node7).matches(try acl("ssl_c_sha1,hex \(node1.sha1Hex)")))
    }

    @Test func booleanAndVerifyFetches() throws {
        let used = try acl("ssl_c_used")
        let inHandshake = try acl("ssl_fc_has_crt")
        let verified = try acl("ssl_c_verify 0")
        #expect(PeerIdentity(certificate: certificates.node1).matches(used))
        #expect(!PeerIdentity(certificate: nil).matches(used))
        #expect(PeerIdentity(certificate: certificates.node1, sessionReused: true).matches(used))
        #expect(!PeerIdentity(certificate: certificates.node1, sessionReused: true).matches(inHandshake))
        #expect(PeerIdentity(certificate: certificates.node1).matches(verified))
        #expect(!PeerIdentity(certificate: certificates.node1).matches(try acl("ssl_c_verify gt 0")))
        #expect(PeerIdentity(certificate: certificates.node1).matches(try acl("ssl_c_verify 0:9")))
    }

    @Test func sourceAddresses() throws {
        let block = try acl("src 10.0.0.0/8 ::1")
        #expect(PeerIdentity(certificate: nil, sourceAddress: [10, 9, 8, 7]).matches(block))
        #expect(!PeerIdentity(certificate: nil, sourceAddress: [11, 0, 0, 1]).matches(block))
        #expect(PeerIdentity(certificate: nil, sourceAddress: IPPattern.bytes(of: "::ffff:10.1.1.1")).matches(block))
        #expect(PeerIdentity(certificate: nil, sourceAddress: IPPattern.bytes(of: "::1")).matches(block))
        #expect(!PeerIdentity(certificate: nil, sourceAddress: nil).matches(block))
    }

    @Test func patternFileIsReadAtLoadWithCommentsAndBlanks() throws {
        let file = certificates.directory.appendingPathComponent("cns.lst")
        try Data("# allowed nodes\n\n   node1\nnode2\n".utf8).write(to: file)
        let fromFile = try acl("ssl_c_s_dn(CN) -f cns.lst", file: certificates.directory.path + "/x.cfg")
        #expect(PeerIdentity(certificate: certificates.node1).matches(fromFile))
        #expect(!PeerIdentity(certificate: certificates.node7).matches(fromFile))
        #expect(fromFile.patternCount == 2)
    }

    private func condition(_ text: String, acls: [String: [ACL]] = [:]) throws -> Condition {
        var parser = Parser(environment: [:])
        let words = text.split(separator: " ").map(String.init)
        let condition = parser.parseCondition(
            words.dropFirst()[...], polarity: Condition.Polarity(rawValue: words[0])!, acls: acls,
            at: SourceLocation(file: "t.cfg", line: 1))
        #expect(parser.diagnostics.isEmpty, "\(parser.diagnostics)")
        return try #require(condition)
    }

    @Test func negationOrAndImplicitAnd() throws {
        let acls = ["is_node1": [try acl("ssl_c_s_dn(CN) node1")], "is_node7": [try acl("ssl_c_s_dn(CN) Node7")]]
        let one = PeerIdentity(certificate: certificates.node1)
        let seven = PeerIdentity(certificate: certificates.node7)
        let none = PeerIdentity(certificate: nil)
        let either = try condition("if is_node1 || is_node7", acls: acls)
        #expect(one.holds(either) && seven.holds(either) && !none.holds(either))
        let notOne = try condition("if ! is_node1", acls: acls)
        #expect(!one.holds(notOne) && seven.holds(notOne))
        let prefixed = try condition("if !is_node1 { ssl_c_used }", acls: acls)
        #expect(!one.holds(prefixed) && seven.holds(prefixed) && !none.holds(prefixed))
        let unless = try condition("unless { ssl_c_used } { ssl_c_verify 0 } { ssl_c_s_dn(CN) node1 node2 }")
        #expect(!one.holds(unless) && seven.holds(unless) && none.holds(unless))
        let orWord = try condition("if { ssl_c_s_dn(CN) x } or { ssl_c_s_dn(CN) -i node7 }")
        #expect(!one.holds(orWord) && seven.holds(orWord))
    }

    @Test func firstMatchingRuleWinsAndDefaultIsAccept() throws {
        let location = SourceLocation(file: "t.cfg", line: 1)
        let isOne = try condition("if { ssl_c_s_dn(CN) node1 }")
        let rules = [
            AccessRule(action: .accept, condition: isOne, location: location),
            AccessRule(action: .reject, location: SourceLocation(file: "t.cfg", line: 2)),
        ]
        #expect(PeerIdentity(certificate: certificates.node1).rejectingRule(connection: [], session: rules) == nil)
        #expect(
            PeerIdentity(certificate: certificates.node7).rejectingRule(connection: [], session: rules)?.location.line
                == 2)
        #expect(PeerIdentity(certificate: certificates.node7).rejectingRule(connection: [], session: []) == nil)
        // A connection-phase accept ends only the connection phase.
        let acceptAll = [AccessRule(action: .accept, location: location)]
        #expect(
            PeerIdentity(certificate: certificates.node7).rejectingRule(connection: acceptAll, session: rules) != nil)
    }

    @Test func allowListsAreOred() throws {
        var list = PeerAllowList()
        #expect(PeerIdentity(certificate: nil).isAllowed(by: list))
        #expect(list.add("allow-cn", list: "nodeX,node1") == nil)
        #expect(PeerIdentity(certificate: certificates.node1).isAllowed(by: list))
        #expect(!PeerIdentity(certificate: certificates.node7).isAllowed(by: list))
        #expect(!PeerIdentity(certificate: nil).isAllowed(by: list))
        var dns = PeerAllowList()
        #expect(dns.add("allow-dns", list: "*.NODES.example.com") == nil)
        #expect(PeerIdentity(certificate: certificates.node1).isAllowed(by: dns))
        var ip = PeerAllowList()
        #expect(ip.add("allow-ip", list: "10.1.0.0/16") == nil)
        #expect(PeerIdentity(certificate: certificates.node1).isAllowed(by: ip))
        #expect(!PeerIdentity(certificate: certificates.node7).isAllowed(by: ip))
        #expect(ip.add("allow-ip", list: "10.1.0.0/33") != nil)
        #expect(dns.add("allow-dns", list: "a,,b") != nil)
    }

    @Test(arguments: [
        ("spiffe://example.org/node/*", true),
        ("spiffe://example.org/*/agent1", true),
        ("spiffe://example.org/node/agent1", true),
        ("spiffe://example.org/*", false),
        ("spiffe://example.org/node/*/x", false),
        ("spiffe://other.org/node/*", false),
    ])
    func spiffeURIsWithOneSegmentWildcards(pattern: String, allowed: Bool) {
        var list = PeerAllowList()
        #expect(list.add("allow-uri", list: pattern) == nil)
        #expect(PeerIdentity(certificate: certificates.spiffe).isAllowed(by: list) == allowed)
    }

    @Test func wildcardSegmentsNeedContent() {
        #expect(!PeerIdentity.uri("spiffe://example.org/node/", matches: "spiffe://example.org/node/*"))
        #expect(PeerIdentity.dnsName("a.example.com", matches: "*.example.com"))
        #expect(!PeerIdentity.dnsName("a.b.example.com", matches: "*.example.com"))
        #expect(!PeerIdentity.dnsName("example.com", matches: "*.example.com"))
    }
}
