#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Loads the files named by `-f` options into a validated `Configuration`.
///
/// Each path is a file, loaded as is, or a directory, whose regular files (symlinks followed) named
/// `*.cfg` are loaded in C-locale (byte-wise) lexical order, skipping dotfiles and not descending into
/// subdirectories: HAProxy's rule, where the first `.cfg` in the name must be its end (`a.cfg.cfg` and
/// `x.cfg.bak` are skipped). `defaults` sections carry from one file to the next, in that order.
public struct ConfigLoader: Sendable {
    /// The variables `"$NAME"` expands from.
    public var environment: [String: String]

    /// - Parameter environment: the variables for `"$NAME"` expansion; the process environment by default.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Loads, parses and validates every file under `paths`.
    ///
    /// - Returns: the model; its `warnings` hold the non-fatal findings.
    /// - Throws: `ConfigError` with every error and warning when any error was found.
    public func load(paths: [String]) throws(ConfigError) -> Configuration {
        let (configuration, diagnostics) = diagnose(paths: paths)
        guard let configuration else { throw ConfigError(.invalidConfiguration, diagnostics: diagnostics) }
        return configuration
    }

    /// Parses and validates configuration text that is not in a file (tests, generated configurations).
    ///
    /// - Parameter file: the name diagnostics and `.FILE` use.
    /// - Throws: `ConfigError` with every error and warning when any error was found.
    public func load(text: String, file: String = "<text>") throws(ConfigError) -> Configuration {
        var parser = Parser(environment: environment)
        parser.parse(Array(text.utf8), file: file)
        let (configuration, diagnostics) = parser.finish()
        guard !diagnostics.contains(where: { $0.severity == .error }) else {
            throw ConfigError(.invalidConfiguration, diagnostics: diagnostics)
        }
        return configuration
    }

    /// Loads every file under `paths` and reports all findings without throwing, for `sidecar check`.
    ///
    /// - Returns: the model when there is no error (nil otherwise), and every diagnostic in file order.
    public func diagnose(paths: [String]) -> (configuration: Configuration?, diagnostics: [ConfigDiagnostic]) {
        var (files, diagnostics) = Self.files(in: paths)
        var parser = Parser(environment: environment)
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                diagnostics.append(
                    ConfigDiagnostic(.error, "cannot read this file", at: SourceLocation(file: file, line: 0))
                )
                continue
            }
            parser.parse(Array(data), file: file)
        }
        var (configuration, parsed) = parser.finish()
        diagnostics += parsed
        configuration.warnings = diagnostics.filter { $0.severity == .warning }
        let valid = !diagnostics.contains { $0.severity == .error }
        return (valid ? configuration : nil, diagnostics)
    }

    /// The files `paths` name, in load order, with a diagnostic for each path that cannot be used.
    public static func files(in paths: [String]) -> (files: [String], diagnostics: [ConfigDiagnostic]) {
        var files: [String] = []
        var diagnostics: [ConfigDiagnostic] = []
        let manager = FileManager.default
        if paths.isEmpty {
            diagnostics.append(
                ConfigDiagnostic(.error, "no configuration given: pass '-f FILE|DIR'", at: .commandLine("-f"))
            )
        }
        for path in paths {
            #if canImport(FoundationEssentials)
                var isDirectory = false
            #else
                var isDirectory: ObjCBool = false
            #endif
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                diagnostics.append(
                    ConfigDiagnostic(.error, "no such file or directory", at: SourceLocation(file: path, line: 0))
                )
                continue
            }
            guard isDirectory.boolValue else {
                files.append(path)
                continue
            }
            guard let names = try? manager.contentsOfDirectory(atPath: path) else {
                diagnostics.append(
                    ConfigDiagnostic(.error, "cannot list this directory", at: SourceLocation(file: path, line: 0))
                )
                continue
            }
            let directory = path.hasSuffix("/") ? path : path + "/"
            let selected = names.filter(isConfigurationFileName)
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                .map { directory + $0 }
                .filter(isRegularFile)
            if selected.isEmpty {
                diagnostics.append(
                    ConfigDiagnostic(
                        .warning,
                        "no '*.cfg' file in this directory",
                        at: SourceLocation(file: path, line: 0)
                    )
                )
            }
            files += selected
        }
        return (files, diagnostics)
    }

    /// HAProxy's rule: not a dotfile, and the first `.cfg` in the name is its end.
    static func isConfigurationFileName(_ name: String) -> Bool {
        guard !name.hasPrefix("."), let range = name.firstRange(of: ".cfg") else { return false }
        return range.upperBound == name.endIndex
    }

    /// A regular file, after following symlinks.
    private static func isRegularFile(_ path: String) -> Bool {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let type = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.type] as? FileAttributeType
        return type == .typeRegular
    }
}

#if canImport(FoundationEssentials)
    extension Bool {
        /// FoundationEssentials' `fileExists(atPath:isDirectory:)` reports a `Bool` where Foundation has `ObjCBool`.
        fileprivate var boolValue: Bool { self }
    }
#endif
