import SidecarConfig

/// A problem that stops a proxy from starting or reloading: an address that cannot be bound or resolved.
public struct ProxyError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var location: SourceLocation?

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    public var description: String {
        guard let location, location.line > 0 else { return message }
        return "\(location): \(message)"
    }
}
