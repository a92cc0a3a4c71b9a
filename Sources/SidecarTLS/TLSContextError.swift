/// Why a TLS context could not be built from its settings: names the file and what is wrong with it.
///
/// Raised at start and at reload, before any connection uses the context, so a bad certificate never
/// replaces a working one.
public struct TLSContextError: Error, Sendable, CustomStringConvertible {
    /// The setting or file the problem is about, e.g. `certificate /etc/sidecar/node.pem`.
    public var subject: String
    /// What is wrong, in the operator's words.
    public var reason: String
    /// OpenSSL's raw error strings, for debug logs.
    public var openSSLErrors: [String]

    init(_ subject: String, _ reason: String, openSSLErrors: [String] = []) {
        self.subject = subject
        self.reason = reason
        self.openSSLErrors = openSSLErrors
    }

    public var description: String { "\(subject): \(reason)" }
}
