extension TLSContext {
    /// Client role: whether a session (a TLS 1.3 ticket, or a TLS 1.2 session) from `peer` sits in the
    /// resumption cache, i.e. whether a connection made with `sessionKey: peer` received one.
    ///
    /// `sidecar probe` uses it as proof that a TLS 1.3 server accepted our certificate: a server sends its
    /// tickets only after it has verified the client's certificate and Finished message.
    package func hasSession(for peer: String) -> Bool {
        sessionCount(for: peer) > 0
    }
}
