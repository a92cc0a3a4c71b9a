import Foundation
import SidecarTLS
import Testing

/// The certificate tooling, checked with the real `openssl` command line tool.
@Suite struct CertificateIssuerTests {
    // MARK: CA

    @Test func caHasCAExtensionsAndKeyModes() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(in: directory.url.appendingPathComponent("new/ca"))

        #expect(ca.certificateFile.lastPathComponent == "ca.pem")
        #expect(ca.keyFile.lastPathComponent == "ca.key")
        #expect(ca.subject == "CN=sidecar CA")
        #expect(ca.issuer == ca.subject)
        #expect(ca.keyType == "EC P-256")
        #expect(try fileMode(ca.keyFile) == 0o600)
        #expect(try fileMode(ca.certificateFile) == 0o644)
        let keyPEM = try String(contentsOf: ca.keyFile, encoding: .utf8)
        #expect(keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))

        let text = try openssl("x509", "-noout", "-text", "-in", ca.certificateFile.path).checked()
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"))
        #expect(text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"))
        #expect(text.contains("X509v3 Subject Key Identifier"))
        #expect(text.contains("Signature Algorithm: ecdsa-with-SHA256"))
        #expect(try keyMatches(certificate: ca.certificateFile, key: ca.keyFile))
        try openssl("verify", "-CAfile", ca.certificateFile.path, ca.certificateFile.path).checked()

