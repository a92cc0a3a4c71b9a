import NIOCore
import SidecarConfig

/// The server side of one runtime API connection: splits lines, runs them, writes answers.
///
/// Lives on its channel's event loop; not `Sendable`.
final class RuntimeAPIHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let api: RuntimeAPI
    private let level: StatsSocket.Level
    private var pending = ByteBuffer()
    private var interactive = false
    private var finished = false

    init(api: RuntimeAPI, level: StatsSocket.Level) {
        self.api = api
        self.level = level
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending.writeBuffer(&buffer)
        // A command line is at most a few hundred bytes; refuse to buffer a flood.
        if pending.readableBytes > 64 * 1024 {
            finish(context: context)
            return
        }
        while !finished, let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readerIndex
            let line = pending.readString(length: length) ?? ""
            pending.moveReaderIndex(forwardBy: 1)
            run(line, context: context)
        }
        pending.discardReadBytes()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // A last command without a newline (`printf 'show info' | nc -U`) still gets its answer.
            if !finished, pending.readableBytes > 0, let line = pending.readString(length: pending.readableBytes) {
                run(line, context: context)
            }
            finish(context: context)
        } else if event is IdleStateHandler.IdleStateEvent {
            finish(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Runs one line: `;`-separated commands, `prompt` and `quit` handled here.
    private func run(_ rawLine: String, context: ChannelHandlerContext) {
        let line = rawLine.hasSuffix("\r") ? String(rawLine.dropLast()) : rawLine
        var output = ""
        for command in line.split(separator: ";").map(Self.trimmed) {
            switch command {
            case "prompt":
                interactive.toggle()
            case "quit":
                write(output, context: context)
                finish(context: context)
                return
            default:
                output += api.execute(command, level: level)
            }
        }
        if interactive { output += "> " }
        write(output, context: context)
        if !interactive { finish(context: context) }
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

    /// Closes after the answers written so far have been flushed.
    private func finish(context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
