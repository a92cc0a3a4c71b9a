/// Why `sidecar probe` failed, in the operator's words, with the exit status that tells the kinds apart.
///
/// An extensible struct (a public struct over a private enum), so kinds can be added later.
public struct ProbeFailure: Error, Sendable, CustomStringConvertible {
    enum Base: Int32, Sendable {
        case setup = 1
        case unreachable = 2
        case serverCertificateRefused = 3
        case clientCertificateRefused = 4
        case handshakeFailed = 5
        case tunnelFailed = 6
    }

    let base: Base
    /// What went wrong and, where we can tell, what to do about it.
    public var reason: String

    init(_ base: Base, _ reason: String) {
        self.base = base
        self.reason = reason
    }

    /// Our own files or arguments are wrong (certificate, key, CA file): exit status 1.
    public static let setup = Code(.setup)
    /// No TCP or Unix connection: name not resolved, refused, timed out, no socket file: exit status 2.
    public static let unreachable = Code(.unreachable)
    /// We refused the server's certificate (expired, unknown CA, wrong name): exit status 3.
    public static let serverCertificateRefused = Code(.serverCertificateRefused)
    /// The server refused our certificate (its alert, or it closed right after the handshake): exit status 4.
    public static let clientCertificateRefused = Code(.clientCertificateRefused)
    /// The TLS handshake failed for another reason (protocol, cipher, timeout, not TLS): exit status 5.
    public static let handshakeFailed = Code(.handshakeFailed)
    /// `unix:` targets: connected, but the tunnel closed or stayed silent: exit status 6.
    public static let tunnelFailed = Code(.tunnelFailed)

    /// The kind of failure; compare with `ProbeFailure.unreachable` and friends.
    public var code: Code { Code(base) }

    /// The process exit status for this failure (success is 0).
    public var exitCode: Int32 { base.rawValue }

    /// A kind of `ProbeFailure`.
    public struct Code: Sendable, Hashable {
        let base: Base
        init(_ base: Base) { self.base = base }
    }

    public var description: String { reason }
}
