import Foundation
import SidecarFuzz

/// The target this process fuzzes, from `SIDECAR_FUZZ_TARGET` (scripts/fuzz.sh sets it): one binary for every
/// target, so the normal build links one extra executable, not five.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["SIDECAR_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        complain("set SIDECAR_FUZZ_TARGET to one of: \(names) (got '\(name)')")
        exit(2)
    }
    return target
}()

func complain(_ message: String) {
    FileHandle.standardError.write(Data("sidecar-fuzz: \(message)\n".utf8))
}

/// libFuzzer calls this once before the first input. The arguments are libFuzzer's to parse; they are left alone.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    selectedTarget.prepare()
    return 0
}

/// libFuzzer's entry point. Built with SIDECAR_LIBFUZZER (scripts/fuzz.sh), `FuzzDriver` hands it to libFuzzer.
/// libFuzzer owns `data` and keeps it valid only during the call: the bytes are copied before use.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    selectedTarget.run(bytes)
    return 0
}

#if SIDECAR_LIBFUZZER
    /// libFuzzer's documented entry for programs with their own `main` (libFuzzer's `main` is not linked: SwiftPM
    /// names this module's entry point `sidecar_fuzz_main` and points `main` at it). It parses libFuzzer's options
    /// from the command line, calls `LLVMFuzzerInitialize`, then `fuzzOneInput` per input; it returns or exits.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runLibFuzzer(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    @main
    struct FuzzDriver {
        static func main() {
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(runLibFuzzer(&argc, &argv, fuzzOneInput))
        }
    }
#else
    /// Without libFuzzer (a normal build): `sidecar-fuzz FILE...` runs each file through the target once, to
    /// reproduce a finding under a debugger or sanitizer.
    @main
    struct FuzzReplay {
        static func main() {
            selectedTarget.prepare()
            for path in CommandLine.arguments.dropFirst() {
                guard let data = FileManager.default.contents(atPath: path) else {
                    complain("cannot read \(path)")
                    exit(1)
                }
                selectedTarget.run(Array(data))
                print("\(selectedTarget.rawValue): \(path): returned")
            }
        }
    }
#endif
