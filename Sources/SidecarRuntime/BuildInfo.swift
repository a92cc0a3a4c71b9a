import SidecarSystemd
import SidecarTLS

/// The release number and what the binary was built from and runs with: `sidecar --version`, the runtime
/// API's `show info`, and the metrics' `sidecar_build_info`.
public enum BuildInfo {
    /// The release number; debian/changelog and sidecar.spec carry the same one (a test checks).
    public static let version = "0.1.0"

    /// `sidecar --version`: one fact a line, the first one the release as `sidecar VERSION`.
    ///
    ///     sidecar 0.1.0
    ///     commit: 4e61e9e0c2a1
    ///     compiler: Swift version 6.3.1 (swift-6.3.1-RELEASE)
    ///     OpenSSL: OpenSSL 3.0.19 27 Jan 2026
    ///
    /// When the loaded libssl is not the one whose headers the binary was compiled against (a distribution
    /// update), the OpenSSL line names both.
    public static var report: String {
        let running = OpenSSLLibrary.version
        let built = OpenSSLLibrary.headerVersion
        let openSSL = running == built ? running : "\(running) (built against \(built))"
        return """
            sidecar \(version)
            commit: \(BuildStamp.gitCommit ?? "unknown")
            compiler: \(BuildStamp.swiftVersion ?? compilerFallback)
            OpenSSL: \(openSSL)
            """
    }

    /// The compiler's major and minor version, when the build did not pass its `swift --version` line.
    private static var compilerFallback: String {
        #if compiler(>=6.3)
            "Swift version 6.3 or later"
        #elseif compiler(>=6.2)
            "Swift version 6.2"
        #elseif compiler(>=6.1)
            "Swift version 6.1"
        #else
            "Swift version 6.0"
        #endif
    }
}
