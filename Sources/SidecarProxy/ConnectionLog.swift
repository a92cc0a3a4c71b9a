import Logging
import NIOCore
import SidecarTLS

#if canImport(Glibc)
    import Glibc
#endif

/// What one finished connection logs, and the three ways of writing it:
///
/// - With `option tcplog`, HAProxy's TCP format (cfg §8.2.2),
///   `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`, e.g.
///   `127.0.0.1:50712 [23/Nov/2026:10:02:03.114] rev~ rev/echo 0/1/5007 212 -- 1/1/1/1/0 0/0`.
/// - Without it, the readable line `connection closed frontend=... server=b/s peer=... end=...`.
/// - A failed client handshake, in HAProxy's error format (cfg §8.2.5),
///   `127.0.0.1:50712 [23/Nov/2026:10:02:03.114] rev/127.0.0.1:2021: SSL client certificate not trusted
///   (certificate has expired (notAfter ...)), subject: CN=client`; the reason and the subject, which
///   carry peer-chosen names, are encoded as HAProxy encodes log fields (`encoded(_:)`).
///
/// Built once per connection at its end (or at a refused handshake), never on the relay path.
struct ConnectionLog {
    /// `%ci:%cp`: an IP client as `address:port`; a Unix client as `unix:<listener id>` (HAProxy numbers a
    /// frontend's listeners from 1).
    var client: String
    /// When the connection was accepted (`%t`), wall clock.
    var accepted: timespec
    var frontend: String
    /// The bind's `name`, else its address: the `bind_name` of the error format.
    var bindName: String
    /// The listener terminates TLS: `%ft` gets HAProxy's `~` suffix.
    var tls: Bool
    var backend: String
    /// nil: no server was ever chosen (`<NOSRV>`).
    var server: String?
    /// `%Tw`: 0 (there are no queues), -1 when no server was chosen.
    var queueMilliseconds: Int64
    /// `%Tc`: time to connect the server (TCP, and TLS for an `ssl` server), -1 when never connected.
    var connectMilliseconds: Int64
    /// `%Tt`: accept to close.
    var totalMilliseconds: Int64
    var bytesFromClient: Int
    /// `%B`: bytes sent to the client.
    var bytesFromServer: Int
    var termination: TerminationState
    /// `%ac/%fc/%bc/%sc` at the time of the log.
    var processConnections: Int
    var frontendConnections: Int
    var backendConnections: Int
    var serverConnections: Int
    /// `%rc`, with HAProxy's `+` prefix when a retry went to another server (redispatch).
    var retries: Int
    var redispatched: Bool
    var peerSubject: String?
    /// For the readable line: who closed first, or the error that ended it; nil to use the termination state.
    var detail: String?

    /// The `option tcplog` line.
    var tcplog: String {
        let retries = redispatched ? "+\(self.retries)" : "\(self.retries)"
        return "\(client) [\(Self.date(accepted))] \(frontend)\(tls ? "~" : "") \(backend)/\(server ?? "<NOSRV>") "
            + "\(queueMilliseconds)/\(connectMilliseconds)/\(totalMilliseconds) \(bytesFromServer) \(termination) "
            + "\(processConnections)/\(frontendConnections)/\(backendConnections)/\(serverConnections)/\(retries) 0/0"
    }

    /// The readable line's metadata (message `connection closed`).
    var readableMetadata: Logger.Metadata {
        [
            "frontend": "\(frontend)",
            "server": "\(backend)/\(server ?? "<NOSRV>")",
            "peer": "\(client)",
            "subject": "\(peerSubject ?? "-")",
            "bytes_in": "\(bytesFromClient)",
            "bytes_out": "\(bytesFromServer)",
            "duration_ms": "\(totalMilliseconds)",
            "end": "\(detail ?? termination.explanation)",
            "termination": "\(termination)",
            "retries": "\(retries)",
        ]
    }

    /// The error-format line for a client whose handshake failed or who was refused after it.
    static func handshakeFailure(
        client: String, accepted: timespec, frontend: String, bindName: String, error: any Error
    ) -> String {
        let tlsError = error as? TLSError
        let message: String
        switch tlsError?.code {
        case TLSError.certificateRejected?: message = "SSL client certificate not trusted"
        case TLSError.handshakeTimeout?: message = "Timeout during SSL handshake"
        case TLSError.uncleanShutdown?: message = "Connection closed during SSL handshake"
        default: message = "SSL handshake failure"
        }
        let reason = encoded(tlsError?.reason ?? "\(error)")
        var line = "\(client) [\(date(accepted))] \(frontend)/\(bindName): \(message) (\(reason))"
        if let certificate = tlsError?.certificate { line += ", subject: \(encoded(certificate.subject))" }
        return line
    }

    /// A peer-influenced field of an HAProxy-format line, encoded as HAProxy encodes its log fields (its
    /// `hdr_encode_map`): bytes below 0x20, from 0x7F up (so each byte of a non-ASCII character), and
    /// `"`, `#`, `{`, `|`, `}` become `#` and two upper-case hex digits. A newline in a certificate name is
    /// `#0A`, a NUL `#00`: the field stays on its line and whole.
    static func encoded(_ field: String) -> String {
        let special: Set<UInt8> = [0x22, 0x23, 0x7B, 0x7C, 0x7D]
        guard field.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F || special.contains($0) }) else { return field }
        let digits = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(field.utf8.count + 8)
        for byte in field.utf8 {
            if byte < 0x20 || byte >= 0x7F || special.contains(byte) {
                bytes += [UInt8(ascii: "#"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The wall clock now, for `%t`.
    static func now() -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now
    }

    /// HAProxy's `%t`: `06/Feb/2009:12:12:51.443`, local time.
    static func date(_ time: timespec) -> String {
        var seconds = time.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_mday), 2))/\(months[Int(parts.tm_mon)])/\(parts.tm_year + 1900):"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))."
            + pad(time.tv_nsec / 1_000_000, 3)
    }
}
