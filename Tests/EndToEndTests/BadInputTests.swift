import Foundation
import Testing

/// An operator's mistakes at start-up: each ends the process with a non-zero status and one clear line that
/// names the file or address at fault, never a crash or a stack trace.
@Suite struct BadInputTests {
    @Test func missingCertificateFileIsNamed() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let missing = scenario.path("no-such-dir/manager.pem")
            let result = try await startupFailure(
                scenario,
                try reverseArguments(scenario, pki: pki, overriding: ["--cert": missing])
            )
            expectCleanStartupFailure(result, naming: missing)
        }
    }

    @Test func zeroThreadsIsAUsageErrorNotACrash() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let result = try await startupFailure(
                scenario, try reverseArguments(scenario, pki: pki, overriding: [:]) + ["--threads", "0"])
            #expect(result.exitedNormally, "\(result.transcript)")
            #expect(result.exitStatus == 64, "\(result.transcript)")
            #expect(result.stderr.contains("--threads must be at least 1"), "\(result.transcript)")
        }
    }

    @Test func keyThatDoesNotMatchCertificateIsNamedAsAMismatch() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let otherKey = pki.key("node1")
            let result = try await startupFailure(
                scenario,
                try reverseArguments(scenario, pki: pki, overriding: ["--key": otherKey])
            )
            expectCleanStartupFailure(result, naming: otherKey)
            // The key is a readable PEM key: the operator must be told it belongs to another certificate.
            #expect(result.stderr.contains("does not match"), "\(result.stderr)")
        }
    }

    @Test func caFileThatIsNotPEMIsNamed() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let garbage = scenario.path("garbage-ca.pem")
            try "this is not a certificate\n\u{1}\u{2}\u{3}\n".write(toFile: garbage, atomically: true, encoding: .utf8)
            let result = try await startupFailure(
                scenario,
                try reverseArguments(scenario, pki: pki, overriding: ["--ca": garbage])
            )
            expectCleanStartupFailure(result, naming: garbage)
        }
    }

    @Test func listenPathInMissingDirectoryIsNamed() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let socketPath = scenario.path("missing-dir/forward.sock")
            let result = try await startupFailure(
                scenario,
                [
                    "forward", "--listen", "unix:" + socketPath, "--connect", "127.0.0.1:9", "--cert",
                    pki.certificate("node1"), "--key", pki.key("node1"), "--ca", pki.ca,
                ]
            )
            expectCleanStartupFailure(result, naming: scenario.path("missing-dir"))
            #expect(!FileManager.default.fileExists(atPath: socketPath))
        }
    }

    @Test func tcpPortAlreadyInUseIsNamed() async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let holder = try TCPListener(port: 0)
            defer { holder.close() }
            let address = "127.0.0.1:\(holder.port)"
            let result = try await startupFailure(
                scenario,
                try reverseArguments(scenario, pki: pki, overriding: ["--listen": address])
            )
            expectCleanStartupFailure(result, naming: address)
            #expect(result.stderr.contains("in use"), "\(result.stderr)")
        }
    }

    @Test(arguments: [
        ("forward", "no-port-here"),
        ("forward", "127.0.0.1:99999"),
        ("forward", "unix:/run/not-a-tcp-address.sock"),
        ("reverse", "127.0.0.1:2021"),
        ("reverse", "unix:"),
    ])
    func badConnectValueIsNamed(mode: String, connect: String) async throws {
        try await withScenario { scenario in
            let pki = try await scenario.makePKI()
            let arguments =
                mode == "forward"
                ? [
                    "forward", "--listen", "unix:" + scenario.path("forward.sock"), "--connect", connect, "--cert",
                    pki.certificate("node1"), "--key", pki.key("node1"), "--ca", pki.ca,
                ]
                : try reverseArguments(scenario, pki: pki, overriding: ["--connect": connect])
            let result = try await startupFailure(scenario, arguments)
            expectCleanStartupFailure(result, naming: connect)
        }
    }

    // MARK: Helpers

    /// Runs `sidecar` with `arguments` until it exits, or until it says `ready`: bad input must not start
    /// a listener, so a sidecar that does is stopped at once and the test fails without waiting out a deadline.
    private func startupFailure(_ scenario: Scenario, _ arguments: [String]) async throws -> ChildProcess {
        let sidecar = try scenario.start("sidecar-" + arguments[0], try Harness.sidecarBinary(), arguments)
        try await Harness.waitUntil("sidecar exits or says ready", details: sidecar.transcript) {
            !sidecar.isRunning || sidecar.stderr.contains(" ready ")
        }
        if sidecar.isRunning {
            sidecar.stop()
            Issue.record("sidecar started despite the bad input\n\(sidecar.transcript)")
        }
        return sidecar
    }

    /// Arguments of a `sidecar reverse` that would start, with some options replaced.
    private func reverseArguments(
        _ scenario: Scenario,
        pki: PKI,
        overriding: [String: String]
    ) throws -> [String] {
        let defaults: KeyValuePairs = [
            "--listen": "127.0.0.1:\(try Harness.freePort())", "--connect": "unix:" + scenario.path("backend.sock"),
            "--cert": pki.certificate("manager"), "--key": pki.key("manager"), "--ca": pki.ca,
        ]
        return ["reverse"] + defaults.flatMap { option, value in [option, overriding[option] ?? value] }
    }

    /// The process ended by itself with a non-zero status and said why, naming `culprit`, without a crash.
    private func expectCleanStartupFailure(
        _ result: ChildProcess,
        naming culprit: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let stderr = result.stderr
        if stderr.contains(" ready ") { return }  // it started: startupFailure has recorded that, once
        #expect(result.exitedNormally, "killed by a signal\n\(result.transcript)", sourceLocation: sourceLocation)
        #expect(result.exitStatus != 0, "exit status 0\n\(result.transcript)", sourceLocation: sourceLocation)
        #expect(stderr.contains("cannot start"), "\(result.transcript)", sourceLocation: sourceLocation)
        #expect(
            stderr.contains(culprit),
            "does not name \(culprit)\n\(result.transcript)",
            sourceLocation: sourceLocation
        )
        for crashSign in ["Fatal error", "Stack dump", "Backtrace", "Current stack trace", "Swift runtime failure"] {
            #expect(!stderr.contains(crashSign), "\(result.transcript)", sourceLocation: sourceLocation)
        }
        #expect(
            stderr.split(separator: "\n").count <= 2,
            "more than a clear line\n\(stderr)",
            sourceLocation: sourceLocation
        )
    }
}
