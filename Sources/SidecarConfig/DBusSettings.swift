/// `option dbus` and its companions on a frontend (sidecar extensions): the relay follows the D-Bus stream in
/// both directions, negotiates Unix-fd passing away and, with `dbus-register-name`, checks the name a node
/// registers under against its client certificate.
public struct DBusSettings: Sendable, Hashable {
    /// `dbus-max-message-size`'s default. The specification allows 128 MiB; BlueChi's messages are a few
    /// hundred bytes, and a message that must be checked is held whole in memory.
    public static let defaultMaxMessageSize = 8 * 1024 * 1024
    /// The specification's own limit on a message, the largest `dbus-max-message-size` accepted.
    public static let specificationMaxMessageSize = 128 * 1024 * 1024
    /// The header-field array is capped independently of `dbus-max-message-size` (the specification allows
    /// 64 MiB): the array is the one part of a message the relay may have to collect before forwarding.
    public static let headerFieldsLimit = 64 * 1024

    /// `dbus-max-message-size`: the largest message (header, fields, padding and body) either side may send.
    public var maxMessageSize: Int
    /// `dbus-register-name`; nil when names are not checked.
    public var registerName: DBusRegisterName?
    /// `dbus-register-method`: the call whose single string argument is checked.
    public var registerMethod: DBusMethod

    public init(
        maxMessageSize: Int = DBusSettings.defaultMaxMessageSize, registerName: DBusRegisterName? = nil,
        registerMethod: DBusMethod = .blueChiRegister
    ) {
        self.maxMessageSize = maxMessageSize
        self.registerName = registerName
        self.registerMethod = registerMethod
    }
}
