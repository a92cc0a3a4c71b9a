/// A D-Bus method by object path, interface and member, as `dbus-register-method PATH INTERFACE MEMBER`.
public struct DBusMethod: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var interface: String
    public var member: String

    public init(path: String, interface: String, member: String) {
        self.path = path
        self.interface = interface
        self.member = member
    }

    /// BlueChi 1.2's node registration: the agent's first call on its peer connection to the controller.
    public static let blueChiRegister = DBusMethod(
        path: "/org/eclipse/bluechi/internal", interface: "org.eclipse.bluechi.internal.Controller",
        member: "Register")

    public var description: String { "\(path) \(interface).\(member)" }
}
