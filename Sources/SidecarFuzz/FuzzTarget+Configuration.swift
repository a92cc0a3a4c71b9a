import SidecarConfig

extension FuzzTarget {
    /// The bytes as one configuration file, as `sidecar check -f FILE` reads it: lexer, parser, validation, and
    /// every diagnostic rendered as the operator would read it.
    static func runConfiguration(_ bytes: [UInt8]) {
        var parser = Parser(environment: ["HOME": "/nonexistent", "SIDECAR_FUZZ": "fuzz"])
        parser.parse(bytes, file: "fuzz.cfg")
        let (_, diagnostics) = parser.finish()
        for diagnostic in diagnostics { _ = "\(diagnostic)" }
    }
}
