/// The validated, immutable model of a whole configuration (every `-f` file, or the CLI flags).
///
/// Built in one step from text (or flags); every later stage works from this value, never from text.
/// A reload builds a new value and swaps it in.
public struct Configuration: Sendable, Hashable {
    public var global: Global
    public var frontends: [Frontend]
    public var backends: [Backend]
    /// Non-fatal findings (`sidecar check` prints them; the daemon logs them at start and reload).
    public var warnings: [ConfigDiagnostic]

    public init(
        global: Global = Global(), frontends: [Frontend], backends: [Backend], warnings: [ConfigDiagnostic] = []
    ) {
        self.global = global
        self.frontends = frontends
        self.backends = backends
        self.warnings = warnings
    }

    /// The backend called `name`, if any.
    public func backend(named name: String) -> Backend? {
        backends.first { $0.name == name }
    }
}

/// One finding about a configuration, printed as `file:line: error|warning: message`.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable { case error, warning }
    public var severity: Severity
    public var location: SourceLocation
    public var message: String
    /// A likely intended spelling for an unknown keyword or option, printed as `; did you mean 'x'?`.
    public var suggestion: String?

    public init(_ severity: Severity, _ message: String, at location: SourceLocation, suggestion: String? = nil) {
        self.severity = severity
        self.message = message
        self.location = location
        self.suggestion = suggestion
    }

    public var description: String {
        let hint = suggestion.map { "; did you mean '\($0)'?" } ?? ""
        return "\(location): \(severity.rawValue): \(message)\(hint)"
    }
}
