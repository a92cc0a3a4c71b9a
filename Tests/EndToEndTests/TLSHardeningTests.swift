import Foundation
import Testing

/// The built binary against what an attacker or a mistaken operator brings (issue 17): certificate names
/// that try to forge log lines, encrypted keys on a terminal, ALPN from OpenSSL's own client.
@Suite struct TLSHardeningTests {
    /// Makes `name.pem`/`name.key` in the PKI with python3-cryptography (OpenSSL's `-subj` cannot put a newline
    /// or a NUL in a name): CN `commonName` (`<NUL>` stands for a NUL byte, which an argument cannot carry),
    /// extendedKeyUsage clientAuth, signed by the PKI's CA.
    private func clientCertificate(
        _ scenario: Scenario, pki: PKI, name: String, commonName: String
    ) async throws {
        let python = try Harness.tool("python3", package: "python3-cryptography")
        let script = """
            import datetime, sys
            from cryptography import x509
            from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            ca_cert = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
            ca_key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
            key = ec.generate_private_key(ec.SECP256R1())
            now = datetime.datetime.now(datetime.timezone.utc)
            cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sys.argv[5].replace("<NUL>", "\\x00"))]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
            open(sys.argv[3], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
            open(sys.argv[4], "wb").write(key.private_bytes(serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            """
        let made = try await scenario.run(
            "make-\(name)", python,
            ["-c", script, pki.ca, pki.caKey, pki.certificate(name), pki.key(name), commonName])
        #expect(made.exitStatus == 0, "\(made.transcript)")
    }

    /// Runs `openssl s_client` with `certificate` against 127.0.0.1:`port` to its end (stdin is empty).
    private func sClient(_ scenario: Scenario, pki: PKI, port: UInt16, certificate: String) async throws {
        let openssl = try Harness.tool("openssl", package: "openssl")
        _ = try await scenario.run(
            "s_client-\(port)", openssl,
            [
                "s_client", "-connect", "127.0.0.1:\(port)", "-cert", pki.certificate(certificate), "-key",
                pki.key(certificate), "-CAfile", pki.ca, "-brief",
            ])
    }

    @Test func aCertificateNameWithANewlineAndANULStaysOnOneLogLine() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            try await clientCertificate(
                scenario, pki: pki, name: "forger", commonName: "node1\nFORGED info connection closed<NUL>tail")
            let echo = try scenario.startEchoServer()
            let readable = try Harness.freePort()
            let tcplog = try Harness.freePort()
            let directory = scenario.path("reverse.d")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let bind = "ssl crt \(pki.certificate("manager")) verify required ca-file \(pki.ca) allow-cn node2"
            try """
            frontend readable
                bind 127.0.0.1:\(readable) \(bind)
                default_backend local
            frontend haproxy
                bind 127.0.0.1:\(tcplog) \(bind)
                option tcplog
                default_backend local
            backend local
                server bus \(echo.path)

            """.write(toFile: directory + "/manager.cfg", atomically: true, encoding: .utf8)
            let reverse = try scenario.start(
                "reverse", try Harness.sidecarBinary(), ["reverse", "-f", directory, "--threads", "1"])
            try await reverse.waitForLine(containing: ["info ready"])

            try await sClient(scenario, pki: pki, port: readable, certificate: "forger")
            let refused = try await reverse.waitForLine(containing: ["connection refused", "frontend=readable"])
            try await sClient(scenario, pki: pki, port: tcplog, certificate: "forger")
            let failed = try await reverse.waitForLine(containing: ["SSL client certificate not trusted"])

