#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The result of `sidecar check -f PATH...`: the lines to print and the verdict, like `haproxy -c`.
public struct ConfigCheck: Sendable {
    /// Each diagnostic as `file:line: error|warning: message`, then one verdict line such as
    /// `configuration valid: 2 frontends, 2 backends, 1 warning` or `configuration invalid: 3 errors, 1 warning`.
    public var lines: [String]
    /// Whether the configuration has no error (exit 0; otherwise exit 1).
    public var isValid: Bool
    /// The model, when valid.
    public var configuration: Configuration?

    /// Loads and checks `paths`.
    ///
    /// - Parameters:
    ///   - mode: when given, the configuration must also fit this mode (`Configuration.validate(for:)`).
    ///   - environment: the variables for `"$NAME"` expansion.
    public init(
        paths: [String],
        mode: ProxyMode? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        var (configuration, diagnostics) = ConfigLoader(environment: environment).diagnose(paths: paths)
        if let model = configuration, let mode {
            let shape = model.validate(for: mode)
            diagnostics += shape
            if !shape.isEmpty { configuration = nil }
        }
        let errors = diagnostics.count { $0.severity == .error }
        let warnings = diagnostics.count { $0.severity == .warning }
        var lines = diagnostics.map(\.description)
        if let configuration {
            lines.append(
                "configuration valid: \(Self.count(configuration.frontends.count, "frontend")), "
                    + "\(Self.count(configuration.backends.count, "backend")), \(Self.count(warnings, "warning"))"
            )
        } else {
            lines.append("configuration invalid: \(Self.count(errors, "error")), \(Self.count(warnings, "warning"))")
        }
        self.lines = lines
        self.isValid = configuration != nil
        self.configuration = configuration
    }

    private static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }
}