        let days = ca.notAfter.timeIntervalSince(Date()) / 86_400
        #expect(days > 3649 && days <= 3650)
    }

    @Test func rsaCAAndLeaf() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(
            in: directory.url, commonName: "RSA CA", days: 10, algorithm: .rsa3072)
        let issuer = try CertificateIssuer(caCertificateFile: ca.certificateFile, caKeyFile: ca.keyFile)
        let leaf = try issuer.issueLeaf(
            commonName: "rsa-node", dnsNames: ["rsa.example"], algorithm: .rsa3072, in: directory.url)

        #expect(ca.keyType == "RSA 3072")
        #expect(leaf.keyType == "RSA 3072")
        let text = try openssl("x509", "-noout", "-text", "-in", leaf.certificateFile.path).checked()
        #expect(text.contains("Public-Key: (3072 bit)"))
        #expect(text.contains("sha256WithRSAEncryption"))
        #expect(text.contains("Digital Signature, Key Encipherment"))
        #expect(try keyMatches(certificate: leaf.certificateFile, key: leaf.keyFile))
        try openssl("verify", "-CAfile", ca.certificateFile.path, leaf.certificateFile.path).checked()
    }

    // MARK: Leaves

    @Test func leafVerifiesAndCarriesSANsAndUsages() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(in: directory.url)
        let issuer = try CertificateIssuer(caCertificateFile: ca.certificateFile, caKeyFile: ca.keyFile)
        let out = directory.url.appendingPathComponent("leaves")
        let leaf = try issuer.issueLeaf(
            commonName: "node-a",
            dnsNames: ["node-a.example.org", "localhost"],
            ipAddresses: ["127.0.0.1", "2001:db8::1"],
            uris: ["spiffe://example.org/node/a"],
            in: out
        )

        #expect(leaf.certificateFile == out.appendingPathComponent("node-a.pem"))
        #expect(leaf.keyFile == out.appendingPathComponent("node-a.key"))
        #expect(leaf.subject == "CN=node-a")
        #expect(leaf.issuer == "CN=sidecar CA")
        #expect(
            leaf.subjectAlternativeNames == [
                "DNS:node-a.example.org", "DNS:localhost", "IP:127.0.0.1", "IP:2001:db8::1",
                "URI:spiffe://example.org/node/a",
            ])
        #expect(try fileMode(leaf.keyFile) == 0o600)
        let days = leaf.notAfter.timeIntervalSince(Date()) / 86_400
        #expect(days > 824 && days <= 825)

        try openssl("verify", "-CAfile", ca.certificateFile.path, leaf.certificateFile.path).checked()
        // A default leaf is a node's client certificate: OpenSSL itself refuses it as a server certificate.
        try openssl(
            "verify", "-purpose", "sslclient", "-CAfile", ca.certificateFile.path, leaf.certificateFile.path
        ).checked()
        let asServer = try openssl(
            "verify", "-purpose", "sslserver", "-CAfile", ca.certificateFile.path, leaf.certificateFile.path)
        #expect(
            asServer.status != 0 && asServer.output.contains("unsuitable certificate purpose"), "\(asServer.output)")
        try openssl(
            "verify", "-verify_hostname", "node-a.example.org", "-CAfile", ca.certificateFile.path,
            leaf.certificateFile.path
        ).checked()
        try openssl(
            "verify", "-verify_ip", "2001:db8::1", "-CAfile", ca.certificateFile.path, leaf.certificateFile.path
        ).checked()

        let text = try openssl("x509", "-noout", "-text", "-in", leaf.certificateFile.path).checked()
        #expect(
            text.contains(
                "DNS:node-a.example.org, DNS:localhost, IP Address:127.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1, "
                    + "URI:spiffe://example.org/node/a"))
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"))
        #expect(text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"))
        #expect(text.contains("X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n"))
        #expect(!text.contains("TLS Web Server Authentication"))
        #expect(text.contains("X509v3 Subject Key Identifier"))
        #expect(text.contains("X509v3 Authority Key Identifier"))
        #expect(text.contains("Signature Algorithm: ecdsa-with-SHA256"))
        #expect(try keyMatches(certificate: leaf.certificateFile, key: leaf.keyFile))

        let serial = try openssl("x509", "-noout", "-serial", "-in", leaf.certificateFile.path).checked()
        #expect(serial == "serial=\(leaf.serialNumber)\n")
        #expect(leaf.serialNumber.count == 32)

        // The file holds the leaf only: the root CA is in every peer's ca-file, and sending it would only make
        // the peer decode one more certificate per handshake.
        let pem = try String(contentsOf: leaf.certificateFile, encoding: .utf8)
        #expect(pem.components(separatedBy: "-----BEGIN CERTIFICATE-----").count == 2)
        try openssl("verify", "-CAfile", ca.certificateFile.path, leaf.certificateFile.path).checked()
    }

    /// `sidecar certs leaf --server`: the controller's certificate is a server certificate only.
    @Test func serverLeafIsForTLSServersOnly() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(in: directory.url)
        let issuer = try CertificateIssuer(caCertificateFile: ca.certificateFile, caKeyFile: ca.keyFile)
        let leaf = try issuer.issueLeaf(
            commonName: "manager", dnsNames: ["localhost"], purpose: .server, in: directory.url)
        try openssl(
            "verify", "-purpose", "sslserver", "-CAfile", ca.certificateFile.path, leaf.certificateFile.path
        ).checked()
        let asClient = try openssl(
            "verify", "-purpose", "sslclient", "-CAfile", ca.certificateFile.path, leaf.certificateFile.path)
        #expect(
            asClient.status != 0 && asClient.output.contains("unsuitable certificate purpose"), "\(asClient.output)")
        let text = try openssl("x509", "-noout", "-text", "-in", leaf.certificateFile.path).checked()
        #expect(text.contains("X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n"))
    }

    @Test func serialNumbersAreRandomAndPositive() throws {
        let directory = try TemporaryDirectory()
        let issuer = CertificateIssuer(authority: try CertificateAuthority.generate())
        let serials = try (0..<4).map {
            try issuer.issueLeaf(commonName: "leaf\($0)", in: directory.url).serialNumber
        }
        #expect(Set(serials).count == serials.count)
        #expect(serials.allSatisfy { $0.count == 32 && !$0.hasPrefix("-") })
    }

    @Test func explicitNameAndUnsafeCommonName() throws {
        let directory = try TemporaryDirectory()
        let issuer = CertificateIssuer(authority: try CertificateAuthority.generate())
        let error = #expect(throws: CertificateToolError.self) {
            try issuer.issueLeaf(commonName: "node a/../b", in: directory.url)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("give one with --name") == true)
        #expect(throws: CertificateToolError.self) {
            try issuer.issueLeaf(commonName: "x", fileName: "../x", in: directory.url)
        }
        let leaf = try issuer.issueLeaf(commonName: "node a", fileName: "node-a", in: directory.url)
        #expect(leaf.subject == "CN=node a")
        #expect(leaf.certificateFile.lastPathComponent == "node-a.pem")
    }

    @Test(arguments: [
        (dns: ["127.0.0.1"], ip: [String](), uri: [String]()),
        (dns: ["bad name"], ip: [], uri: []),
        (dns: ["-x.example"], ip: [], uri: []),
        (dns: [], ip: ["300.1.1.1"], uri: []),
        (dns: [], ip: ["localhost"], uri: []),
        (dns: [], ip: [], uri: ["no-scheme"]),
        (dns: [], ip: [], uri: ["spiffe://example.org/a b"]),
    ])
    func invalidSubjectAlternativeNamesAreRefused(dns: [String], ip: [String], uri: [String]) throws {
        let directory = try TemporaryDirectory()
        let issuer = CertificateIssuer(authority: try CertificateAuthority.generate())
        let error = #expect(throws: CertificateToolError.self) {
            try issuer.issueLeaf(commonName: "n", dnsNames: dns, ipAddresses: ip, uris: uri, in: directory.url)
        }
        #expect(error?.code == .invalidArgument)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
    }

    // MARK: Overwriting

    @Test func overwriteIsRefusedWithoutForce() throws {
        let directory = try TemporaryDirectory()
        let first = try CertificateAuthority.create(in: directory.url)
        let before = try Data(contentsOf: first.certificateFile)

        let error = #expect(throws: CertificateToolError.self) {
            try CertificateAuthority.create(in: directory.url)
        }
        #expect(error?.code == .fileExists)
        #expect(error?.description == "'\(first.certificateFile.path)' exists; use --force to overwrite")
        #expect(try Data(contentsOf: first.certificateFile) == before)

        let second = try CertificateAuthority.create(in: directory.url, force: true)
        #expect(try Data(contentsOf: second.certificateFile) != before)
        #expect(try fileMode(second.keyFile) == 0o600)
        #expect(try keyMatches(certificate: second.certificateFile, key: second.keyFile))

        let issuer = try CertificateIssuer(caCertificateFile: second.certificateFile, caKeyFile: second.keyFile)
        try issuer.issueLeaf(commonName: "node", in: directory.url)
        #expect(throws: CertificateToolError.self) { try issuer.issueLeaf(commonName: "node", in: directory.url) }
        try issuer.issueLeaf(commonName: "node", in: directory.url, force: true)
    }

    @Test func keyIsNotLeftAloneWhenOnlyTheCertificateExists() throws {
        let directory = try TemporaryDirectory()
        let issuer = CertificateIssuer(authority: try CertificateAuthority.generate())
        try Data("keep me".utf8).write(to: directory.url.appendingPathComponent("node.pem"))
        #expect(throws: CertificateToolError.self) { try issuer.issueLeaf(commonName: "node", in: directory.url) }
        #expect(!FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("node.key").path))
    }

    // MARK: Bad CA input

    @Test func missingCAKeyIsNamed() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(in: directory.url)
        let missing = directory.url.appendingPathComponent("nope.key")
        let error = #expect(throws: CertificateToolError.self) {
            try CertificateIssuer(caCertificateFile: ca.certificateFile, caKeyFile: missing)
        }
        #expect(error?.code == .unreadableFile)
        #expect(error?.description == "cannot read CA key \(missing.path): no such file")
    }

    @Test func unreadableCAKeyIsNamed() throws {
        guard getuid() != 0 else { return }  // root reads every file
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(in: directory.url)
        chmod(ca.keyFile.path, 0)
        let error = #expect(throws: CertificateToolError.self) {
            try CertificateIssuer(caCertificateFile: ca.certificateFile, caKeyFile: ca.keyFile)
        }
        #expect(error?.description == "cannot read CA key \(ca.keyFile.path): permission denied")
    }

    @Test func directoryAsCAKeyIsNamed() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(in: directory.url)
        let error = #expect(throws: CertificateToolError.self) {
            try CertificateIssuer(caCertificateFile: ca.certificateFile, caKeyFile: directory.url)
        }
        #expect(error?.description == "cannot read CA key \(directory.url.path): is a directory")
    }

    @Test func mismatchedCAKeyIsNamed() throws {
        let directory = try TemporaryDirectory()
        let one = try CertificateAuthority.create(in: directory.url.appendingPathComponent("one"))
        let two = try CertificateAuthority.create(in: directory.url.appendingPathComponent("two"))
        let error = #expect(throws: CertificateToolError.self) {
            try CertificateIssuer(caCertificateFile: one.certificateFile, caKeyFile: two.keyFile)
        }
        #expect(error?.code == .keyMismatch)
        #expect(
            error?.message == "CA certificate \(one.certificateFile.path) and key \(two.keyFile.path) do not match")
    }

    @Test func notPEMIsNamedWithOpenSSLText() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(in: directory.url)
        let garbage = directory.url.appendingPathComponent("garbage.pem")
        try Data("hello\n".utf8).write(to: garbage)

        let certificateError = #expect(throws: CertificateToolError.self) {
            try CertificateIssuer(caCertificateFile: garbage, caKeyFile: ca.keyFile)
        }
        #expect(certificateError?.message == "CA certificate \(garbage.path) holds no PEM certificate")
        #expect(certificateError?.description.contains("[OpenSSL: error:") == true)

        let keyError = #expect(throws: CertificateToolError.self) {
            try CertificateIssuer(caCertificateFile: ca.certificateFile, caKeyFile: garbage)
        }
        #expect(keyError?.message == "CA key \(garbage.path) holds no PEM private key")
    }

    @Test func encryptedCAKeyIsRefusedWithoutPrompting() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.create(in: directory.url)
        let encrypted = directory.url.appendingPathComponent("encrypted.key")
        try openssl(
            "pkey", "-in", ca.keyFile.path, "-aes256", "-passout", "pass:secret", "-out", encrypted.path
        ).checked()
        let error = #expect(throws: CertificateToolError.self) {
            try CertificateIssuer(caCertificateFile: ca.certificateFile, caKeyFile: encrypted)
        }
        #expect(error?.code == .invalidFile)
        #expect(error?.message.contains("is encrypted") == true)
    }

    @Test func leafIsNotACA() throws {
        let directory = try TemporaryDirectory()
        let issuer = CertificateIssuer(authority: try CertificateAuthority.generate())
        let leaf = try issuer.issueLeaf(commonName: "node", in: directory.url)
        let error = #expect(throws: CertificateToolError.self) {
            try CertificateIssuer(caCertificateFile: leaf.certificateFile, caKeyFile: leaf.keyFile)
        }
        #expect(error?.code == .notACertificateAuthority)
    }

    // MARK: Validity, intermediates, revocation

    @Test func expiredAndNotYetValidLeavesAreReportedByOpenSSL() throws {
        let directory = try TemporaryDirectory()
        let authority = try CertificateAuthority.generate()
        let ca = try authority.write(to: directory.url)
        let issuer = CertificateIssuer(authority: authority)
        let now = Date()
        let expired = try issuer.issueLeaf(
            commonName: "expired",
            validity: CertificateValidity(notBefore: now - 10 * 86_400, notAfter: now - 86_400),
            in: directory.url)
        let future = try issuer.issueLeaf(
            commonName: "future",
            validity: CertificateValidity(notBefore: now + 86_400, notAfter: now + 10 * 86_400),
            in: directory.url)

        let expiredResult = try openssl("verify", "-CAfile", ca.certificateFile.path, expired.certificateFile.path)
        #expect(expiredResult.status != 0)
        #expect(expiredResult.output.contains("certificate has expired"))
        let futureResult = try openssl("verify", "-CAfile", ca.certificateFile.path, future.certificateFile.path)
        #expect(futureResult.status != 0)
        #expect(futureResult.output.contains("certificate is not yet valid"))
    }

    @Test func intermediateCAChains() throws {
        let directory = try TemporaryDirectory()
        let root = try CertificateAuthority.generate(commonName: "root")
        let rootFiles = try root.write(to: directory.url, name: "root")
        let intermediate = try root.issueIntermediate(commonName: "intermediate")
        let intermediateFiles = try intermediate.write(to: directory.url, name: "intermediate")
        let leaf = try CertificateIssuer(authority: intermediate).issueLeaf(
            commonName: "node", dnsNames: ["node.example"], in: directory.url)

        #expect(intermediateFiles.issuer == "CN=root")
        let text = try openssl("x509", "-noout", "-text", "-in", intermediateFiles.certificateFile.path).checked()
        #expect(text.contains("CA:TRUE, pathlen:0"))
        // node.pem holds the leaf and the intermediate: the root alone is enough to verify it.
        try openssl(
            "verify", "-CAfile", rootFiles.certificateFile.path, "-untrusted", leaf.certificateFile.path,
            leaf.certificateFile.path
        ).checked()
        let withoutIntermediate = try openssl(
            "verify", "-CAfile", rootFiles.certificateFile.path, leaf.certificateFile.path)
        #expect(withoutIntermediate.status != 0)

        // Read back from files, the intermediate still issues.
        let reloaded = try CertificateIssuer(
            caCertificateFile: intermediateFiles.certificateFile, caKeyFile: intermediateFiles.keyFile)
        let second = try reloaded.issueLeaf(commonName: "node2", in: directory.url)
        try openssl(
            "verify", "-CAfile", rootFiles.certificateFile.path, "-untrusted", second.certificateFile.path,
            second.certificateFile.path
        ).checked()
    }

    @Test func revocationListRevokesListedSerialsOnly() throws {
        let directory = try TemporaryDirectory()
        let authority = try CertificateAuthority.generate()
        let ca = try authority.write(to: directory.url)
        let issuer = CertificateIssuer(authority: authority)
        let revoked = try issuer.issueLeaf(commonName: "revoked", in: directory.url)
        let kept = try issuer.issueLeaf(commonName: "kept", in: directory.url)
        let crl = directory.url.appendingPathComponent("crl.pem")
        try authority.writeRevocationList(revoking: [revoked.serialNumber.lowercased()], to: crl)

        let crlText = try openssl("crl", "-noout", "-text", "-in", crl.path).checked()
        #expect(crlText.contains("Serial Number: \(revoked.serialNumber)"))
        #expect(crlText.contains("X509v3 CRL Number"))
        #expect(crlText.contains("X509v3 Authority Key Identifier"))
        try openssl("crl", "-noout", "-in", crl.path, "-CAfile", ca.certificateFile.path).checked()

        let revokedResult = try openssl(
            "verify", "-crl_check", "-CRLfile", crl.path, "-CAfile", ca.certificateFile.path,
            revoked.certificateFile.path)
        #expect(revokedResult.status != 0)
        #expect(revokedResult.output.contains("certificate revoked"))
        try openssl(
            "verify", "-crl_check", "-CRLfile", crl.path, "-CAfile", ca.certificateFile.path,
            kept.certificateFile.path
        ).checked()

        #expect(throws: CertificateToolError.self) { try authority.writeRevocationList(revoking: [], to: crl) }
        #expect(throws: CertificateToolError.self) {
            try authority.writeRevocationList(revoking: ["not-hex"], to: crl, force: true)
        }
    }

    // MARK: TestPKI

    @Test func testPKIHasEveryCaseTheIntegrationTestsNeed() throws {
        let directory = try TemporaryDirectory()
        let pki = try TestPKI.make(in: directory.url.appendingPathComponent("pki"))
        let ca = pki.caCertificate.path

        for (certificate, key) in [
            (pki.serverCertificate, pki.serverKey), (pki.clientCertificate, pki.clientKey),
            (pki.expiredClientCertificate, pki.expiredClientKey),
            (pki.revokedClientCertificate, pki.revokedClientKey),
            (pki.rogueClientCertificate, pki.rogueClientKey), (pki.rogueServerCertificate, pki.rogueServerKey),
            (pki.caCertificate, pki.caKey), (pki.rogueCACertificate, pki.rogueCAKey),
        ] {
            #expect(try keyMatches(certificate: certificate, key: key))
            #expect(try fileMode(key) == 0o600)
        }
        try openssl("verify", "-verify_ip", "127.0.0.1", "-CAfile", ca, pki.serverCertificate.path).checked()
        try openssl("verify", "-verify_hostname", "localhost", "-CAfile", ca, pki.serverCertificate.path).checked()
        try openssl("verify", "-CAfile", ca, pki.clientCertificate.path).checked()
        try openssl(
            "verify", "-crl_check", "-CRLfile", pki.revocationList.path, "-CAfile", ca, pki.clientCertificate.path
        ).checked()
        #expect(try openssl("verify", "-CAfile", ca, pki.expiredClientCertificate.path).output.contains("expired"))
        #expect(
            try openssl(
                "verify", "-crl_check", "-CRLfile", pki.revocationList.path, "-CAfile", ca,
                pki.revokedClientCertificate.path
            ).output.contains("certificate revoked"))
        #expect(try openssl("verify", "-CAfile", ca, pki.rogueClientCertificate.path).status != 0)
        #expect(try openssl("verify", "-CAfile", ca, pki.rogueServerCertificate.path).status != 0)
        try openssl(
            "verify", "-verify_hostname", "localhost", "-CAfile", pki.rogueCACertificate.path,
            pki.rogueServerCertificate.path
        ).checked()
        let clientText = try openssl("x509", "-noout", "-ext", "subjectAltName", "-in", pki.clientCertificate.path)
        #expect(try clientText.checked().contains("URI:\(TestPKI.clientSPIFFEID)"))
    }
}

