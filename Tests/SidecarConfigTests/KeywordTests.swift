import Testing

@testable import SidecarConfig

/// A configuration using one keyword, and what the model must hold for it.
struct KeywordCase: Sendable, CustomTestStringConvertible {
    var keyword: String
    var text: String
    var check: @Sendable (Configuration) -> Bool

    var testDescription: String { keyword }
}

private let tls12 = TLSVersion.tls12
private let ca = "ca-file /ca.pem"

@Suite("Supported keywords")
struct KeywordTests {
    static let cases: [KeywordCase] = [
        // global
        KeywordCase(
            keyword: "chroot",
            text: config(global: ["chroot /var/lib/haproxy"], backend: ["server s1 /x.sock"])
        ) {
            $0.global.chroot == "/var/lib/haproxy" && $0.server.address == .unix(path: "/var/lib/haproxy/x.sock")
        },
        KeywordCase(
            keyword: "chroot + unix@ relative",
            text: config(global: ["chroot /c/"], backend: ["server s1 unix@x.sock"])
        ) {
            $0.server.address == .unix(path: "/c/x.sock")
        },
        KeywordCase(keyword: "chroot leaves TCP servers", text: config(global: ["chroot /c"])) {
            $0.server.address == .tcp(host: "127.0.0.1", port: 80)
        },
        KeywordCase(
            keyword: "unix-bind",
            text: config(global: ["unix-bind prefix /run/pre mode 660 user u uid 10 group g gid 20"])
        ) {
            $0.global.unixBindPrefix == "/run/pre" && $0.bind.address == .unix(path: "/run/pre/run/fe.sock")
                && $0.bind.unixSocket == UnixSocketOptions(mode: 0o660, user: "u", uid: 10, group: "g", gid: 20)
        },
        KeywordCase(
            keyword: "unix-bind mode overridden by bind mode",
            text: config(global: ["unix-bind mode 600"], frontend: ["bind /a.sock mode 0666"])
        ) {
            $0.bind.unixSocket.mode == 0o666
        },
        KeywordCase(
            keyword: "crt-base ca-base",
            text: config(
                global: ["crt-base /etc/c", "ca-base /etc/a/"],
                backend: ["server s1 h:1 ssl crt node.pem ca-file ca.pem crl-file crl.pem verifyhost h"]
            )
        ) {
            $0.server.tls?.certificateFiles == ["/etc/c/node.pem"] && $0.server.tls?.caFile == "/etc/a/ca.pem"
                && $0.server.tls?.crlFile == "/etc/a/crl.pem"
        },
        KeywordCase(
            keyword: "crt-base leaves absolute paths",
            text: config(global: ["crt-base /etc/c"], frontend: ["bind :1 ssl crt /x.pem"])
        ) {
            $0.bind.tls?.certificateFiles == ["/x.pem"]
        },
        KeywordCase(
            keyword: "ca-file @system-ca",
            text: config(global: ["ca-base /b"], backend: ["server s1 h:1 ssl ca-file @system-ca sni str(h)"])
        ) {
            $0.server.tls?.caFile == "@system-ca"
        },
        KeywordCase(keyword: "hard-stop-after", text: config(global: ["hard-stop-after 10s"])) {
            $0.global.hardStopAfter == .seconds(10)
        },
        KeywordCase(keyword: "hard-stop-after default", text: config()) { $0.global.hardStopAfter == .seconds(30) },
        KeywordCase(keyword: "maxconn (global)", text: config(global: ["maxconn 1000"])) { $0.global.maxconn == 1000 },
        KeywordCase(
            keyword: "tune.ssl.max-pending-handshakes", text: config(global: ["tune.ssl.max-pending-handshakes 40"])
        ) { $0.global.maxPendingHandshakes == 40 },
        KeywordCase(keyword: "tune.ssl.max-pending-handshakes unset", text: config()) {
            $0.global.maxPendingHandshakes == nil
        },
        KeywordCase(keyword: "nbthread", text: config(global: ["nbthread 3"])) { $0.global.nbthread == 3 },
        KeywordCase(keyword: "nbthread unset", text: config()) { $0.global.nbthread == nil },
        KeywordCase(
            keyword: "tune.ssl.cachesize / tune.ssl.lifetime (a bare number is seconds)",
            text: config(
                global: ["tune.ssl.cachesize 500", "tune.ssl.lifetime 60"], frontend: ["bind :1 ssl crt /c.pem"])
        ) {
            $0.bind.tls?.sessionCacheSize == 500 && $0.bind.tls?.sessionLifetime == .seconds(60)
        },
        KeywordCase(
            keyword: "tune.ssl.lifetime with a unit",
            text: config(global: ["tune.ssl.lifetime 5m"], frontend: ["bind :1 ssl crt /c.pem"])
        ) {
            $0.bind.tls?.sessionLifetime == .seconds(300) && $0.bind.tls?.sessionCacheSize == 20000
        },
        KeywordCase(
            keyword: "ssl-default-bind-*",
            text: config(
                global: [
                    "ssl-default-bind-ciphers ECDHE+AESGCM", "ssl-default-bind-ciphersuites TLS_AES_256_GCM_SHA384",
                    "ssl-default-bind-curves X25519", "ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets",
                ],
                frontend: ["bind :1 ssl crt /c.pem"]
            )
        ) {
            let tls = $0.bind.tls
            return tls?.ciphers == "ECDHE+AESGCM" && tls?.ciphersuites == "TLS_AES_256_GCM_SHA384"
                && tls?.curves == "X25519"
                && tls?.minVersion == .tls13 && tls?.sessionTickets == false
        },
        KeywordCase(
            keyword: "ssl-default-bind-* do not override the bind line",
            text: config(global: ["ssl-default-bind-ciphers A"], frontend: ["bind :1 ssl crt /c.pem ciphers B"])
        ) { $0.bind.tls?.ciphers == "B" },
        KeywordCase(
            keyword: "ssl-default-server-*",
            text: config(
                global: [
                    "ssl-default-server-ciphers C", "ssl-default-server-ciphersuites S",
                    "ssl-default-server-curves P-256",
                    "ssl-default-server-options no-sslv3 no-tlsv10 no-tlsv11 ssl-max-ver TLSv1.3",
                ],
                backend: ["server s1 h:1 ssl \(ca) sni str(h)"]
            )
        ) {
            let tls = $0.server.tls
            return tls?.ciphers == "C" && tls?.ciphersuites == "S" && tls?.curves == "P-256" && tls?.minVersion == tls12
                && tls?.maxVersion == .tls13
        },
        KeywordCase(
            keyword: "ssl-server-verify none",
            text: config(global: ["ssl-server-verify none"], backend: ["server s1 h:1 ssl"])
        ) {
            $0.server.tls?.verify == TLSSettings.Verify.none
        },
        KeywordCase(
            keyword: "ssl-server-verify required",
            text: config(global: ["ssl-server-verify required"], backend: ["server s1 h:1 ssl \(ca) sni str(h)"])
        ) {
            $0.server.tls?.verify == .required
        },
        KeywordCase(keyword: "log stderr", text: config(global: ["log stderr format raw local0 info"])) {
            $0.global.logs == [
                LogTarget(
                    destination: .stderr,
                    facility: "local0",
                    level: "info",
                    format: "raw",
                    location: SourceLocation(file: "test.cfg", line: 2)
                )
            ]
        },
        KeywordCase(keyword: "log /dev/log", text: config(global: ["log /dev/log daemon"])) {
            $0.global.logs.first?.destination == .syslogSocket(path: "/dev/log")
                && $0.global.logs.first?.facility == "daemon"
        },
        KeywordCase(
            keyword: "stats socket",
            text: config(global: ["stats socket /run/sidecar/admin.sock mode 600 level admin"])
        ) {
            $0.global.statsSockets == [
                StatsSocket(
                    address: .unix(path: "/run/sidecar/admin.sock"),
                    mode: 0o600,
                    level: .admin,
                    location: SourceLocation(file: "test.cfg", line: 2)
                )
            ]
        },
        KeywordCase(keyword: "stats socket defaults", text: config(global: ["stats socket unix@/s.sock"])) {
            $0.global.statsSockets.first?.level == .operator && $0.global.statsSockets.first?.mode == nil
        },
        // bind addresses
        KeywordCase(keyword: "bind *:port", text: config(frontend: ["bind *:2021"])) {
            $0.bind.address == .tcp(host: "", port: 2021)
        },
        KeywordCase(keyword: "bind :port", text: config(frontend: ["bind :2021"])) {
            $0.bind.address == .tcp(host: "", port: 2021)
        },
        KeywordCase(keyword: "bind addr:port", text: config(frontend: ["bind 10.0.0.1:2021"])) {
            $0.bind.address == .tcp(host: "10.0.0.1", port: 2021)
        },
        KeywordCase(keyword: "bind [v6]:port", text: config(frontend: ["bind [::1]:2021"])) {
            $0.bind.address == .tcp(host: "::1", port: 2021)
        },
        KeywordCase(keyword: "bind :::port", text: config(frontend: ["bind :::2021"])) {
            $0.bind.address == .tcp(host: "::", port: 2021)
        },
        KeywordCase(keyword: "bind /path", text: config(frontend: ["bind /run/a.sock"])) {
            $0.bind.address == .unix(path: "/run/a.sock")
        },
        KeywordCase(keyword: "bind unix@path", text: config(frontend: ["bind unix@a.sock"])) {
            $0.bind.address == .unix(path: "a.sock")
        },
        KeywordCase(keyword: "bind fd@N", text: config(frontend: ["bind fd@3"])) { $0.bind.address == .inheritedFD(3) },
        KeywordCase(keyword: "bind systemd@NAME", text: config(frontend: ["bind systemd@agent"])) {
            $0.bind.address == .systemd(name: "agent")
        },
        KeywordCase(keyword: "bind list", text: config(frontend: ["bind :1,/a.sock name x"])) {
            $0.fe.binds.map(\.address) == [.tcp(host: "", port: 1), .unix(path: "/a.sock")]
                && $0.fe.binds.allSatisfy { $0.name == "x" }
        },
        // bind options
        KeywordCase(
            keyword: "bind ssl options",
            text: config(frontend: [
                "bind *:2021 ssl crt /a.pem crt /b.pem ca-file /ca.pem verify required crl-file /crl.pem ssl-min-ver TLSv1.2 "
                    + "ssl-max-ver TLSv1.3 ciphers C ciphersuites S curves X25519 alpn h2,http/1.1 no-tls-tickets"
            ])
        ) {
            $0.bind.tls
                == TLSSettings(
                    certificateFiles: ["/a.pem", "/b.pem"],
                    caFile: "/ca.pem",
                    crlFile: "/crl.pem",
                    verify: .required,
                    minVersion: .tls12,
                    maxVersion: .tls13,
                    ciphers: "C",
                    ciphersuites: "S",
                    curves: "X25519",
                    alpn: ["h2", "http/1.1"],
                    sessionTickets: false
                )
        },
        KeywordCase(
            keyword: "bind ssl without verify is verify none (HAProxy)",
            text: config(frontend: ["bind :1 ssl crt /a.pem"])
        ) {
            $0.bind.tls?.verify == TLSSettings.Verify.none
        },
        KeywordCase(
            keyword: "bind verify optional",
            text: config(frontend: ["bind :1 ssl crt /a.pem verify optional \(ca)"])
        ) {
            $0.bind.tls?.verify == .optional
        },
        KeywordCase(keyword: "bind without ssl is plain", text: config(frontend: ["bind :1"])) { $0.bind.tls == nil },
        KeywordCase(
            keyword: "bind socket options",
            text: config(frontend: ["bind /a.sock mode 660 user u group g uid 1 gid 2 maxconn 7 name n"])
        ) {
            $0.bind.unixSocket == UnixSocketOptions(mode: 0o660, user: "u", uid: 1, group: "g", gid: 2)
                && $0.bind.maxconn == 7 && $0.bind.name == "n"
        },
        // server addresses
        KeywordCase(keyword: "server host:port", text: config(backend: ["server s1 manager.example.com:2021"])) {
            $0.server.name == "s1" && $0.server.address == .tcp(host: "manager.example.com", port: 2021)
                && $0.server.tls == nil
        },
        KeywordCase(keyword: "server [v6]:port", text: config(backend: ["server s1 [2001:db8::1]:2021"])) {
            $0.server.address == .tcp(host: "2001:db8::1", port: 2021)
        },
        KeywordCase(keyword: "server /path", text: config(backend: ["server s1 /run/b.sock"])) {
            $0.server.address == .unix(path: "/run/b.sock")
        },
        KeywordCase(keyword: "server unix@path", text: config(backend: ["server s1 unix@/run/b.sock"])) {
            $0.server.address == .unix(path: "/run/b.sock")
        },
        // server options
        KeywordCase(
            keyword: "server ssl options",
            text: config(backend: [
                "server s1 h:1 ssl crt /n.pem ca-file /ca.pem verify required verifyhost m.example sni str(m.example) crl-file /crl.pem "
                    + "ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3 ciphers C ciphersuites S curves P-384 alpn x no-tls-tickets"
            ])
        ) {
            $0.server.tls
                == TLSSettings(
                    certificateFiles: ["/n.pem"],
                    caFile: "/ca.pem",
                    crlFile: "/crl.pem",
                    verify: .required,
                    minVersion: .tls13,
                    maxVersion: .tls13,
                    ciphers: "C",
                    ciphersuites: "S",
                    curves: "P-384",
                    alpn: ["x"],
                    sessionTickets: false,
                    serverName: "m.example",
                    verifyHost: "m.example"
                )
        },
        KeywordCase(
            keyword: "server ssl defaults to verify required",
            text: config(backend: ["server s1 h:1 ssl \(ca) verifyhost h"])
        ) {
            $0.server.tls?.verify == .required
        },
        KeywordCase(keyword: "server verify none", text: config(backend: ["server s1 h:1 ssl verify none"])) {
            $0.server.tls?.verify == TLSSettings.Verify.none
        },
        KeywordCase(
            keyword: "server no-verifyhost",
            text: config(backend: ["server s1 h:1 ssl \(ca) sni str(h) no-verifyhost"])
        ) {
            $0.server.tls?.noVerifyHost == true && $0.server.tls?.expectedPeerName == nil
        },
        KeywordCase(
            keyword: "server health options",
            text: config(backend: ["server s1 h:1 check inter 5s rise 4 fall 5 weight 256 backup disabled maxconn 9"])
        ) {
            let s = $0.server
            return s.check && s.inter == .seconds(5) && s.rise == 4 && s.fall == 5 && s.weight == 256 && s.backup
                && s.disabled
                && s.maxconn == 9
        },
        KeywordCase(keyword: "server defaults", text: config()) {
            let s = $0.server
            return !s.check && s.inter == .seconds(2) && s.rise == 2 && s.fall == 3 && s.weight == 1 && !s.backup
                && !s.disabled
                && s.maxconn == nil
        },
        KeywordCase(keyword: "server weight 0", text: config(backend: ["server s1 h:1 weight 0"])) {
            $0.server.weight == 0
        },
        // default-server
        KeywordCase(
            keyword: "default-server in defaults",
            text: config(defaults: ["default-server ssl \(ca) check inter 1s"], backend: ["server s1 h:1 sni str(h)"])
        ) { $0.server.tls?.caFile == "/ca.pem" && $0.server.check && $0.server.inter == .seconds(1) },
        KeywordCase(
            keyword: "default-server in backend, undone by no-ssl no-check",
            text: config(backend: [
                "default-server ssl check \(ca)", "server s1 h:1 no-ssl no-check", "server s2 h:2 sni str(h)",
            ])
        ) {
            $0.be.servers[0].tls == nil && !$0.be.servers[0].check && $0.be.servers[1].tls != nil
                && $0.be.servers[1].check
        },
        KeywordCase(
            keyword: "default-server applies from its line on",
            text: config(backend: ["server s1 h:1", "default-server weight 5", "server s2 h:2"])
        ) {
            $0.be.servers.map(\.weight) == [1, 5]
        },
        KeywordCase(
            keyword: "enabled / no-backup",
            text: config(backend: ["default-server disabled backup", "server s1 h:1 enabled no-backup"])
        ) {
            !$0.server.disabled && !$0.server.backup
        },
        KeywordCase(
            keyword: "no-ssl-reuse / ssl-reuse",
            text: config(backend: [
                "default-server ssl verify none no-ssl-reuse", "server s1 h:1", "server s2 h:2 ssl-reuse",
            ])
        ) {
            $0.be.servers.map { $0.tls?.sessionReuse } == [false, true]
        },
        // routing
        KeywordCase(keyword: "default_backend", text: config()) {
            $0.fe.defaultBackend == "be" && $0.fe.defaultBackendLocation == SourceLocation(file: "test.cfg", line: 5)
        },
        KeywordCase(
            keyword: "default_backend in defaults",
            text: config(defaults: ["default_backend be"], frontend: ["use_backend be"])
        ) {
            $0.fe.defaultBackend == "be"
        },
        KeywordCase(
            keyword: "use_backend wins over default_backend",
            text: config(frontend: ["default_backend nope", "use_backend be"])
        ) {
            $0.fe.defaultBackend == "be"
        },
        KeywordCase(keyword: "balance roundrobin", text: config(backend: ["balance roundrobin"])) {
            $0.be.balance == .roundrobin
        },
        KeywordCase(keyword: "balance static-rr", text: config(backend: ["balance static-rr"])) {
            $0.be.balance == .staticRR
        },
        KeywordCase(keyword: "balance leastconn", text: config(defaults: ["balance leastconn"])) {
            $0.be.balance == .leastconn
        },
        KeywordCase(keyword: "balance first", text: config(backend: ["balance first"])) { $0.be.balance == .first },
        KeywordCase(
            keyword: "mode tcp",
            text: config(defaults: ["mode tcp"], frontend: ["mode tcp"], backend: ["mode tcp"])
        ) { _ in true },
        // timeouts
        KeywordCase(keyword: "timeout connect", text: config(defaults: ["timeout connect 5s"])) {
            $0.be.timeouts.connect == .seconds(5) && $0.fe.timeouts.connect == .seconds(5)
        },
        KeywordCase(keyword: "timeout client", text: config(frontend: ["timeout client 1m"])) {
            $0.fe.timeouts.client == .seconds(60)
        },
        KeywordCase(keyword: "timeout server", text: config(backend: ["timeout server 2h"])) {
            $0.be.timeouts.server == .seconds(7200)
        },
        KeywordCase(keyword: "timeout tunnel", text: config(defaults: ["timeout tunnel 1d"])) {
            $0.be.timeouts.tunnel == .seconds(86_400)
        },
        KeywordCase(keyword: "timeout client-fin", text: config(frontend: ["timeout client-fin 30s"])) {
            $0.fe.timeouts.clientFin == .seconds(30)
        },
        KeywordCase(keyword: "timeout server-fin", text: config(backend: ["timeout server-fin 30s"])) {
            $0.be.timeouts.serverFin == .seconds(30)
        },
        KeywordCase(keyword: "timeout check", text: config(backend: ["timeout check 1500"])) {
            $0.be.timeouts.check == .milliseconds(1500)
        },
        KeywordCase(keyword: "no timeouts by default", text: config()) {
            $0.fe.timeouts == Timeouts() && $0.be.timeouts == Timeouts()
        },
        // other proxy keywords
        KeywordCase(keyword: "retries", text: config(backend: ["retries 5"])) { $0.be.retries == 5 },
        KeywordCase(keyword: "retries default", text: config()) { $0.be.retries == 3 },
        KeywordCase(keyword: "option redispatch", text: config(backend: ["option redispatch"])) { $0.be.redispatch },
        KeywordCase(keyword: "redispatch off by default (HAProxy)", text: config()) { !$0.be.redispatch },
        KeywordCase(
            keyword: "no option redispatch",
            text: config(defaults: ["option redispatch"], backend: ["no option redispatch"])
        ) {
            !$0.be.redispatch
        },
        KeywordCase(keyword: "option redispatch 0", text: config(backend: ["option redispatch 0"])) {
            !$0.be.redispatch
        },
        KeywordCase(keyword: "option tcplog", text: config(frontend: ["option tcplog"])) { $0.fe.tcplog },
        KeywordCase(
            keyword: "no option tcplog",
            text: config(defaults: ["option tcplog"], frontend: ["no option tcplog"])
        ) { !$0.fe.tcplog },
        KeywordCase(keyword: "maxconn (frontend)", text: config(frontend: ["maxconn 50"])) { $0.fe.maxconn == 50 },
        KeywordCase(keyword: "maxconn (defaults)", text: config(defaults: ["maxconn 60"])) { $0.fe.maxconn == 60 },
        // listen
        KeywordCase(
            keyword: "listen",
            text: "listen both\n    bind :1\n    timeout connect 1s\n    server s /b.sock\n"
        ) {
            $0.frontends.map(\.name) == ["both"] && $0.backends.map(\.name) == ["both"]
                && $0.fe.defaultBackend == "both"
                && $0.backends[0].servers.count == 1 && $0.backends[0].timeouts.connect == .seconds(1)
        },
        // defaults
        KeywordCase(
            keyword: "defaults NAME / from",
            text: """
                defaults base
                    timeout connect 3s
                defaults other
                    retries 9
                frontend fe from base
                    bind :1
                    default_backend be
                backend be from base
                    server s h:1
                backend be2
                    server s h:1

                """
        ) { $0.be.timeouts.connect == .seconds(3) && $0.be.retries == 3 && $0.backend(named: "be2")?.retries == 9 },
        KeywordCase(
            keyword: "defaults from defaults",
            text: "defaults a\n  retries 7\ndefaults b from a\n  timeout connect 1s\n"
                + config().replacingOccurrences(of: "defaults\n", with: "")
        ) { $0.be.retries == 7 && $0.be.timeouts.connect == .seconds(1) },
        KeywordCase(
            keyword: "a new defaults resets",
            text: "defaults\n  retries 7\ndefaults\n  timeout connect 1s\n"
                + config().replacingOccurrences(of: "defaults\n", with: "")
        ) { $0.be.retries == 3 && $0.be.timeouts.connect == .seconds(1) },
    ]

    @Test(arguments: cases)
    func keywordIsInTheModel(_ testCase: KeywordCase) {
        let (configuration, diagnostics) = parse(testCase.text)
        let errors = diagnostics.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors)")
        #expect(testCase.check(configuration), "\(configuration)")
    }

    static let ignored = IgnoredKeyword.all.map { entry in
        entry.inGlobal
            ? config(global: [entry.keyword + (entry.keyword.hasPrefix("stats") ? " 10s" : " 1")])
            : config(frontend: [entry.keyword])
    }

    @Test(arguments: zip(IgnoredKeyword.all.map(\.keyword), ignored))
    func ignoredKeywordWarns(_ keyword: String, _ text: String) {
        let (_, diagnostics) = parse(text)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        #expect(
            diagnostics.contains {
                $0.severity == .warning && $0.message.hasPrefix("'\(keyword)' ignored")
                    && [2, 4].contains($0.location.line)
            }
        )
    }
}
