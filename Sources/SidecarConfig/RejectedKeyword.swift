/// HAProxy keywords sidecar knows and refuses with a specific reason, instead of "unknown keyword".
///
/// HTTP-only features fail because sidecar relays TCP (D-Bus) only; the others are features a later
/// issue will deliver, and must not be silently ignored until then.
package struct RejectedKeyword: Sendable, Hashable {
    package var keyword: String
    package var reason: String

    private static let tcpOnly = "sidecar is a TCP-only proxy"

    /// Proxy-section keywords that only make sense in HTTP mode.
    package static let httpOnly: [String] = [
        "http-request", "http-response", "http-after-response", "http-check", "http-reuse",
        "http-send-name-header", "http-error", "redirect", "cookie", "capture", "compression", "errorfile",
        "errorfiles", "errorloc", "errorloc302", "errorloc303", "monitor-uri", "unique-id-format",
        "unique-id-header", "filter", "cache-use", "cache-store",
    ]

    /// `option` names that only make sense in HTTP mode.
    package static let httpOnlyOptions: [String] = [
        "httplog", "httpslog", "forwardfor", "httpchk", "http-server-close", "httpclose", "http-keep-alive",
        "http-buffer-request", "http-pretend-keepalive", "http-no-delay", "http-ignore-probes", "http_proxy",
        "http-use-proxy-header", "http-restrict-req-hdr-names", "originalto", "accept-invalid-http-request",
        "accept-invalid-http-response", "checkcache", "h1-case-adjust-bogus-client",
        "h1-case-adjust-bogus-server",
    ]

    /// Known keywords whose behaviour is not delivered (yet).
    package static let notSupported: [RejectedKeyword] = [
        .init(keyword: "tcp-response", reason: "'tcp-response' rules are not supported yet"),
        .init(
            keyword: "tcp-check",
            reason: "'tcp-check' scripts are not supported: 'check' is a connect (and TLS handshake)"
        ),
        .init(keyword: "stick-table", reason: "stick tables are not supported"),
        .init(keyword: "stick", reason: "stickiness is not supported"),
        .init(keyword: "source", reason: "choosing the source address is not supported"),
        .init(keyword: "stats", reason: "stats pages are HTTP; use 'stats socket' in the global section"),
    ]

    /// Why `keyword` is refused in a proxy section, if it is one of ours.
    package static func reason(forProxyKeyword keyword: String) -> String? {
        if httpOnly.contains(keyword) { return "'\(keyword)' is HTTP-only; \(tcpOnly)" }
        return notSupported.first { $0.keyword == keyword }?.reason
    }

    /// Why `option name` is refused, if it is HTTP-only.
    package static func reason(forOption name: String) -> String? {
        httpOnlyOptions.contains(name) ? "'option \(name)' is HTTP-only; \(tcpOnly)" : nil
    }

    /// Why `mode name` is refused.
    package static func reason(forMode name: String) -> String {
        "'mode \(name)' is not supported: \(tcpOnly) ('mode tcp')"
    }
}
