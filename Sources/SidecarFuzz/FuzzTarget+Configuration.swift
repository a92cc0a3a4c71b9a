import SidecarConfig

extension FuzzTarget {
    /// The bytes as one configuration file, as `sidecar check -f FILE` reads it: lexer, parser, validation, and
    /// every diagnostic rendered as the operator would read it. Every `-m reg` pattern that compiled is then run
    /// against the input's first and last non-empty lines, as if they were a certificate's CN: matching must return, and
    /// quickly, whatever the pattern (it is linear in the value).
    static func runConfiguration(_ bytes: [UInt8]) {
        var parser = Parser(environment: ["HOME": "/nonexistent", "SIDECAR_FUZZ": "fuzz"])
        parser.parse(bytes, file: "fuzz.cfg")
        let (configuration, diagnostics) = parser.finish()
        for diagnostic in diagnostics { _ = "\(diagnostic)" }

        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        // Capped like a CN, so that a large input with the largest program stays a quick iteration.
        let values = [lines.first, lines.last].map { String(($0 ?? "").unicodeScalars.prefix(128)) }
        for frontend in configuration.frontends {
            for rule in frontend.connectionRules + frontend.sessionRules {
                for acl in rule.condition?.allACLs ?? [] {
                    guard case .regexes(let regexes) = acl.patterns else { continue }
                    for regex in regexes {
                        for value in values { _ = regex.matches(value) }
                    }
                }
            }
        }
    }
}
