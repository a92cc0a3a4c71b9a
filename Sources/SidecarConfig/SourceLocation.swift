/// Where a setting was written: the file and the 1-based line, for error messages and `sidecar check`.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    /// A setting that came from the command line rather than a file.
    public static func commandLine(_ flag: String) -> SourceLocation {
        SourceLocation(file: "command line (\(flag))", line: 0)
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }
}
