import Foundation
import SidecarConfig
import Testing

@testable import SidecarTLS

/// `ssl_c_s_dn(ENTRY)` reads the certificate's name entries, and the whole-DN string cannot be forged by a
/// value holding `/`: certificates made by `openssl req`, whose `-subj` can put a slash inside a value.
@Suite struct DistinguishedNameTests {
    final class Certificates: Sendable {
        let directory: URL
        /// O=`x/OU=admins`, CN=node1: one O entry whose value looks like two entries in HAProxy's form.
        let forgedOU: PeerCertificate
        /// O=`x/CN=admin`, CN=node1.
        let forgedCN: PeerCertificate
        /// C=FR, O=`Example/Org`, OU=a, OU=b, CN=node1.
        let several: PeerCertificate

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("dn-\(UUID().uuidString)")
            let pki = try TestPKI.make(in: directory)
            let ca = (pki.caCertificate, pki.caKey)
            let usage = ["extendedKeyUsage=clientAuth"]
            forgedOU = try PeerCertificate(
                pemFile: OpenSSLCommand.leaf(
                    "forged-ou", subject: "/O=x\\/OU=admins/CN=node1", extensions: usage, signedBy: ca,
                    in: directory
                ).certificate)
            forgedCN = try PeerCertificate(
                pemFile: OpenSSLCommand.leaf(
                    "forged-cn", subject: "/O=x\\/CN=admin/CN=node1", extensions: usage, signedBy: ca,
                    in: directory
                ).certificate)
            several = try PeerCertificate(
                pemFile: OpenSSLCommand.leaf(
                    "several", subject: "/C=FR/O=Example\\/Org/OU=a/OU=b/CN=node1", extensions: usage, signedBy: ca,
                    in: directory
                ).certificate)
        }

        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    let certificates: Certificates

    init() throws { certificates = try Certificates() }

    private func acl(_ text: String) throws -> ACL {
        var parser = Parser(environment: [:])
        let words = text.split(separator: " ").map(String.init)
        let acl = parser.aclBody(words[...], name: "t", at: SourceLocation(file: "t.cfg", line: 1))
        #expect(parser.diagnostics.filter { $0.severity == .error }.isEmpty, "\(parser.diagnostics)")
        return try #require(acl)
    }

    @Test func aSlashInsideAValueIsNotAnEntry() throws {
        let forged = PeerIdentity(certificate: certificates.forgedOU)
        #expect(!forged.matches(try acl("ssl_c_s_dn(OU) admins")))
        #expect(forged.stringValue(of: .subjectDN(.init(name: "OU"))) == nil)
        #expect(forged.matches(try acl("ssl_c_s_dn(O) x/OU=admins")))
        #expect(forged.matches(try acl("ssl_c_s_dn(CN) node1")))
    }

    @Test func theWholeDNEscapesSeparatorsInValues() throws {
        let forged = PeerIdentity(certificate: certificates.forgedOU)
        #expect(certificates.forgedOU.subject == "/O=x\\2FOU=admins/CN=node1")
        #expect(!forged.matches(try acl("ssl_c_s_dn -m sub /OU=admins")))
        #expect(!forged.matches(try acl("ssl_c_s_dn -m reg /OU=admins(/|$)")))
        #expect(forged.matches(try acl("ssl_c_s_dn -m end /CN=node1")))
        #expect(certificates.several.subject == "/C=FR/O=Example\\2FOrg/OU=a/OU=b/CN=node1")
        #expect(certificates.several.issuer == "/CN=sidecar test CA")
    }

    @Test func aForgedCNIsNeitherACommonNameNorAllowed() throws {
        let forged = PeerIdentity(certificate: certificates.forgedCN)
        #expect(certificates.forgedCN.commonNames == ["node1"])
        #expect(!forged.matches(try acl("ssl_c_s_dn(CN) admin")))
        #expect(!forged.matches(try acl("ssl_c_s_dn(CN,-1) admin")))
        var allowList = PeerAllowList()
        allowList.commonNames = ["admin"]
        #expect(!forged.isAllowed(by: allowList))
        allowList.commonNames = ["node1"]
        #expect(forged.isAllowed(by: allowList))
    }

    @Test func entriesAndOccurrences() throws {
        let identity = PeerIdentity(certificate: certificates.several)
        #expect(identity.stringValue(of: .subjectDN(.init(name: "O"))) == "Example/Org")
        #expect(identity.stringValue(of: .subjectDN(.init(name: "OU"))) == "a")
        #expect(identity.stringValue(of: .subjectDN(.init(name: "OU", occurrence: 2))) == "b")
        #expect(identity.stringValue(of: .subjectDN(.init(name: "OU", occurrence: -1))) == "b")
        #expect(identity.stringValue(of: .subjectDN(.init(name: "OU", occurrence: 3))) == nil)
        #expect(identity.stringValue(of: .subjectDN(.init(name: "L"))) == nil)
        #expect(identity.stringValue(of: .issuerDN(.init(name: "CN"))) == "sidecar test CA")
    }

    @Test func controlCharactersAndBackslashesAreEscapedInTheWholeDN() {
        let entries = [
            PeerCertificate.NameEntry(shortName: "O", value: "a\\b"),
            PeerCertificate.NameEntry(shortName: "CN", value: "x\ny\u{0}z\u{7F}é"),
        ]
        #expect(PeerCertificate.distinguishedName(entries) == "/O=a\\5Cb/CN=x\\0Ay\\00z\\7Fé")
    }
}
