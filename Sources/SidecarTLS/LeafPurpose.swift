/// What a leaf certificate from `sidecar certs leaf` may be used for: its extendedKeyUsage.
///
/// Each end of the tunnel presents its certificate in one role only: an agent node's forward sidecar is always
/// the TLS client (its health checks too), the controller's reverse sidecar always the TLS server. So a leaf
/// gets one purpose, and a node's certificate cannot pose as the controller to a forward side that checks the
/// chain but no name (HAProxy's semantics without `verifyhost`), nor the controller's act as a node.
public enum LeafPurpose: String, Sendable, CaseIterable {
    /// extendedKeyUsage clientAuth: a node's certificate, presented by `sidecar forward` (the default).
    case client
    /// extendedKeyUsage serverAuth: the controller's certificate, presented by `sidecar reverse` (`--server`).
    case server

    /// The extendedKeyUsage value, in OpenSSL's configuration syntax.
    var extendedKeyUsage: String {
        switch self {
        case .client: return "clientAuth"
        case .server: return "serverAuth"
        }
    }
}
