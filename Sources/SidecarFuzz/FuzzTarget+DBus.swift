import NIOCore
import NIOEmbedded
import SidecarConfig
import SidecarProxy

extension FuzzTarget {
    /// What one record of a D-Bus input does.
    enum DBusStep: UInt8 {
        /// The record's bytes, from the client (inbound).
        case client = 0
        /// The record's bytes, from the server (outbound).
        case server = 1
        /// The client ends its output (EOF); the record's bytes are ignored.
        case clientEnds = 2
        /// The relay closes the output toward the client (the server ended); the bytes are ignored.
        case serverEnds = 3
    }

    /// Both directions of one connection through the `option dbus` filter. The first byte chooses the settings
    /// (bit 0: `dbus-register-name cn` with a client certificate CN=client; bit 1: `dbus-max-message-size 4096`);
    /// then records, each `[step] [length, 2 bytes little-endian] [bytes]` (`DBusStep`: `step % 4`; a length
    /// beyond the input takes what is left). Recorded conversations are in this shape in Fuzz/corpus/dbus.
    static func runDBus(_ bytes: [UInt8]) {
        guard let flags = bytes.first else { return }
        let settings = DBusSettings(
            maxMessageSize: flags & 2 != 0 ? 4096 : DBusSettings.defaultMaxMessageSize,
            registerName: flags & 1 != 0
                ? DBusRegisterName(rule: .cn, location: .commandLine("fuzz")) : nil)
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        do {
            try channel.pipeline.syncOperations.addHandler(
                standaloneDBusFilter(
                    settings: settings, subject: "/CN=client",
                    certificate: flags & 1 != 0 ? FuzzFixtures.clientCertificate : nil, logger: FuzzFixtures.logger))
            try channel.connect(to: SocketAddress(ipAddress: "10.0.0.2", port: 40000)).wait()
        } catch {
            return
        }
        var index = 1
        while index + 3 <= bytes.count, channel.isActive {
            let step = DBusStep(rawValue: bytes[index] % 4)!
            let length = Int(bytes[index + 1]) | Int(bytes[index + 2]) << 8
            let start = index + 3
            let end = min(bytes.count, start + length)
            index = end
            let chunk = bytes[start..<end]
            // A refused chunk closes the channel; later records then find it inactive.
            switch step {
            case .client:
                _ = try? channel.writeInbound(channel.allocator.buffer(bytes: chunk))
            case .server:
                _ = try? channel.writeOutbound(channel.allocator.buffer(bytes: chunk))
            case .clientEnds:
                channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            case .serverEnds:
                channel.close(mode: .output, promise: nil)
            }
            drain(channel)
        }
    }
}
