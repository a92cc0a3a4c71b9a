/// A global `log` line: where connection logs are written.
///
/// Only local targets are supported: the process's standard streams, or the local syslog socket that
/// journald serves. Network syslog (`127.0.0.1:514`, `udp@…`) is rejected.
public struct LogTarget: Sendable, Hashable {
    /// The destination of a `log` line.
    public enum Destination: Sendable, Hashable, CustomStringConvertible {
        /// `stderr` or `fd@2`.
        case stderr
        /// `stdout` or `fd@1`.
        case stdout
        /// A local syslog datagram socket such as `/dev/log` (journald's `/run/systemd/journal/dev-log`).
        case syslogSocket(path: String)

        public var description: String {
            switch self {
            case .stderr: return "stderr"
            case .stdout: return "stdout"
            case .syslogSocket(let path): return path
            }
        }
    }

    public var destination: Destination
    /// The syslog facility, e.g. `local0` or `daemon`.
    public var facility: String
    /// The maximum level sent (`emerg` … `debug`); nil sends every level.
    public var level: String?
    /// `format` (`rfc3164`, `rfc5424`, `short`, `raw`, …); nil is HAProxy's default, `rfc3164`.
    public var format: String?
    public var location: SourceLocation

    public init(
        destination: Destination,
        facility: String,
        level: String? = nil,
        format: String? = nil,
        location: SourceLocation
    ) {
        self.destination = destination
        self.facility = facility
        self.level = level
        self.format = format
        self.location = location
    }
}
