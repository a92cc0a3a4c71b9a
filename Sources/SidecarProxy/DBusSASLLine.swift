import NIOCore

/// One line of the D-Bus authentication conversation (specification, "Authentication Protocol"): ASCII,
/// ended by CRLF, a command word first.
enum DBusSASLLine: Equatable {
    /// Client commands.
    case auth, cancel, begin, data, error, negotiateUnixFD
    /// Server replies (`data` and `error` are both sides').
    case ok, rejected, agreeUnixFD

    /// The longest line accepted, CRLF included. The specification sets no limit; EXTERNAL and ANONYMOUS
    /// lines are well under 100 bytes, and libdbus refuses lines over 16 KiB as well.
    static let maximumLength = 16 * 1024

    /// Reads the line of `length` bytes (CRLF included) at `index`.
    ///
    /// - Returns: the command, or why the line is not one the `side` may send.
    static func parse(
        _ buffer: ByteBuffer, at index: Int, length: Int, from side: ProxyConnection.Side
    ) -> Result<DBusSASLLine, LineError> {
        guard let view = buffer.viewBytes(at: index, length: length) else { return .failure(.init("unreadable")) }
        guard length >= 2, view[view.index(view.endIndex, offsetBy: -2)] == UInt8(ascii: "\r") else {
            return .failure(.init("SASL line not ended by CRLF"))
        }
        let text = view.dropLast(2)
        if let bad = text.first(where: { $0 < 0x20 || $0 > 0x7E }) {
            return .failure(.init("SASL line holds the byte \(DBusMessageScan.hex(bad)) (only printable ASCII)"))
        }
        let word = text.prefix { $0 != UInt8(ascii: " ") }
        let command: DBusSASLLine?
        switch side {
        case .client:
            command = clientCommands.first { $0.word.elementsEqual(word) }?.line
        case .server:
            command = serverReplies.first { $0.word.elementsEqual(word) }?.line
        }
        guard let command else {
            let shown = String(decoding: word.prefix(32), as: UTF8.self)
            return .failure(.init("unknown SASL \(side == .client ? "command" : "reply") '\(shown)'"))
        }
        return .success(command)
    }

    private static let clientCommands: [(word: [UInt8], line: DBusSASLLine)] = [
        (Array("AUTH".utf8), .auth), (Array("DATA".utf8), .data), (Array("BEGIN".utf8), .begin),
        (Array("NEGOTIATE_UNIX_FD".utf8), .negotiateUnixFD), (Array("CANCEL".utf8), .cancel),
        (Array("ERROR".utf8), .error),
    ]
    private static let serverReplies: [(word: [UInt8], line: DBusSASLLine)] = [
        (Array("OK".utf8), .ok), (Array("DATA".utf8), .data), (Array("REJECTED".utf8), .rejected),
        (Array("ERROR".utf8), .error), (Array("AGREE_UNIX_FD".utf8), .agreeUnixFD),
    ]

    /// Why a line was refused.
    struct LineError: Error, Equatable {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
