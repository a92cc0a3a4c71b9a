import Foundation
import SidecarFuzz
import Testing

/// Every committed fuzz input, replayed through the same entry function libFuzzer calls, on every test run and
/// without libFuzzer: the seeds (Fuzz/corpus/TARGET), which must keep loading, and the regressions
/// (Fuzz/regressions/TARGET), each an input that once crashed or hung sidecar. A crash here takes the test
/// process down and fails the run; a hang trips the suite's time limit.
@Suite struct FuzzCorpusReplayTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README" }.sorted().map {
            directory.appendingPathComponent($0)
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusReplaysWithoutAFinding(_ target: FuzzTarget) throws {
        let seeds = Self.inputs("corpus", target)
        #expect(!seeds.isEmpty, "no seeds in Fuzz/corpus/\(target.rawValue)")
        for seed in seeds { target.run(Array(try Data(contentsOf: seed))) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func regressionCorpusReplaysWithoutAFinding(_ target: FuzzTarget) throws {
        for input in Self.inputs("regressions", target) { target.run(Array(try Data(contentsOf: input))) }
    }
}
