import COpenSSL

/// The OpenSSL the process runs with (the system's libssl, which distribution updates replace).
public enum OpenSSLLibrary {
    /// E.g. `OpenSSL 3.0.19 27 Jan 2026`: the library loaded now, not the headers built against.
    public static var version: String {
        // OpenSSL_version returns a static string; nothing to free.
        String(cString: OpenSSL_version(OPENSSL_VERSION))
    }
}
