import Testing

@testable import SidecarConfig

/// A configuration with one mistake, the error it must produce and the line it must point at.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var message: String
    var line: Int
    var suggestion: String? = nil

    var testDescription: String { name }
}

@Suite("Configuration errors")
struct ErrorTests {
    static let cases: [ErrorCase] = [
        // Lexical errors reach the parser with their line.
        ErrorCase(name: "unmatched quote", text: "global\n  chroot \"/x\n", message: "unmatched double quote", line: 2),
        ErrorCase(name: "NUL byte", text: "global\n  chroot /x\u{0}\n", message: "NUL character", line: 2),
        ErrorCase(
            name: "too many words",
            text: "global\n" + Array(repeating: "x", count: 65).joined(separator: " ") + "\n",
            message: "too many words",
            line: 2
        ),
        // Structure.
        ErrorCase(
            name: "keyword outside a section",
            text: "chroot /x\n" + config(),
            message: "'chroot' outside of any section",
            line: 1
        ),
        ErrorCase(
            name: "unsupported section",
            text: "peers p\n  peer a 1.2.3.4:1\n" + config(),
            message: "'peers' sections are not supported",
            line: 1
        ),
        ErrorCase(
            name: "frontend without name",
            text: "frontend\n" + config(),
            message: "'frontend' needs a name",
            line: 1
        ),
        ErrorCase(
            name: "invalid proxy name",
            text: config().replacingOccurrences(of: "backend be", with: "backend b/e"),
            message: "invalid character '/' in backend name",
            line: 6
        ),
        ErrorCase(
            name: "two frontends with one name",
            text: config() + "frontend fe\n  bind :9\n",
            message: "frontend 'fe' is already defined at test.cfg:3",
            line: 8
        ),
        ErrorCase(
            name: "two backends with one name",
            text: config() + "backend be\n",
            message: "backend 'be' is already defined at test.cfg:6",
            line: 8
        ),
        ErrorCase(
            name: "listen clashes with a frontend",
            text: config() + "listen fe\n",
            message: "frontend 'fe' is already defined",
            line: 8
        ),
        ErrorCase(
            name: "two servers with one name",
            text: config(backend: ["server s1 h:1", "server s1 h:2"]),
            message: "server 'be/s1' is already defined at test.cfg:7",
            line: 8
        ),
        ErrorCase(
            name: "unknown defaults in from",
            text: "defaults base\n" + "frontend fe from bsae\n  bind :1\n",
            message: "no 'defaults' section named 'bsae'",
            line: 2,
            suggestion: "base"
        ),
        // Unknown keywords, with suggestions.
        ErrorCase(
            name: "unknown global keyword",
            text: config(global: ["chroott /x"]),
            message: "unknown keyword 'chroott' in 'global' section",
            line: 2,
            suggestion: "chroot"
        ),
        ErrorCase(
            name: "unknown proxy keyword",
            text: config(backend: ["balanse roundrobin"]),
            message: "unknown keyword 'balanse' in 'backend' section",
            line: 7,
            suggestion: "balance"
        ),
        ErrorCase(
            name: "unknown bind option",
            text: config(frontend: ["bind :1 ssl crt /a.pem verfy required"]),
            message: "unknown keyword 'verfy' in 'bind' line",
            line: 4,
            suggestion: "verify"
        ),
        ErrorCase(
            name: "unknown server option",
            text: config(backend: ["server s h:1 ssl verfyhost x"]),
            message: "unknown keyword 'verfyhost' in 'server' line",
            line: 7,
            suggestion: "verifyhost"
        ),
        ErrorCase(
            name: "unknown default-server option",
            text: config(defaults: ["default-server chek"]),
            message: "unknown keyword 'chek' in 'default-server' line",
            line: 3,
            suggestion: "check"
        ),
        ErrorCase(
            name: "keyword in the wrong section",
            text: config(frontend: ["server s h:1"]),
            message: "'server' is not allowed in a 'frontend' section",
            line: 4
        ),
        ErrorCase(
            name: "bind in a backend",
            text: config(backend: ["bind :1"]),
            message: "'bind' is not allowed in a 'backend' section",
            line: 7
        ),
        ErrorCase(
            name: "unknown option",
            text: config(backend: ["option redispach"]),
            message: "unsupported option 'redispach'",
            line: 7,
            suggestion: "redispatch"
        ),
        ErrorCase(
            name: "unknown timeout",
            text: config(defaults: ["timeout conect 5s"]),
            message: "unknown timeout 'conect'",
            line: 3,
            suggestion: "connect"
        ),
        // TCP only.
        ErrorCase(
            name: "mode http",
            text: config(defaults: ["mode http"]),
            message: "'mode http' is not supported: sidecar is a TCP-only proxy",
            line: 3
        ),
        ErrorCase(
            name: "mode health",
            text: config(frontend: ["mode health"]),
            message: "sidecar is a TCP-only proxy",
            line: 4
        ),
        ErrorCase(
            name: "unknown mode",
            text: config(frontend: ["mode tpc"]),
            message: "unknown mode 'tpc'",
            line: 4,
            suggestion: "tcp"
        ),
        ErrorCase(
            name: "http-request",
            text: config(frontend: ["http-request deny"]),
            message: "'http-request' is HTTP-only; sidecar is a TCP-only proxy",
            line: 4
        ),
        ErrorCase(
            name: "option httplog",
            text: config(defaults: ["option httplog"]),
            message: "'option httplog' is HTTP-only",
            line: 3
        ),
        ErrorCase(
            name: "option forwardfor",
            text: config(defaults: ["option forwardfor"]),
            message: "'option forwardfor' is HTTP-only",
            line: 3
        ),
        ErrorCase(
            name: "timeout http-request",
            text: config(defaults: ["timeout http-request 5s"]),
            message: "'timeout http-request' is HTTP-only",
            line: 3
        ),
        // Not supported (yet).
        ErrorCase(
            name: "use_backend with a condition",
            text: config(frontend: ["use_backend be if TRUE"]),
            message: "conditions on 'use_backend' are not supported yet",
            line: 4
        ),
        ErrorCase(
            name: "acl with an unsupported fetch",
            text: config(frontend: ["acl ok req.len 10"]),
            message: "unknown or unsupported fetch 'req.len'",
            line: 4
        ),
        ErrorCase(
            name: "tcp-request content",
            text: config(frontend: ["tcp-request content reject"]),
            message: "'tcp-request content' is not supported",
            line: 4
        ),
        ErrorCase(
            name: "balance source",
            text: config(backend: ["balance source"]),
            message: "'balance source' is not supported",
            line: 7
        ),
        ErrorCase(
            name: "sni other than str()",
            text: config(backend: ["server s h:1 ssl sni ssl_fc_sni"]),
            message: "only the sample expression str(NAME) is supported",
            line: 7
        ),
        ErrorCase(
            name: "per-proxy log",
            text: config(frontend: ["log 127.0.0.1:514 local0"]),
            message: "per-proxy 'log' targets are not supported",
            line: 4
        ),
        ErrorCase(
            name: "network log target",
            text: config(global: ["log 127.0.0.1:514 local0"]),
            message: "log target '127.0.0.1:514' is not supported",
            line: 2
        ),
        ErrorCase(
            name: "log facility",
            text: config(global: ["log stderr locl0"]),
            message: "unknown syslog facility 'locl0'",
            line: 2,
            suggestion: "local0"
        ),
        ErrorCase(
            name: "stats outside socket",
            text: config(global: ["stats maxconn 4"]),
            message: "only 'stats socket' is supported",
            line: 2
        ),
        ErrorCase(
            name: "stats socket on TCP",
            text: config(global: ["stats socket 127.0.0.1:9000"]),
            message: "must be a Unix socket path",
            line: 2
        ),
        ErrorCase(
            name: "abns bind",
            text: config(frontend: ["bind abns@x"]),
            message: "address prefix 'abns@' is not supported",
            line: 4
        ),
        ErrorCase(
            name: "bind option for ssl defaults",
            text: config(global: ["ssl-default-bind-options prefer-client-ciphers"]),
            message: "unsupported TLS option 'prefer-client-ciphers'",
            line: 2
        ),
        // Values.
        ErrorCase(
            name: "bind port 0",
            text: config(frontend: ["bind :0"]),
            message: "invalid port '0' in ':0' (expected 1...65535)",
            line: 4
        ),
        ErrorCase(
            name: "bind port too big",
            text: config(frontend: ["bind *:65536"]),
            message: "invalid port '65536'",
            line: 4
        ),
        ErrorCase(name: "bind port range", text: config(frontend: ["bind *:80-90"]), message: "port ranges", line: 4),
        ErrorCase(
            name: "bind without port",
            text: config(frontend: ["bind localhost"]),
            message: "'localhost' has no port",
            line: 4
        ),
        ErrorCase(
            name: "server port",
            text: config(backend: ["server s h:70000"]),
            message: "invalid port '70000'",
            line: 7
        ),
        ErrorCase(
            name: "server without host",
            text: config(backend: ["server s :80"]),
            message: "needs a host",
            line: 7
        ),
        ErrorCase(
            name: "server without address",
            text: config(backend: ["server s"]),
            message: "'server' expects a name and an address",
            line: 7
        ),
        ErrorCase(
            name: "bad bracketed v6",
            text: config(backend: ["server s [::1:80"]),
            message: "'[address]:port'",
            line: 7
        ),
        ErrorCase(
            name: "weight above 256",
            text: config(backend: ["server s h:1 weight 257"]),
            message: "'weight' expects a number in 0...256, not '257'",
            line: 7
        ),
        ErrorCase(
            name: "rise 0",
            text: config(backend: ["server s h:1 rise 0"]),
            message: "'rise' expects a number in 1...",
            line: 7
        ),
        ErrorCase(
            name: "fall 0",
            text: config(backend: ["server s h:1 fall 0"]),
            message: "'fall' expects a number in 1...",
            line: 7
        ),
        ErrorCase(
            name: "inter 0",
            text: config(backend: ["server s h:1 inter 0"]),
            message: "'inter' must be greater than zero",
            line: 7
        ),
        ErrorCase(
            name: "option without value",
            text: config(backend: ["server s h:1 inter"]),
            message: "'inter' on a 'server' line expects a value",
            line: 7
        ),
        ErrorCase(
            name: "bad time",
            text: config(defaults: ["timeout connect 5x"]),
            message: "invalid time '5x' for 'timeout connect'",
            line: 3
        ),
        ErrorCase(
            name: "time overflow",
            text: config(defaults: ["timeout connect 30d"]),
            message: "invalid time '30d'",
            line: 3
        ),
        ErrorCase(
            name: "bad retries",
            text: config(backend: ["retries -1"]),
            message: "'retries' expects a number",
            line: 7
        ),
        ErrorCase(
            name: "bad maxconn",
            text: config(global: ["maxconn lots"]),
            message: "'maxconn' expects a number",
            line: 2
        ),
        ErrorCase(
            name: "bad octal mode",
            text: config(frontend: ["bind /a.sock mode 0999"]),
            message: "octal mode",
            line: 4
        ),
        ErrorCase(
            name: "bad TLS version",
            text: config(frontend: ["bind :1 ssl crt /a ssl-min-ver TLSv1.4"]),
            message: "'ssl-min-ver' expects one of SSLv3",
            line: 4
        ),
        ErrorCase(
            name: "min above max",
            text: config(frontend: ["bind :1 ssl crt /a ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.2"]),
            message: "'ssl-min-ver TLSv1.3' is above 'ssl-max-ver TLSv1.2'",
            line: 4
        ),
        ErrorCase(
            name: "bad verify",
            text: config(frontend: ["bind :1 ssl crt /a verify yes"]),
            message: "'verify' expects none, optional or required",
            line: 4
        ),
        ErrorCase(
            name: "trailing words",
            text: config(global: ["chroot /a /b"]),
            message: "unexpected '/b' after 'chroot'",
            line: 2
        ),
        ErrorCase(name: "empty word", text: config(global: ["chroot \"$UNSET\""]), message: "word 2 is empty", line: 2),
        // TLS consistency.
        ErrorCase(
            name: "bind verify required without ca-file",
            text: config(frontend: ["bind :1 ssl crt /a verify required"]),
            message: "'verify required' is set but no CA file is specified for bind '*:1'",
            line: 4
        ),
        ErrorCase(
            name: "server verify by default without ca-file",
            text: config(backend: ["server s h:1 ssl"]),
            message: "verify is enabled by default but no CA file specified",
            line: 7
        ),
        ErrorCase(
            name: "ssl bind without crt",
            text: config(frontend: ["bind :1 ssl"]),
            message: "no certificate for TLS bind '*:1'",
            line: 4
        ),
        // References.
        ErrorCase(
            name: "missing backend",
            text: config(frontend: ["default_backend bee"]),
            message: "frontend 'fe' uses backend 'bee', which does not exist",
            line: 4,
            suggestion: "be"
        ),
        ErrorCase(
            name: "no frontend",
            text: "defaults\n  timeout connect 1s\nbackend be\n  server s h:1\n",
            message: "no frontend with a 'bind' line",
            line: 4
        ),
        ErrorCase(
            name: "same address twice",
            text: config(frontend: ["bind :1", "bind :1"]),
            message: "address '*:1' is already bound at test.cfg:4",
            line: 5
        ),
    ]

