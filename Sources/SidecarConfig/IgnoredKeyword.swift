/// HAProxy keywords that do not apply to sidecar and are accepted with a warning, so that an existing
/// HAProxy configuration loads unchanged. This table is the one place that lists them.
///
/// Every entry says why ignoring it is safe: it tunes something sidecar decides itself or something
/// systemd does for it. Nothing that changes who may connect, or where traffic goes, belongs here.
package struct IgnoredKeyword: Sendable, Hashable {
    /// The keyword as written; two words for `option X`, `log global` and `stats timeout`.
    package var keyword: String
    /// `global`, or the proxy sections (`defaults`, `frontend`, `backend`, `listen`).
    package var inGlobal: Bool
    /// Why it does not apply, in the operator's words.
    package var reason: String

    package static let all: [IgnoredKeyword] = [
        .init(keyword: "daemon", inGlobal: true, reason: "sidecar runs in the foreground under systemd"),
        .init(keyword: "master-worker", inGlobal: true, reason: "sidecar is one process; reload is SIGHUP"),
        .init(keyword: "nbproc", inGlobal: true, reason: "sidecar is one process"),
        .init(keyword: "cpu-map", inGlobal: true, reason: "sidecar chooses its own event loop threads"),
        .init(keyword: "pidfile", inGlobal: true, reason: "systemd tracks the main process"),
        .init(keyword: "user", inGlobal: true, reason: "set User= in the systemd unit"),
        .init(keyword: "group", inGlobal: true, reason: "set Group= in the systemd unit"),
        .init(keyword: "uid", inGlobal: true, reason: "set User= in the systemd unit"),
        .init(keyword: "gid", inGlobal: true, reason: "set Group= in the systemd unit"),
        .init(keyword: "stats timeout", inGlobal: true, reason: "the stats socket has its own idle limit"),
        .init(keyword: "log-send-hostname", inGlobal: true, reason: "journald records the host name"),
        .init(
            keyword: "tune.ssl.default-dh-param",
            inGlobal: true,
            reason: "finite-field DH is left to OpenSSL's defaults (ECDHE is used)"
        ),
        .init(
            keyword: "ssl-load-extra-files",
            inGlobal: true,
            reason: "sidecar always looks for a '<crt>.key' sibling when the key is not in the PEM"
        ),
        .init(keyword: "option dontlognull", inGlobal: false, reason: "sidecar logs every connection"),
        .init(keyword: "log global", inGlobal: false, reason: "every proxy logs to the global 'log' targets"),
    ]

    /// The entry for `words` in a global (`inGlobal`) or proxy section, if it is ignored there.
    package static func match(_ words: [String], inGlobal: Bool) -> IgnoredKeyword? {
        let candidates = all.filter { $0.inGlobal == inGlobal }
        if words.count >= 2, let two = candidates.first(where: { $0.keyword == "\(words[0]) \(words[1])" }) {
            return two
        }
        return candidates.first { $0.keyword == words[0] }
    }
}
