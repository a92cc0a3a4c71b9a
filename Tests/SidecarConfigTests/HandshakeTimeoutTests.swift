import Testing

@testable import SidecarConfig

/// `handshake-timeout` on `bind` lines: sidecar's extension bounding the client's TLS handshake.
@Suite("bind handshake-timeout")
struct HandshakeTimeoutTests {
    @Test func bindHandshakeTimeoutIsParsedWithUnits() {
        let (configuration, diagnostics) = parse(
            config(frontend: ["bind :2021 ssl crt /a.pem verify required ca-file /ca.pem handshake-timeout 300ms"]))
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty)
        #expect(configuration.bind.handshakeTimeout == .milliseconds(300))
    }

    @Test func bindWithoutHandshakeTimeoutKeepsDefault() {
        let (configuration, _) = parse(config(frontend: ["bind :2021 ssl crt /a.pem verify required ca-file /ca.pem"]))
        #expect(configuration.bind.handshakeTimeout == nil)
    }

    @Test(arguments: ["soon", "0", "-1s"])
    func invalidHandshakeTimeoutIsAnError(value: String) {
        let found = errors(in: config(frontend: ["bind :2021 ssl crt /a.pem handshake-timeout \(value)"]))
        #expect(found.contains { $0.description.contains("handshake-timeout") && $0.description.contains(":4:") })
    }

    @Test func handshakeTimeoutWithoutSSLWarns() {
        let (_, diagnostics) = parse(config(frontend: ["bind /a.sock handshake-timeout 5s"]))
        #expect(diagnostics.contains { $0.severity == .warning && $0.description.contains("handshake-timeout") })
    }
}
