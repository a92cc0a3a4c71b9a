/// A `defaults`, `frontend`, `backend` or `listen` section while it is being parsed.
///
/// As in HAProxy, a `defaults` section is a proxy too: a new proxy starts as a copy of the `defaults`
/// in effect (the last one, or the one named with `from`), then its own lines change the copy.
/// Settings whose meaning depends on the global section (TLS defaults, `unix-bind`, `chroot`,
/// `ssl-server-verify`) are applied when the model is built, after every file has been read.
package struct ProxyDraft: Sendable {
    package var kind: SectionKind
    package var name: String
    package var location: SourceLocation

    package var timeouts = Timeouts()
    package var retries = 3
    /// HAProxy's default: no redispatch unless `option redispatch`.
    package var redispatch = false
    package var balance = Backend.Balance.roundrobin
    package var maxconn: Int?
    package var tcplog = false
    package var defaultBackend: (name: String, location: SourceLocation)?
    /// The first `use_backend` without a condition; it wins over `default_backend`, as rules run first.
    package var useBackend: (name: String, location: SourceLocation)?
    package var defaultServer = ServerOptions()
    package var binds: [Bind] = []
    package var servers: [Server] = []
    /// `acl` lines by name; several lines with one name are OR-ed, as in HAProxy.
    package var acls: [String: [ACL]] = [:]
    package var sessionRules: [AccessRule] = []
    package var connectionRules: [AccessRule] = []
    /// `option dbus` (sidecar extension).
    package var dbus = false
    package var dbusMaxMessageSize = DBusSettings.defaultMaxMessageSize
    /// `dbus-register-name` (frontend and listen only, so never inherited from `defaults`).
    package var dbusRegisterName: DBusRegisterName?
    package var dbusRegisterMethod: (method: DBusMethod, location: SourceLocation)?

    /// HAProxy's built-in defaults, in effect before any `defaults` section.
    package static func builtIn(location: SourceLocation) -> ProxyDraft {
        ProxyDraft(kind: .defaults, name: "", location: location)
    }

    /// A `bind` line as written.
    package struct Bind: Sendable {
        package var address: ListenAddress
        package var ssl = false
        package var tls = TLSSettings()
        package var verifyGiven = false
        /// The first TLS-only option given, to warn when `ssl` is missing.
        package var tlsOptionWithoutSSL: String?
        package var unixSocket = UnixSocketOptions()
        package var maxconn: Int?
        package var name: String?
        package var handshakeTimeout: Duration?
        package var location: SourceLocation
    }

    /// The options of a `server` or `default-server` line.
    package struct ServerOptions: Sendable {
        package var ssl = false
        package var tls = TLSSettings()
        package var verifyGiven = false
        package var check = false
        package var inter: Duration = .seconds(2)
        package var rise = 2
        package var fall = 3
        package var weight = 1
        package var backup = false
        package var disabled = false
        package var maxconn: Int?
    }

    /// A `server` line as written, after `default-server`.
    package struct Server: Sendable {
        package var name: String
        package var address: ServerAddress
        package var options: ServerOptions
        package var location: SourceLocation
    }
}
