/// The operator's intent, from the subcommand: `sidecar forward` or `sidecar reverse`.
///
/// The configuration must have the matching shape; `Configuration.validate(for:)` checks it.
public enum ProxyMode: String, Sendable, Hashable, CaseIterable {
    /// Plain listeners (a local Unix socket), TLS servers: the sidecar is the TLS client.
    case forward
    /// TLS listeners with `verify required`, plain servers: the sidecar is the TLS server.
    case reverse
}
