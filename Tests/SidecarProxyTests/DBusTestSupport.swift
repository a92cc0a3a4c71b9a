import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import SidecarConfig
import SidecarTLS

@testable import SidecarProxy

/// Builds D-Bus messages byte by byte, in either byte order, for the filter's tests.
struct DBusMessageBuilder {
    var bigEndian = false
    var type: UInt8 = 1
    var serial: UInt32 = 1
    var version: UInt8 = 1
    /// Header fields as (code, type character, value): `String` for `s`/`o`/`g`, `UInt32` for `u`.
    var fields: [(UInt8, Character, Any)] = []
    var signature: String?
    var body: [UInt8] = []

    /// A method call to `path`, `interface` (omitted when nil), `member`.
    static func call(
        _ path: String, _ interface: String?, _ member: String, bigEndian: Bool = false, serial: UInt32 = 1
    ) -> DBusMessageBuilder {
        var message = DBusMessageBuilder(bigEndian: bigEndian, serial: serial)
        message.fields.append((1, "o", path))
        if let interface { message.fields.append((2, "s", interface)) }
        message.fields.append((3, "s", member))
        message.fields.append((6, "s", "org.eclipse.bluechi"))
        return message
    }

    /// BlueChi's `Register(s name)`.
    static func register(_ name: String, bigEndian: Bool = false, serial: UInt32 = 1) -> DBusMessageBuilder {
        var message = call(
            "/org/eclipse/bluechi/internal", "org.eclipse.bluechi.internal.Controller", "Register",
            bigEndian: bigEndian, serial: serial)
        message.setStringBody(name)
        return message
    }

    mutating func setStringBody(_ text: String) {
        signature = "s"
        body = []
        append(UInt32(text.utf8.count), to: &body)
        body += Array(text.utf8) + [0]
    }

    private func append(_ value: UInt32, to bytes: inout [UInt8]) {
        let ordered = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: ordered) { bytes += $0 }
    }

    private func pad(_ bytes: inout [UInt8], to boundary: Int) {
        while bytes.count % boundary != 0 { bytes.append(0) }
    }

    var bytes: [UInt8] {
        var fieldBytes: [UInt8] = []
        var allFields = fields
        if let signature { allFields.append((8, "g", signature)) }
        // Alignment counts from the message start; the array starts at offset 16.
        var header: [UInt8] = [bigEndian ? UInt8(ascii: "B") : UInt8(ascii: "l"), type, 0, version]
        append(UInt32(body.count), to: &header)
        append(serial, to: &header)
        for (code, typeCode, value) in allFields {
            var offset = 16 + fieldBytes.count
            while offset % 8 != 0 {
                fieldBytes.append(0)
                offset += 1
            }
            fieldBytes += [code, 1, typeCode.asciiValue!, 0]
            switch typeCode {
            case "s", "o":
                let text = value as! String
                while (16 + fieldBytes.count) % 4 != 0 { fieldBytes.append(0) }
                append(UInt32(text.utf8.count), to: &fieldBytes)
                fieldBytes += Array(text.utf8) + [0]
            case "g":
                let text = value as! String
                fieldBytes += [UInt8(text.utf8.count)] + Array(text.utf8) + [0]
            default:
                while (16 + fieldBytes.count) % 4 != 0 { fieldBytes.append(0) }
                append(value as! UInt32, to: &fieldBytes)
            }
        }
        append(UInt32(fieldBytes.count), to: &header)
        var message = header + fieldBytes
        pad(&message, to: 8)
        return message + body
    }
}

/// Log lines, as `level message key=value ...` with keys sorted (the shape `LineLogHandler` writes).
final class DBusLogCapture: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])
    var all: [String] { lines.withLockedValue { $0 } }

    var logger: Logger {
        Logger(label: "dbus-test") { _ in Handler(capture: self) }
    }

    private struct Handler: LogHandler {
        let capture: DBusLogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
            capture.lines.withLockedValue { $0.append("\(event.level) \(event.message) \(fields)") }
        }
    }
}

/// Records the user events that pass the filter (`DBusStreamClosed`).
final class DBusEventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    var closures: [DBusStreamClosed] = []

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? DBusStreamClosed { closures.append(closed) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }
}

/// One `DBusFilter` in an `EmbeddedChannel`: client bytes go in as inbound reads, server bytes as outbound
/// writes; what the filter passes on is collected per direction.
final class DBusFilterHarness {
    let channel = EmbeddedChannel()
    let log = DBusLogCapture()
    let events = DBusEventRecorder()
    let counters = TrafficCounters()
    let filter: DBusFilter
    /// Bytes the filter passed toward the server and toward the client so far.
    private(set) var toServer: [UInt8] = []
    private(set) var toClient: [UInt8] = []

    init(settings: DBusSettings = DBusSettings(), subject: String? = nil, certificate: PeerCertificate? = nil) throws {
        filter = DBusFilter(
            settings: settings, frontend: "fe", peerAddress: "10.0.0.2:40000", logger: log.logger, counters: counters)
        filter.peerVerified(subject: subject, certificate: certificate)
        try channel.pipeline.syncOperations.addHandler(filter)
        try channel.pipeline.syncOperations.addHandler(events)
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.2", port: 40000)).wait()
    }

    /// Closes the channel and runs what its loop still has scheduled: an embedded channel left open, or closed
    /// with tasks pending, stays alive in a cycle with its loop and handlers (LeakSanitizer at the test run's exit).
    deinit {
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }

    var isOpen: Bool { channel.isActive }

    func client(_ bytes: [UInt8]) throws {
        guard channel.isActive else { return }
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        collect()
    }

    /// A write the filter refuses fails, as the channel closes; the test looks at what passed and the log.
    func server(_ bytes: [UInt8]) throws {
        guard channel.isActive else { return }
        do {
            try channel.writeOutbound(channel.allocator.buffer(bytes: bytes))
        } catch ChannelError.ioOnClosedChannel {
            // Refused: the filter closed the connection.
        }
        collect()
    }

    func client(_ text: String) throws { try client(Array(text.utf8)) }
    func server(_ text: String) throws { try server(Array(text.utf8)) }

    /// The client's end of input (EOF).
    func clientEnds() {
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        collect()
    }

    func collect() {
        while let buffer = try? channel.readInbound(as: ByteBuffer.self) { toServer += Array(buffer.readableBytesView) }
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            toClient += Array(buffer.readableBytesView)
        }
    }

    /// The warnings and infos the filter logged.
    var lines: [String] { log.all }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }
}
