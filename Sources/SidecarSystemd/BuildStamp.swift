import CBuildStamp

/// What the build recorded about itself (Package.swift passes it from the environment `make` sets): the git
/// commit and the Swift compiler. Either is nil when the build did not know it (a plain `swift build`, or a
/// source tarball without .git). It sits with the other thin wrappers so that no other module calls C.
public enum BuildStamp {
    /// E.g. `4e61e9e0c2a1`, with `-modified` when the work tree had uncommitted changes.
    public static var gitCommit: String? {
        // A static string in CBuildStamp; nothing to free.
        nonEmpty(String(cString: CBuildStamp_gitCommit()))
    }

    /// The compiler's `swift --version` line, e.g. `Swift version 6.3.1 (swift-6.3.1-RELEASE)`.
    public static var swiftVersion: String? {
        // A static string in CBuildStamp; nothing to free.
        nonEmpty(String(cString: CBuildStamp_swiftVersion()))
    }

    private static func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }
}