    @Test(arguments: cases)
    func reportsErrorWithLocation(_ testCase: ErrorCase) {
        let found = errors(in: testCase.text)
        let match = found.first { $0.message.contains(testCase.message) }
        #expect(match != nil, "expected '\(testCase.message)' in \(found)")
        #expect(match?.location == SourceLocation(file: "test.cfg", line: testCase.line), "\(found)")
        if let suggestion = testCase.suggestion {
            #expect(match?.suggestion == suggestion)
        }
    }

    @Test func reportsEveryErrorNotOnlyTheFirst() {
        let text = config(global: ["chroott /x"], frontend: ["bind :0"], backend: ["server s h:1 weight 999"])
        #expect(errors(in: text).map(\.location.line) == [2, 5, 8, 8], "\(errors(in: text))")
    }

    @Test func stopsAfterFiftyErrors() {
        let text = "global\n" + String(repeating: "bogus\n", count: 200)
        let found = errors(in: text)
        #expect(found.count == Parser.maximumErrors + 1)
        #expect(found.last?.message.contains("too many errors") == true)
    }

    @Test func errorDescriptionNamesFileLineAndSuggestion() throws {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader(environment: [:]).load(
                text: config(backend: ["server s h:1 ssl verfy required"]),
                file: "conf.d/agent.cfg"
            )
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(
            error?.description.split(separator: "\n").contains(
                "conf.d/agent.cfg:7: error: unknown keyword 'verfy' in 'server' line; did you mean 'verify'?"
            ) == true,
            "\(String(describing: error))"
        )
    }
}
