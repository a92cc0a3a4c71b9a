import NIOCore
import SidecarTLS

/// Who may use a tunnel, beyond what OpenSSL's chain verification decided: the hooks `ProxyConnection`
/// calls once a handshake succeeded, before anything is relayed.
///
/// A non-nil result is the refusal reason, worded for the log (e.g. `CN 'node7' not allowed on frontend
/// 'bluechi'`); the connection is closed and, on a listener, no backend connection is ever opened.
extension FrontendPlan {
    /// Decides whether the client that completed `handshake` on `bind` may reach the backend.
    func admit(client handshake: TLSHandshakeCompleted, on bind: BindPlan, from peer: SocketAddress?) -> String? {
        nil
    }
}

extension ServerPlan {
    /// Decides whether the server that completed `handshake` is one this tunnel may talk to.
    func admit(server handshake: TLSHandshakeCompleted) -> String? {
        nil
    }
}
