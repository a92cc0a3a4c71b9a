/// A server's administrative state, set by the operator (`disabled` in the configuration, or the runtime API's
/// `set server B/S state`, `disable server`, `enable server`), as opposed to what health checks say.
///
/// - `ready`: in rotation when up.
/// - `drain`: no new connections; established ones continue; still checked (HAProxy's DRAIN).
/// - `maint`: no new connections; established ones continue unless shut down; HAProxy's MAINT.
public enum ServerAdminState: String, Sendable, Hashable, CaseIterable {
    case ready
    case drain
    case maint
}

/// What the balancer knows about one server now: for `show stat` and `show servers state`.
public struct ServerRuntimeState: Sendable, Hashable {
    public var admin: ServerAdminState
    /// The current weight (the configured one unless `set server B/S weight` changed it).
    public var weight: Int
    /// Up according to health checks (always true for a server without `check`).
    public var up: Bool
    /// Connections on the server now.
    public var connections: Int
}
