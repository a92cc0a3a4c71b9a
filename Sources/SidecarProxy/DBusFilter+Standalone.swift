import Logging
import NIOCore
import SidecarConfig
import SidecarTLS

/// An `option dbus` filter outside any proxy connection, as if a client with `certificate` had completed its
/// TLS handshake: the fuzz targets and their regression replay drive it with raw bytes on an `EmbeddedChannel`
/// (client bytes as inbound reads, server bytes as outbound writes), as `ProxyConnection` does with a socket's.
package func standaloneDBusFilter(
    settings: DBusSettings, subject: String?, certificate: PeerCertificate?, logger: Logger
) -> any ChannelHandler {
    let filter = DBusFilter(
        settings: settings, frontend: "standalone", peerAddress: "standalone", logger: logger, counters: nil)
    filter.peerVerified(subject: subject, certificate: certificate)
    return filter
}
