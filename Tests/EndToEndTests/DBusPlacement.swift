import Testing

/// Which ends of the tunnel follow the D-Bus stream (`option dbus`, `--dbus`). The other end may be HAProxy,
/// which relays bytes only.
enum DBusPlacement: String, CaseIterable, CustomTestStringConvertible {
    /// Both sidecars with `--dbus`.
    case bothSides = "both sidecars"
    /// `sidecar forward --dbus` in front of HAProxy as the reverse side.
    case forwardOnly = "sidecar forward, HAProxy reverse"
    /// HAProxy as the forward side in front of `sidecar reverse --dbus`.
    case reverseOnly = "HAProxy forward, sidecar reverse"
    /// Both sidecars without `--dbus`: byte relaying, the behaviour before `option dbus`.
    case neither = "sidecars without --dbus"

    var testDescription: String { rawValue }

    /// The placements in which some end follows the D-Bus stream.
    static let aware: [DBusPlacement] = [.bothSides, .forwardOnly, .reverseOnly]
}
