import NIOCore
import SidecarConfig

/// The server side of one runtime API connection: splits lines, runs them, writes answers.
///
/// Bounded both ways, whatever the client does:
/// - Input: at most `maxLine` bytes are buffered while waiting for a newline; a longer line ends the
///   connection. Once the connection is finishing, input is neither read nor kept.
/// - Output: the commands of a line run one at a time, each only while the channel is writable, so a line of
///   thousands of `show stat;` commands from a client that does not read produces at most about one answer
///   beyond the write buffer's high-water mark; no further input is read meanwhile.
/// - Time: the idle event (no input for the `stats socket` timeout, also while output is held because the
///   client does not read) closes the connection at once, dropping what it could not take.
///
/// Lives on its channel's event loop; not `Sendable`.
final class RuntimeAPIHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The longest command line buffered (HAProxy's is a buffer's size, 16 KiB by default).
    static let maxLine = 64 * 1024

    /// Where the connection is.
    private enum Phase {
        /// Reading lines and running their commands.
        case serving
        /// Input ended (EOF): the commands already received still run, then the connection finishes.
        case inputEnded
        /// The last answer is being flushed, then the connection closes; input is dropped.
        case finishing
    }

    private let api: RuntimeAPI
    private let level: StatsSocket.Level
    private var phase = Phase.serving
    /// Input not yet split into lines.
    private var pending = ByteBuffer()
    /// The commands of the line being run, not yet run (they wait for the channel to be writable).
    private var queued: ArraySlice<String> = []
    /// A line's commands are being run: its prompt (or the end of a one-shot connection) comes after them.
    private var lineInProgress = false
    private var interactive = false
    /// A `read()` is held while a line is being run or the channel is not writable.
    private var readHeld = false

    init(api: RuntimeAPI, level: StatsSocket.Level) {
        self.api = api
        self.level = level
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .serving = phase else { return }
        var buffer = unwrapInboundIn(data)
        pending.writeBuffer(&buffer)
        process(context: context)
        // A command line is at most a few hundred bytes; refuse to buffer a flood.
        if case .serving = phase, pending.readableBytes > Self.maxLine { finish(context: context) }
    }

    func read(context: ChannelHandlerContext) {
        guard case .serving = phase else { return }
        if lineInProgress || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            process(context: context)
            if readHeld, !lineInProgress, case .serving = phase {
                readHeld = false
                context.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            guard case .serving = phase else { return }
            // A last command without a newline (`printf 'show info' | nc -U`) still gets its answer.
            if pending.readableBytes > 0 { pending.writeInteger(UInt8(ascii: "\n")) }
            phase = .inputEnded
            process(context: context)
        } else if event is IdleStateHandler.IdleStateEvent {
            // Stuck: no command for the timeout, or not reading its answers. Waiting for a flush would wait
            // forever, so close now.
            phase = .finishing
            pending = ByteBuffer()
            queued = []
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Runs queued commands while the channel is writable, and splits further lines into commands.
    private func process(context: ChannelHandlerContext) {
        while true {
            switch phase {
            case .finishing: return
            case .serving, .inputEnded: break
            }
            if let command = queued.first {
                guard context.channel.isWritable else { return }
                queued = queued.dropFirst()
                run(command, context: context)
                continue
            }
            if lineInProgress {
                lineInProgress = false
                if interactive {
                    write("> ", context: context)
                } else {
                    finish(context: context)
                    return
                }
                continue
            }
            guard let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { break }
            let line = pending.readString(length: newline - pending.readerIndex) ?? ""
            pending.moveReaderIndex(forwardBy: 1)
            let trimmed = line.hasSuffix("\r") ? String(line.dropLast()) : line
            queued = ArraySlice(trimmed.split(separator: ";").map(Self.trimmed))
            lineInProgress = true
        }
        pending.discardReadBytes()
        if case .inputEnded = phase { finish(context: context) }
    }

    /// Runs one command: `prompt` and `quit` are handled here.
    private func run(_ command: String, context: ChannelHandlerContext) {
        switch command {
        case "prompt":
            interactive.toggle()
        case "quit":
            finish(context: context)
        default:
            write(api.execute(command, level: level), context: context)
        }
    }

    private static func trimmed(_ text: Substring) -> String {
        var view = text
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }

    private func write(_ text: String, context: ChannelHandlerContext) {
        guard !text.isEmpty else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
    }

    /// Closes after the answers written so far have been flushed; reads and keeps no more input.
    private func finish(context: ChannelHandlerContext) {
        guard phase != .finishing else { return }
        phase = .finishing
        pending = ByteBuffer()
        queued = []
        lineInProgress = false
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
