#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// The map file of `dbus-register-name map FILE`: for each certificate common name, the D-Bus names a node
/// holding that certificate may register under.
///
/// Format: one line per CN, `CN name [name...]`, words separated by blanks; empty lines and lines whose first
/// non-blank character is `#` are skipped. A CN or a name cannot contain blanks. Each CN appears once. Read
/// when the configuration is loaded, so a reload (SIGHUP) re-reads it.
public struct DBusNameMap: Sendable, Hashable {
    /// Names by CN.
    public private(set) var entries: [String: [String]]

    public init(entries: [String: [String]] = [:]) {
        self.entries = entries
    }

    /// The names `commonName` may register under; empty when the map does not list it.
    public func names(for commonName: String) -> [String] {
        entries[commonName] ?? []
    }

    /// Reads and parses `path`.
    ///
    /// - Returns: the map, or the errors found (each with `path:line`; line 0 when the file cannot be read).
    public static func load(path: String) -> Result<DBusNameMap, ConfigError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = access(path, R_OK) == 0 ? "not a readable file" : String(cString: strerror(errno))
            return .failure(
                ConfigError(
                    .invalidConfiguration,
                    diagnostics: [
                        ConfigDiagnostic(
                            .error, "cannot read D-Bus name map '\(path)': \(reason)",
                            at: SourceLocation(file: path, line: 0))
                    ]))
        }
        return parse(Array(data), file: path)
    }

    /// Parses map text; `file` names it in diagnostics.
    public static func parse(_ bytes: [UInt8], file: String) -> Result<DBusNameMap, ConfigError> {
        var entries: [String: [String]] = [:]
        var firstLine: [String: Int] = [:]
        var diagnostics: [ConfigDiagnostic] = []
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let location = SourceLocation(file: file, line: index + 1)
            guard let text = String(validating: raw, as: UTF8.self) else {
                diagnostics.append(ConfigDiagnostic(.error, "not valid UTF-8", at: location))
                continue
            }
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let commonName = words.first, !commonName.hasPrefix("#") else { continue }
            if words.count < 2 {
                diagnostics.append(
                    ConfigDiagnostic(
                        .error, "CN '\(commonName)' has no D-Bus name: write 'CN name [name...]'", at: location))
                continue
            }
            if let first = firstLine[commonName] {
                diagnostics.append(
                    ConfigDiagnostic(
                        .error,
                        "CN '\(commonName)' is listed again (first at line \(first)); put all its names on "
                            + "one line", at: location))
                continue
            }
            firstLine[commonName] = index + 1
            entries[commonName] = Array(words.dropFirst())
        }
        guard diagnostics.isEmpty else { return .failure(ConfigError(.invalidConfiguration, diagnostics: diagnostics)) }
        return .success(DBusNameMap(entries: entries))
    }
}
