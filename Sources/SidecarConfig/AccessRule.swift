/// A `tcp-request connection|session accept|reject [if|unless COND]` line of a frontend.
///
/// Rules run in order once the TLS handshake succeeded and before any backend connection is opened; the
/// first rule whose condition holds decides, and when none does the connection is accepted, as in HAProxy.
/// `tcp-request connection` rules run before `tcp-request session` rules; an `accept` there only ends the
/// connection rules, as in HAProxy.
public struct AccessRule: Sendable, Hashable {
    /// What a matching rule does.
    public enum Action: String, Sendable, Hashable {
        case accept, reject
    }

    public var action: Action
    /// nil for an unconditional rule.
    public var condition: Condition?
    public var location: SourceLocation

    public init(action: Action, condition: Condition? = nil, location: SourceLocation) {
        self.action = action
        self.condition = condition
        self.location = location
    }
}
