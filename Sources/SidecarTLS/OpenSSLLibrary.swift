import COpenSSL
import COpenSSLShims

/// The OpenSSL the process runs with (the system's libssl, which distribution updates replace).
public enum OpenSSLLibrary {
    /// E.g. `OpenSSL 3.0.19 27 Jan 2026`: the library loaded now, not the headers built against.
    public static var version: String {
        // OpenSSL_version returns a static string; nothing to free.
        String(cString: OpenSSL_version(OPENSSL_VERSION))
    }

    /// The headers' `OPENSSL_VERSION_TEXT`: the OpenSSL the binary was compiled against, which a distribution
    /// update of libssl3 can leave behind `version`.
    public static var headerVersion: String {
        // A static string in the shim; nothing to free.
        String(cString: COpenSSLShims_OPENSSL_VERSION_TEXT())
    }
}
