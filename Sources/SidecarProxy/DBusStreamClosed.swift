/// The user inbound event a `DBusFilter` fires just before it closes a connection (a malformed stream, fd
/// passing, or a refused registration), so that `ProxyConnection` logs the end as a refusal by the proxy.
struct DBusStreamClosed: Sendable, Equatable {
    /// What the refusal was about.
    enum Kind: Sendable, Equatable {
        /// The stream broke the protocol or a limit.
        case protocolError
        /// A register call the certificate does not allow.
        case registrationRefused
    }

    var kind: Kind
    /// The reason, as logged.
    var reason: String
    /// Which side sent the offending bytes.
    var from: ProxyConnection.Side
}
