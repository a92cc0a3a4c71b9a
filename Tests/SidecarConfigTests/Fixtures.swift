import Foundation
import Testing

@testable import SidecarConfig

/// Parses one configuration text; the model and every diagnostic.
func parse(
    _ text: String,
    environment: [String: String] = [:],
    file: String = "test.cfg"
) -> (configuration: Configuration, diagnostics: [ConfigDiagnostic]) {
    var parser = Parser(environment: environment)
    parser.parse(Array(text.utf8), file: file)
    return parser.finish()
}

/// The error diagnostics of `text`.
func errors(in text: String, environment: [String: String] = [:]) -> [ConfigDiagnostic] {
    parse(text, environment: environment).diagnostics.filter { $0.severity == .error }
}

/// A complete configuration with the given lines in each section. The frontend `fe` gets a Unix `bind`
/// and the backend `be` a plain server unless the lines bring their own; those come after the given lines.
///
/// Lines: `global` is 1, its lines start at 2; with G global and D defaults lines, the frontend's lines
/// start at 4+G+D; with no frontend lines the backend header is at 6+G+D and its lines start at 7+G+D.
func config(
    global: [String] = [],
    defaults: [String] = [],
    frontend: [String] = [],
    backend: [String] = []
) -> String {
    var lines = ["global"] + global.map { "    " + $0 }
    lines += ["defaults"] + defaults.map { "    " + $0 }
    lines += ["frontend fe"] + frontend.map { "    " + $0 }
    if !frontend.contains(where: { $0.hasPrefix("bind") }) { lines.append("    bind /run/fe.sock") }
    if !frontend.contains(where: { $0.hasPrefix("default_backend") || $0.hasPrefix("use_backend") }) {
        lines.append("    default_backend be")
    }
    lines += ["backend be"] + backend.map { "    " + $0 }
    if !backend.contains(where: { $0.hasPrefix("server") }) { lines.append("    server s1 127.0.0.1:80") }
    return lines.joined(separator: "\n") + "\n"
}

/// A temporary directory removed when the value is dropped by the test.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/" + name))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

extension Configuration {
    var fe: Frontend { frontends[0] }
    var be: Backend { backend(named: "be")! }
    var bind: Bind { frontends[0].binds[0] }
    var server: Server { backend(named: "be")!.servers[0] }
}