            let lines = reverse.stderr.split(separator: "\n", omittingEmptySubsequences: false)
            // One line per refusal, no forged line, nothing cut at the NUL.
            #expect(lines.filter { $0.contains("FORGED") }.count == 2, "\(reverse.stderr)")
            #expect(!lines.contains { $0.hasPrefix("FORGED") }, "\(reverse.stderr)")
            #expect(!reverse.stderr.utf8.contains(0), "a NUL reached the log")
            // The readable line: the CN as the certificate tooling prints it (\0A, \00), inside a quoted value.
            #expect(
                refused.contains(#"reason="CN 'node1\\0AFORGED info connection closed\\00tail' not allowed"#),
                "\(refused)")
            #expect(refused.hasSuffix(#"subject="/CN=node1\\0AFORGED info connection closed\\00tail""#), "\(refused)")
            // HAProxy's error format: the same names, and the line ends with the whole subject.
            #expect(failed.contains("CN 'node1\\0AFORGED info connection closed\\00tail' not allowed"), "\(failed)")
            #expect(failed.hasSuffix("subject: /CN=node1\\0AFORGED info connection closed\\00tail"), "\(failed)")
            #expect(echo.acceptedConnections == 0)
        }
    }

    /// `show sess` quotes the subject; a `"` in a certificate name must not end that value early and forge
    /// fields after it (`\\22`, as the names' other escapes are written).
    @Test func aQuoteInACertificateNameStaysInsideShowSessSubject() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            try await clientCertificate(scenario, pki: pki, name: "quoter", commonName: #"node1" bin=0 forged="1"#)
            let echo = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let stats = scenario.path("stats.sock")
            let directory = scenario.path("reverse.d")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try """
            global
                stats socket \(stats) mode 600 level operator
            frontend tunnel
                bind 127.0.0.1:\(port) ssl crt \(pki.certificate("manager")) verify required ca-file \(pki.ca)
                default_backend local
            backend local
                server bus \(echo.path)

            """.write(toFile: directory + "/manager.cfg", atomically: true, encoding: .utf8)
            let reverse = try scenario.start(
                "reverse", try Harness.sidecarBinary(),
                ["reverse", "-f", directory, "--threads", "1", "--log-level", "debug"])
            try await reverse.waitForLine(containing: ["info ready"])
            let client = try scenario.start(
                "s_client", try Harness.tool("openssl", package: "openssl"),
                [
                    "s_client", "-connect", "127.0.0.1:\(port)", "-cert", pki.certificate("quoter"), "-key",
                    pki.key("quoter"), "-CAfile", pki.ca, "-quiet",
                ], withStdin: true)
            try await reverse.waitForLine(containing: ["connection relaying"])
            let admin = try UnixSocketClient(path: stats)
            try admin.send("show sess\n")
            let sessions = try await admin.receive(until: "\n\n")
            admin.close()
            let line = try #require(sessions.split(separator: "\n").first { $0.contains("fe=tunnel") }, "\(sessions)")
            #expect(line.hasSuffix(#" subject="/CN=node1\22 bin=0 forged=\221""#), "\(line)")
            #expect(line.filter { $0 == "\"" }.count == 2, "\(line)")
            client.stop()
        }
    }

    /// Runs `command` under `script` (a pseudo-terminal, as an operator at a shell), with standard input held
    /// open and never written: a passphrase prompt would wait for ever, and the bounded wait would fail.
    private func onATerminal(_ scenario: Scenario, _ name: String, _ command: [String]) async throws -> ChildProcess {
        let script = try Harness.tool("script", package: "bsdutils")
        let line = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let child = try scenario.start(name, script, ["-qec", line, "/dev/null"], withStdin: true)
        try await child.waitForExit(timeout: .seconds(30))
        return child
    }

    /// `key` encrypted with a passphrase, written to `encrypted`.
    private func encrypt(_ scenario: Scenario, key: String, to encrypted: String) async throws {
        let openssl = try Harness.tool("openssl", package: "openssl")
        let made = try await scenario.run(
            "encrypt", openssl, ["pkey", "-in", key, "-aes256", "-passout", "pass:secret", "-out", encrypted])
        #expect(made.exitStatus == 0, "\(made.transcript)")
    }

    @Test func anEncryptedKeyFailsCheckAndStartWithAdviceAndNeverPrompts() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let encrypted = scenario.path("manager-encrypted.key")
            try await encrypt(scenario, key: pki.key("manager"), to: encrypted)
            // HAProxy's way: certificate and (encrypted) key in the one `crt` file.
            let combined = scenario.path("manager-combined.pem")
            try
                (String(contentsOfFile: pki.certificate("manager"), encoding: .utf8)
                + String(contentsOfFile: encrypted, encoding: .utf8))
                .write(toFile: combined, atomically: true, encoding: .utf8)
            let directory = scenario.path("reverse.d")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try """
            frontend manager
                bind 127.0.0.1:\(try Harness.freePort()) ssl crt \(combined) verify required ca-file \(pki.ca)
                default_backend local
            backend local
                server bus \(scenario.path("bus.sock"))

            """.write(toFile: directory + "/manager.cfg", atomically: true, encoding: .utf8)
            let sidecar = try Harness.sidecarBinary().path

            let check = try await onATerminal(scenario, "check", [sidecar, "check", "-f", directory])
            #expect(check.exitStatus != 0, "\(check.transcript)")
            #expect(!check.transcript.contains("pass phrase"), "\(check.transcript)")
            #expect(check.transcript.contains("manager.cfg:2"), "\(check.transcript)")
            #expect(check.transcript.contains("private key \(combined): is encrypted"), "\(check.transcript)")
            #expect(check.transcript.contains("openssl pkey -in \(combined)"), "\(check.transcript)")

            let start = try await onATerminal(
                scenario, "reverse",
                [
                    sidecar, "reverse", "--listen", "127.0.0.1:\(try Harness.freePort())", "--connect",
                    "unix:" + scenario.path("bus.sock"), "--cert", pki.certificate("manager"), "--key", encrypted,
                    "--ca", pki.ca,
                ])
            #expect(start.exitStatus != 0, "\(start.transcript)")
            #expect(!start.transcript.contains("pass phrase"), "\(start.transcript)")
            #expect(start.transcript.contains("private key \(encrypted): is encrypted"), "\(start.transcript)")
        }
    }

    @Test func aReloadOntoAnEncryptedKeyKeepsServingAndNeverPrompts() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let directory = try scenario.writeReverseConfig(pki: pki, port: port, backend: echo.path)
            let script = try Harness.tool("script", package: "bsdutils")
            let sidecar = try Harness.sidecarBinary().path
            let terminal = try scenario.start(
                "reverse-on-a-terminal", script,
                ["-qec", "exec '\(sidecar)' reverse -f '\(directory)' --threads 1", "/dev/null"], withStdin: true)
            // `script` echoes the terminal to its standard output.
            try await terminal.waitForLine(containing: ["info ready"], onStdout: true)
            // script's child is the shell that exec'd sidecar.
            let children = try String(
                contentsOfFile: "/proc/\(terminal.pid)/task/\(terminal.pid)/children", encoding: .utf8)
            let pid = try #require(children.split(separator: " ").first.flatMap { pid_t($0) })

            try await encrypt(scenario, key: pki.key("manager"), to: scenario.path("encrypted.key"))
            try FileManager.default.removeItem(atPath: pki.key("manager"))
            try FileManager.default.copyItem(atPath: scenario.path("encrypted.key"), toPath: pki.key("manager"))
            kill(pid, SIGHUP)
            try await terminal.waitForLine(
                containing: ["error reload failed", "private key \(pki.key("manager")): is encrypted"], onStdout: true)
            #expect(!terminal.stdout.contains("pass phrase"), "\(terminal.transcript)")
            // Still serving with the key it had.
            try await sClient(scenario, pki: pki, port: port, certificate: "node1")
            #expect(echo.acceptedConnections == 1)
        }
    }

    @Test func certsLeafWithAnEncryptedCAKeyFailsWithoutPrompting() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let encrypted = scenario.path("ca-encrypted.key")
            try await encrypt(scenario, key: pki.caKey, to: encrypted)
            let leaf = try await onATerminal(
                scenario, "certs-leaf",
                [
                    try Harness.sidecarBinary().path, "certs", "leaf", "--ca-cert", pki.ca, "--ca-key", encrypted,
                    "--cn", "node9", "--out", scenario.path("out"),
                ])
            #expect(leaf.exitStatus != 0, "\(leaf.transcript)")
            #expect(!leaf.transcript.contains("pass phrase"), "\(leaf.transcript)")
            #expect(leaf.transcript.contains("\(encrypted) is encrypted"), "\(leaf.transcript)")
        }
    }

    @Test func theListenerSelectsALPNFromOpenSSLsOfferInItsOwnOrder() async throws {
        try await withScenario { scenario in
            let openssl = try Harness.tool("openssl", package: "openssl")
            let pki = try await scenario.makePKI()
            let echo = try scenario.startEchoServer()
            let port = try Harness.freePort()
            let directory = scenario.path("reverse.d")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try """
            frontend manager
                bind 127.0.0.1:\(port) ssl crt \(pki.certificate("manager")) verify required ca-file \(pki.ca) alpn dbus,h2
                default_backend local
            backend local
                server bus \(echo.path)

            """.write(toFile: directory + "/manager.cfg", atomically: true, encoding: .utf8)
            let reverse = try scenario.start(
                "reverse", try Harness.sidecarBinary(), ["reverse", "-f", directory, "--threads", "1"])
            try await reverse.waitForLine(containing: ["info ready"])
            func offer(_ protocols: String) async throws -> ChildProcess {
                try await scenario.run(
                    "s_client-\(protocols)", openssl,
                    [
                        "s_client", "-connect", "127.0.0.1:\(port)", "-cert", pki.certificate("node1"), "-key",
                        pki.key("node1"), "-CAfile", pki.ca, "-alpn", protocols,
                    ])
            }
            // Several handshakes on one context: the selected name must come from storage that outlives each.
            for _ in 1...3 {
                let both = try await offer("x-other,h2,dbus")
                #expect(both.stdout.contains("ALPN protocol: dbus"), "\(both.transcript)")
            }
            let one = try await offer("h2")
            #expect(one.stdout.contains("ALPN protocol: h2"), "\(one.transcript)")
            let none = try await offer("x-other")
            #expect(!none.stdout.contains("ALPN protocol:"), "\(none.transcript)")
            #expect(none.transcript.contains("no application protocol"), "\(none.transcript)")
        }
    }

    @Test func certsLeafSaysWhichRoleTheCertificateServesAndOpenSSLAgrees() async throws {
        try await withScenario { scenario in
            let openssl = try Harness.tool("openssl", package: "openssl")
            let pki = try await scenario.makePKI(leaves: [])
            let sidecar = ["certs", "leaf", "--ca-cert", pki.ca, "--ca-key", pki.caKey, "--out", pki.directory]
            let node = try await scenario.runSidecar(sidecar + ["--cn", "node1"])
            #expect(node.stdout.contains("usage:     TLS client (extendedKeyUsage clientAuth)"), "\(node.transcript)")
            let controller = try await scenario.runSidecar(sidecar + ["--cn", "manager", "--server", "--dns", "x"])
            #expect(
                controller.stdout.contains("usage:     TLS server (extendedKeyUsage serverAuth)"),
                "\(controller.transcript)")
            for (name, purpose, good) in [
                ("node1", "sslclient", true), ("node1", "sslserver", false), ("manager", "sslserver", true),
                ("manager", "sslclient", false),
            ] {
                let verified = try await scenario.run(
                    "verify-\(name)-\(purpose)", openssl,
                    ["verify", "-purpose", purpose, "-CAfile", pki.ca, pki.certificate(name)])
                #expect((verified.exitStatus == 0) == good, "\(name) as \(purpose): \(verified.transcript)")
            }
        }
    }

    @Test func systemCAWithoutAnIdentityRuleIsRefusedInCheckAndOnTheCommandLine() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let directory = scenario.path("reverse.d")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try """
            frontend manager
                bind 127.0.0.1:\(try Harness.freePort()) ssl crt \(pki.certificate("manager")) verify required ca-file @system-ca
                default_backend local
            backend local
                server bus \(scenario.path("bus.sock"))

            """.write(toFile: directory + "/manager.cfg", atomically: true, encoding: .utf8)
            let check = try await scenario.runSidecar(["check", "-f", directory, "--mode", "reverse"])
            #expect(check.exitStatus == 1, "\(check.transcript)")
            #expect(
                check.stdout.contains("manager.cfg:2: error: bind '127.0.0.1:"), "\(check.transcript)")
            #expect(check.stdout.contains("'@system-ca' with no identity rule"), "\(check.transcript)")

            let reverse = try await scenario.runSidecar([
                "reverse", "--listen", "127.0.0.1:\(try Harness.freePort())", "--connect",
                "unix:" + scenario.path("bus.sock"), "--cert", pki.certificate("manager"), "--key",
                pki.key("manager"), "--ca", "@system-ca",
            ])
            #expect(reverse.exitStatus != 0, "\(reverse.transcript)")
            #expect(reverse.stderr.contains("--ca @system-ca lets in anyone"), "\(reverse.transcript)")
            let allowed = try scenario.start(
                "reverse-allowed", try Harness.sidecarBinary(),
                [
                    "reverse", "--listen", "127.0.0.1:\(try Harness.freePort())", "--connect",
                    "unix:" + scenario.path("bus.sock"), "--cert", pki.certificate("manager"), "--key",
                    pki.key("manager"), "--ca", "@system-ca", "--allow-cn", "node1",
                ])
            try await allowed.waitForLine(containing: ["info ready"])
        }
    }
}
