import Logging
import NIOCore
import SidecarConfig
import SidecarTLS

/// `option dbus`: follows the D-Bus stream of one connection in both directions, on the client channel
/// between the TLS handler (reverse) or the socket (forward) and the `RelayHandler`. Inbound is the client's
/// stream toward the server, outbound the server's replies toward the client.
///
/// What it does:
/// - Authentication (SASL): the client's NUL byte and CRLF-ended lines, the server's replies, each line at
///   most `DBusSASLLine.maximumLength` bytes. The client's `NEGOTIATE_UNIX_FD` never reaches the server; the
///   client gets `ERROR` where the server's answer would have come: right after the server's reply to the
///   line before it (its `OK`), or at once when that reply already went by (step-by-step clients). A queue of
///   owed answers, shared by the two directions, keeps the order when the client pipelines (sd-bus sends
///   `\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n` at once). The server's stream turns into
///   messages after its last reply owed before the client's `BEGIN`.
/// - Messages, both byte orders: each header is read in place (`DBusMessageScan`): limits, well-formed
///   fields, no `UNIX_FDS`. Bodies pass unread, as slices of the buffers they came in; one read's worth of
///   checked messages goes on as one slice. Only bytes of an incomplete header are copied and held (at most
///   16 + 64 KiB + 7), or, with `dbus-register-name`, a register call until its body is complete (at most
///   `dbus-max-message-size`); a message is never held for bytes beyond its own end.
/// - With `dbus-register-name`, every client call to the register method must carry a name the verified
///   client certificate allows; a refused call is dropped, never forwarded.
///
/// Anything else closes the connection with one warning naming the reason, the sending side and the TLS
/// peer's certificate subject; `ProxyConnection` then logs the connection's end as refused by the proxy (`PD`).
/// A stream that ends inside a line or a message counts as malformed too.
///
/// Lives on the client channel's event loop. Not `Sendable`.
final class DBusFilter: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where one direction of the stream is.
    private enum Phase {
        /// The client's first byte, which must be NUL.
        case nul
        /// CRLF-ended authentication lines.
        case sasl
        /// Binary messages; `passing` body bytes of the current message are still to pass unread.
        case messages(passing: Int)
        /// The connection was refused; nothing more passes.
        case closed
    }

    /// One direction: its phase, and the copied start of an incomplete line or message, if any.
    private struct Direction {
        var phase: Phase
        var pending: ByteBuffer?
        /// Bytes of the pending message (from its start) needed before the next decision.
        var need = 0
    }

    /// What the client is owed, in the order of its lines.
    private enum Owed {
        /// The server's reply to a line that was forwarded.
        case reply
        /// `ERROR` in place of the server's answer to a `NEGOTIATE_UNIX_FD` that was dropped.
        case refusal
        /// The client's `BEGIN`: once everything before it was answered, the server's stream is messages.
        case begin
    }

    /// More unanswered client lines than this is not an authentication (real clients pipeline at most 4).
    static let maximumOwed = 32
    /// The first allocation for the copied start of an incomplete message.
    static let initialPendingCapacity = 4096
    /// What a client receives in place of `AGREE_UNIX_FD`.
    static let refusalLine = "ERROR Unix fd passing is not available through this tunnel\r\n"

    private let scan: DBusMessageScan
    private let registerName: DBusRegisterName?
    private let frontend: String
    private let peerAddress: String
    private let logger: Logger
    private let counters: TrafficCounters?
    private var client = Direction(phase: .nul)
    private var server = Direction(phase: .sasl)
    private var owed = CircularBuffer<Owed>(initialCapacity: 4)
    /// The TLS peer's certificate subject, as the connection's log line names it: the client's on a TLS
    /// listener (reverse), else the server's (forward), once its handshake is done.
    private var subject: String?
    /// The client's certificate (TLS listeners), for `dbus-register-name`.
    private var certificate: PeerCertificateHandle?
    /// A certificate given without a handshake (`peerVerified`).
    private var copiedCertificate: PeerCertificate?

    /// - Parameters:
    ///   - settings: the frontend's `option dbus` settings.
    ///   - frontend: the frontend's name, for the log.
    ///   - peerAddress: the client as the log names it (`address:port`, `unix:<frontend>`).
    ///   - counters: the frontend's counters (`show stat`, `/metrics`).
    init(
        settings: DBusSettings, frontend: String, peerAddress: String, logger: Logger, counters: TrafficCounters?
    ) {
        self.scan = DBusMessageScan(
            maxMessageSize: settings.maxMessageSize,
            registerMethod: settings.registerName == nil ? nil : settings.registerMethod)
        self.registerName = settings.registerName
        self.frontend = frontend
        self.peerAddress = peerAddress
        self.logger = logger
        self.counters = counters
    }

    /// Records the verified client certificate, as a TLS handshake would (`TLSHandshakeCompleted`).
    func peerVerified(subject: String?, certificate: PeerCertificate?) {
        self.subject = subject
        self.copiedCertificate = certificate
    }

    /// Records the server certificate's subject on a plain listener (forward), for the log lines.
    func serverVerified(subject: String?) {
        if self.subject == nil { self.subject = subject }
    }

    // MARK: inbound: client to server

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        process(unwrapInboundIn(data), from: .client, context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let completed = event as? TLSHandshakeCompleted {
            subject = completed.peerSubject
            certificate = completed.peer
        } else if let event = event as? ChannelEvent, case .inputClosed = event {
            if let reason = Self.truncation(client) {
                refuse(.protocolError, reason, from: .client, context: context)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: outbound: server to client

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        // The relay's empty write marks where its output may close; it passes as it is, in order.
        if buffer.readableBytes == 0 {
            context.write(data, promise: promise)
            return
        }
        process(buffer, from: .server, context: context)
        guard let promise else { return }
        if case .closed = server.phase {
            promise.fail(ChannelError.ioOnClosedChannel)
        } else {
            context.write(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output, let reason = Self.truncation(server) {
            refuse(.protocolError, reason, from: .server, context: context)
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.close(mode: mode, promise: promise)
    }

    /// Why the stream may not end here: in the middle of a line or a message.
    private static func truncation(_ direction: Direction) -> String? {
        switch direction.phase {
        case .messages(let passing) where passing > 0:
            return "stream ended inside a message body (\(passing) bytes missing)"
        case .messages, .sasl:
            guard let pending = direction.pending else { return nil }
            if case .sasl = direction.phase {
                return "stream ended inside a SASL line"
            }
            return "stream ended inside a message header (\(pending.readableBytes) bytes)"
        case .nul, .closed:
            return nil
        }
    }

    // MARK: the stream

    /// Forwards bytes that were decided.
    private func emit(_ buffer: ByteBuffer, from side: ProxyConnection.Side, context: ChannelHandlerContext) {
        switch side {
        case .client: context.fireChannelRead(wrapInboundOut(buffer))
        case .server: context.write(wrapOutboundOut(buffer), promise: nil)
        }
    }

    /// A chunk being read: bytes before `cursor` are decided; those from `run` to `cursor` are still to be
    /// forwarded, as one slice.
    private struct Reading {
        let chunk: ByteBuffer
        var cursor: Int
        var run: Int

        init(_ chunk: ByteBuffer) {
            self.chunk = chunk
            cursor = chunk.readerIndex
            run = cursor
        }

        var end: Int { chunk.writerIndex }
        var remaining: Int { end - cursor }

        /// Copies `count` bytes from the cursor into `pending` (they are forwarded, or not, from there).
        mutating func take(_ count: Int, into pending: inout ByteBuffer) {
            pending.writeImmutableBuffer(chunk.getSlice(at: cursor, length: count)!)
            cursor += count
            run = cursor
        }
    }

    /// Forwards the decided bytes not yet forwarded.
    private func flush(_ reading: inout Reading, from side: ProxyConnection.Side, context: ChannelHandlerContext) {
        if reading.cursor > reading.run {
            emit(
                reading.chunk.getSlice(at: reading.run, length: reading.cursor - reading.run)!, from: side,
                context: context)
        }
        reading.run = reading.cursor
    }

    /// Reads `chunk`, forwarding what passes: runs of whole-or-started messages and lines as slices of it,
    /// completed pending bytes as their own buffer, in stream order.
    private func process(_ chunk: ByteBuffer, from side: ProxyConnection.Side, context: ChannelHandlerContext) {
        var reading = Reading(chunk)
        while reading.remaining > 0 {
            let direction = side == .client ? client : server
            let goOn: Bool
            switch direction.phase {
            case .closed:
                return
            case .nul:
                let byte = chunk.getInteger(at: reading.cursor, as: UInt8.self)!
                guard byte == 0 else {
                    refuse(
                        .protocolError,
                        "first byte is \(DBusMessageScan.hex(byte)), not the NUL byte a D-Bus client starts with",
                        from: side, context: context)
                    return
                }
                reading.cursor += 1
                client.phase = .sasl
                goOn = true
            case .sasl:
                goOn = readLine(&reading, direction, from: side, context: context)
            case .messages(let passing) where passing > 0:
                let taken = min(passing, reading.remaining)
                reading.cursor += taken
                setPhase(.messages(passing: passing - taken), for: side)
                goOn = true
            case .messages:
                goOn = readMessage(&reading, direction, from: side, context: context)
            }
            guard goOn else { return }
        }
        flush(&reading, from: side, context: context)
    }

    /// Reads one SASL line (or keeps its start pending). - Returns: false when the connection was refused.
    private func readLine(
        _ reading: inout Reading, _ direction: Direction, from side: ProxyConnection.Side,
        context: ChannelHandlerContext
    ) -> Bool {
        // The line ends at the next LF: in the pending bytes plus this chunk, or in this chunk alone.
        let chunk = reading.chunk
        let newline = chunk.readableBytesView[(reading.cursor - chunk.readerIndex)...].firstIndex(of: 0x0A)
            .map { $0 + chunk.readerIndex }
        let taken = (newline.map { $0 + 1 } ?? reading.end) - reading.cursor
        let held = direction.pending?.readableBytes ?? 0
        if held + taken > DBusSASLLine.maximumLength {
            refuse(
                .protocolError, "SASL line longer than \(DBusSASLLine.maximumLength) bytes", from: side,
                context: context)
            return false
        }
        guard newline != nil else {
            flush(&reading, from: side, context: context)
            var pending = direction.pending ?? context.channel.allocator.buffer(capacity: taken)
            reading.take(taken, into: &pending)
            setPending(pending, need: 0, for: side)
            return true
        }
        let line: ByteBuffer
        let lineStart: Int
        if var pending = direction.pending {
            reading.take(taken, into: &pending)
            setPending(nil, need: 0, for: side)
            line = pending
            lineStart = pending.readerIndex
        } else {
            line = chunk
            lineStart = reading.cursor
            reading.cursor += taken
        }
        let length = held + taken
        let booked = DBusSASLLine.parse(line, at: lineStart, length: length, from: side).flatMap { command in
            (side == .client ? clientLine(command) : serverLine(command)).map { (command, $0) }
        }
        guard case .success(let (command, forward)) = booked else {
            if case .failure(let failure) = booked {
                refuse(.protocolError, failure.reason, from: side, context: context)
            }
            return false
        }
        if held > 0 {
            if forward { emit(line, from: side, context: context) }
        } else if !forward {
            // Drop the line: forward what came before it.
            let cursor = reading.cursor
            reading.cursor -= length
            flush(&reading, from: side, context: context)
            reading.cursor = cursor
            reading.run = cursor
        }
        if side == .server {
            flush(&reading, from: side, context: context)
            answerOwed(context: context, flush: false)
        } else if command == .negotiateUnixFD || command == .begin {
            flush(&reading, from: side, context: context)
            answerOwed(context: context, flush: true)
        }
        return true
    }

    /// Reads the start of a message: decides it, forwards it (its body passes later, unread), or keeps it
    /// pending until its header (or, for a register call, the whole message) is at hand.
    /// - Returns: false when the connection was refused.
    private func readMessage(
        _ reading: inout Reading, _ direction: Direction, from side: ProxyConnection.Side,
        context: ChannelHandlerContext
    ) -> Bool {
        guard var pending = direction.pending else {
            switch scan.examine(reading.chunk, at: reading.cursor, available: reading.remaining) {
            case .need(let count):
                flush(&reading, from: side, context: context)
                // Grown as bytes come, not reserved up front: a header may announce up to
                // `dbus-max-message-size` that never arrives.
                var pending = context.channel.allocator.buffer(capacity: min(count, Self.initialPendingCapacity))
                reading.take(reading.remaining, into: &pending)
                setPending(pending, need: count, for: side)
            case .forward(let length):
                let taken = min(length, reading.remaining)
                reading.cursor += taken
                setPhase(.messages(passing: length - taken), for: side)
            case .registerCall(let length, let argument):
                // What came before this call was decided and passes whatever this call's fate, as it would
                // had the stream been split here: the outcome must not depend on how TCP cut the bytes.
                flush(&reading, from: side, context: context)
                guard registrationAllowed(argument, context: context) else { return false }
                reading.cursor += length
            case .violation(let reason):
                flush(&reading, from: side, context: context)
                refuse(.protocolError, reason, from: side, context: context)
                return false
            }
            return true
        }
        reading.take(min(direction.need - pending.readableBytes, reading.remaining), into: &pending)
        guard pending.readableBytes >= direction.need else {
            setPending(pending, need: direction.need, for: side)
            return true
        }
        switch scan.examine(pending, at: pending.readerIndex, available: pending.readableBytes) {
        case .need(let count):
            setPending(pending, need: count, for: side)
        case .forward(let length):
            setPending(nil, need: 0, for: side)
            emit(pending, from: side, context: context)
            setPhase(.messages(passing: length - pending.readableBytes), for: side)
        case .registerCall(_, let argument):
            setPending(nil, need: 0, for: side)
            guard registrationAllowed(argument, context: context) else { return false }
            emit(pending, from: side, context: context)
        case .violation(let reason):
            refuse(.protocolError, reason, from: side, context: context)
            return false
        }
        return true
    }

    private func setPending(_ pending: ByteBuffer?, need: Int, for side: ProxyConnection.Side) {
        if side == .client {
            client.pending = pending
            client.need = need
        } else {
            server.pending = pending
            server.need = need
        }
    }

    private func setPhase(_ phase: Phase, for side: ProxyConnection.Side) {
        if side == .client { client.phase = phase } else { server.phase = phase }
    }

    // MARK: authentication

    /// Books a client line. - Returns: whether it is forwarded, or why the line is refused.
    private func clientLine(_ command: DBusSASLLine) -> Result<Bool, DBusSASLLine.LineError> {
        guard owed.count < Self.maximumOwed else {
            return .failure(.init("more than \(Self.maximumOwed) SASL commands without a reply"))
        }
        switch command {
        case .negotiateUnixFD:
            owed.append(.refusal)
            counters?.dbusUnixFDNegotiationRefused()
            return .success(false)
        case .begin:
            owed.append(.begin)
            client.phase = .messages(passing: 0)
            return .success(true)
        default:
            owed.append(.reply)
            return .success(true)
        }
    }

    /// Books a server reply. - Returns: whether it is forwarded, or why the line is refused.
    private func serverLine(_ command: DBusSASLLine) -> Result<Bool, DBusSASLLine.LineError> {
        if command == .agreeUnixFD {
            return .failure(.init("server agreed to Unix fd passing, which was never asked for"))
        }
        guard owed.first == .reply else { return .failure(.init("server sent a SASL reply nobody asked for")) }
        owed.removeFirst()
        return .success(true)
    }

    /// Answers what the client is owed now that the server's replies before it went by: `ERROR` for each
    /// dropped `NEGOTIATE_UNIX_FD`; after the `BEGIN`, the server's stream is messages.
    private func answerOwed(context: ChannelHandlerContext, flush: Bool) {
        var wrote = false
        while let next = owed.first, next != .reply {
            owed.removeFirst()
            switch next {
            case .refusal:
                var line = context.channel.allocator.buffer(capacity: Self.refusalLine.utf8.count)
                line.writeString(Self.refusalLine)
                context.write(wrapOutboundOut(line), promise: nil)
                wrote = true
            case .begin:
                // Bytes the server sent after its last reply and before the client's BEGIN are a line nobody
                // asked for, not the start of a message: the server may only send messages once it has BEGIN.
                guard server.pending == nil else {
                    refuse(
                        .protocolError, "server sent an unfinished SASL line nobody asked for", from: .server,
                        context: context)
                    return
                }
                server.phase = .messages(passing: 0)
            case .reply:
                break
            }
        }
        if wrote && flush { context.flush() }
    }

    // MARK: identity

    /// Checks a register call's name against the certificate; logs the decision.
    /// - Returns: whether the call may pass; when not, the connection is being closed.
    private func registrationAllowed(
        _ argument: DBusMessageScan.RegisterArgument, context: ChannelHandlerContext
    ) -> Bool {
        guard let registerName else { return true }
        let claimed: String
        let refusal: String
        switch argument {
        case .wrongSignature(let signature):
            claimed = "-"
            refusal = "register call with signature '\(signature)' instead of 's'"
        case .malformedBody(let why):
            claimed = "-"
            refusal = "register call with a malformed argument: \(why)"
        case .name(let name):
            claimed = name
            let details = copiedCertificate ?? certificate?.details
            if let details {
                if registerName.allows(
                    name, commonNames: details.commonNames, dnsNames: details.dnsNames, uris: details.uris)
                {
                    counters?.dbusRegistrationAccepted()
                    logger.info(
                        "D-Bus registration accepted",
                        metadata: [
                            "name": "\(name)", "subject": "\(subject ?? "-")", "frontend": "\(frontend)",
                            "peer": "\(peerAddress)",
                        ])
                    return true
                }
                refusal = "the certificate does not allow this name (\(Self.allowed(by: registerName, details)))"
            } else {
                refusal = "no client certificate to check the name against"
            }
        }
        logger.warning(
            "D-Bus registration refused",
            metadata: [
                "claimed": "\(claimed)", "rule": "\(registerName)", "subject": "\(subject ?? "-")",
                "reason": "\(refusal)", "frontend": "\(frontend)", "peer": "\(peerAddress)",
            ])
        counters?.dbusRegistrationRefused()
        close(.registrationRefused, refusal, from: .client, context: context)
        return false
    }

    /// What the rule allows for this certificate, for the refusal's reason: `cn: node2`.
    private static func allowed(by rule: DBusRegisterName, _ certificate: PeerCertificate) -> String {
        let names: [String]
        switch rule.rule {
        case .cn: names = certificate.commonNames
        case .dns: names = certificate.dnsNames
        case .uri: names = certificate.uris.compactMap(DBusRegisterName.lastPathSegment)
        case .map(_, let map): names = certificate.commonNames.flatMap(map.names)
        }
        return "\(rule.description.split(separator: " ").first ?? ""): "
            + (names.isEmpty ? "none" : names.joined(separator: ","))
    }

    // MARK: refusing

    /// Logs a protocol violation once and closes the connection.
    private func refuse(
        _ kind: DBusStreamClosed.Kind, _ reason: String, from side: ProxyConnection.Side,
        context: ChannelHandlerContext
    ) {
        if case .closed = client.phase { return }
        logger.warning(
            "D-Bus stream closed",
            metadata: [
                "reason": "\(reason)", "from": "\(side)", "subject": "\(subject ?? "-")", "frontend": "\(frontend)",
                "peer": "\(peerAddress)",
            ])
        counters?.dbusProtocolError()
        close(kind, reason, from: side, context: context)
    }

    private func close(
        _ kind: DBusStreamClosed.Kind, _ reason: String, from side: ProxyConnection.Side,
        context: ChannelHandlerContext
    ) {
        client = Direction(phase: .closed)
        server = Direction(phase: .closed)
        owed.removeAll()
        // Bytes forwarded before the refused ones go out before the close (the relay flushes the server side on
        // read-complete): closing the partner channel would otherwise discard them, unflushed.
        if side == .client { context.fireChannelReadComplete() } else { context.flush() }
        context.fireUserInboundEventTriggered(DBusStreamClosed(kind: kind, reason: reason, from: side))
        context.close(promise: nil)
    }
}