// MARK: - Test support

/// A fresh directory under the system's temporary directory, removed when the value goes away.
private final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The exit status and the combined stdout and stderr of a finished `openssl` run.
private struct OpenSSLResult {
    var arguments: [String]
    var status: Int32
    var output: String

    /// The output, or an error carrying it when `openssl` failed.
    @discardableResult
    func checked() throws -> String {
        guard status == 0 else {
            throw OpenSSLFailure(
                description: "openssl \(arguments.joined(separator: " ")) failed (\(status)):\n\(output)")
        }
        return output
    }
}

private struct OpenSSLFailure: Error, CustomStringConvertible {
    var description: String
}

private func openssl(_ arguments: String...) throws -> OpenSSLResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["openssl"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return OpenSSLResult(
        arguments: arguments, status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

private func fileMode(_ file: URL) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
    return (attributes[.posixPermissions] as? Int ?? -1) & 0o777
}

/// Whether the key's public half is the certificate's public key, by comparing both in PEM.
private func keyMatches(certificate: URL, key: URL) throws -> Bool {
    let fromCertificate = try openssl("x509", "-noout", "-pubkey", "-in", certificate.path).checked()
    let fromKey = try openssl("pkey", "-pubout", "-in", key.path).checked()
    return fromCertificate == fromKey
}
