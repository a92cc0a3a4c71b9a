/// The error of `SidecarConfig`: a configuration that cannot be used, with every finding about it.
///
/// An extensible struct (a public struct wrapping a private enum, as swift-nio-ssl's `NIOSSLExtraError`)
/// so that kinds can be added without breaking callers.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable {
            case invalidConfiguration
            case wrongShapeForMode
        }

        private let base: Base

        private init(_ base: Base) { self.base = base }

        /// The text could not be read, lexed, parsed or validated.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The configuration is valid but does not fit the mode it is run in (`sidecar forward|reverse`).
        public static let wrongShapeForMode = Code(.wrongShapeForMode)

        public var description: String {
            switch base {
            case .invalidConfiguration: return "invalid configuration"
            case .wrongShapeForMode: return "configuration does not fit the mode"
            }
        }
    }

    public var code: Code
    /// Every finding, errors and warnings, in the order of the files and lines.
    public var diagnostics: [ConfigDiagnostic]

    public init(_ code: Code, diagnostics: [ConfigDiagnostic]) {
        self.code = code
        self.diagnostics = diagnostics
    }

    /// The findings that made the configuration unusable.
    public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }

    /// The findings that did not.
    public var warnings: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .warning } }

    /// One `file:line: error|warning: message` line per finding.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
