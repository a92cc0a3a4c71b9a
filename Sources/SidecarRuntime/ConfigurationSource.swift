import SidecarConfig
import SidecarProxy

/// Where a serving subcommand takes its configuration from: `-f` files, or the tunnel flags.
public enum ConfigurationSource: Sendable {
    case files([String])
    case flags(TunnelFlags)

    /// Loads the model and checks that it fits `mode`.
    /// - Throws: `ConfigError` with every finding, or `UsageError` for a bad flag.
    public func load(for mode: ProxyMode) throws -> Configuration {
        switch self {
        case .flags(let flags):
            return try flags.configuration()
        case .files(let paths):
            let configuration = try ConfigLoader().load(paths: paths)
            let shape = configuration.validate(for: mode)
            if !shape.isEmpty {
                throw ConfigError(.wrongShapeForMode, diagnostics: configuration.warnings + shape)
            }
            return configuration
        }
    }
}
