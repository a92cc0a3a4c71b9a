import Foundation
import Testing

@testable import SidecarConfig

/// SplitMix64: a small deterministic generator, so a failure can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Robustness")
struct RobustnessTests {
    /// Bytes that exercise the lexer's special cases more often than uniform noise would.
    static let interesting = Array(" \t\n\r#\"'\\${}[]*-:@/.x0\u{0}".utf8) + Array("bindserverssl".utf8)

    static let seeds: [String] = [
        BlueChiConfigs.agent, BlueChiConfigs.controller,
        config(
            global: [
                "chroot /c", "unix-bind prefix /p mode 600", "log stderr local0", "stats socket /s.sock level admin",
            ],
            defaults: ["timeout connect 5s", "default-server check inter 1s", "option redispatch"],
            frontend: ["bind \"${ADDR-*:2021}\" ssl crt a.pem verify required ca-file ca.pem", "option tcplog"],
            backend: [
                "balance leastconn", "server s1 h:1 ssl ca-file /ca verifyhost h weight 3", "server s2 /x.sock backup",
            ]
        ),
        "listen l\n    bind :1,:2\n    server s 'h':1 # c\n",
    ]

    /// Every outcome must be a model, or errors that all point at a line.
    private func checkOutcome(_ bytes: [UInt8]) {
        var parser = Parser(environment: ["ADDR": "*:1"])
        parser.parse(bytes, file: "fuzz.cfg")
        let (_, diagnostics) = parser.finish()
        #expect(diagnostics.allSatisfy { $0.location.line > 0 && $0.location.file == "fuzz.cfg" }, "\(diagnostics)")
    }

    @Test func randomBytesNeverCrash() {
        var generator = SeededGenerator(state: 2026)
        for _ in 0..<2_000 {
            let count = Int.random(in: 0...300, using: &generator)
            let bytes = (0..<count).map { _ in
                Bool.random(using: &generator)
                    ? Self.interesting.randomElement(using: &generator)!
                    : UInt8.random(in: 0...255, using: &generator)
            }
            checkOutcome(bytes)
        }
    }

    @Test func mutatedValidConfigurationsNeverCrash() {
        var generator = SeededGenerator(state: 42)
        for _ in 0..<2_000 {
            var bytes = Array(Self.seeds.randomElement(using: &generator)!.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0...bytes.count, using: &generator)
                switch Int.random(in: 0..<5, using: &generator) {
                case 0:
                    let end = min(bytes.count, position + Int.random(in: 1...20, using: &generator))
                    bytes.removeSubrange(position..<end)
                case 1:
                    bytes.insert(Self.interesting.randomElement(using: &generator)!, at: position)
                case 2:
                    bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
                case 3:
                    let end = min(bytes.count, position + Int.random(in: 1...40, using: &generator))
                    bytes.insert(contentsOf: bytes[position..<end], at: position)
                default:
                    if position < bytes.count { bytes[position] = Self.interesting.randomElement(using: &generator)! }
                }
            }
            checkOutcome(bytes)
        }
    }

    @Test func validSeedsAreValid() {
        for seed in Self.seeds {
            var parser = Parser(environment: ["ADDR": "*:1"])
            parser.parse(Array(seed.utf8), file: "fuzz.cfg")
            let (_, diagnostics) = parser.finish()
            #expect(!diagnostics.contains { $0.severity == .error }, "\(diagnostics)")
        }
    }

    @Test func longLinesAndManyLinesStayFast() {
        let start = ContinuousClock.now
        checkOutcome(Array(String(repeating: "\"${A-", count: 20_000).utf8))
        checkOutcome(Array(String(repeating: "server s h:1\n", count: 20_000).utf8))
        checkOutcome(Array((String(repeating: "x", count: 200_000) + "\n").utf8))
        #expect(ContinuousClock.now - start < .seconds(10))
    }
}
