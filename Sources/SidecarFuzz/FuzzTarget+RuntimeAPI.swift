import NIOCore
import NIOEmbedded
import SidecarConfig
import SidecarRuntime

extension FuzzTarget {
    /// The bytes as everything one admin-level stats socket client sends before closing its side: commands,
    /// `;`-separated lists, `prompt`, `quit`, overlong lines. The answers are read and dropped.
    static func runRuntimeAPI(_ bytes: [UInt8]) {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        do {
            try channel.pipeline.syncOperations.addHandler(
                FuzzFixtures.runtimeAPI.connectionHandler(level: .admin))
            try channel.connect(to: SocketAddress(unixDomainSocketPath: "/fuzz/admin.sock")).wait()
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
            drain(channel)
            channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            drain(channel)
        } catch {
            // Closing on bad input is the handler's answer, not a finding.
        }
    }

    /// Reads and drops what the channel produced in both directions.
    static func drain(_ channel: EmbeddedChannel) {
        while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
        while (try? channel.readInbound(as: ByteBuffer.self)) != nil {}
    }
}
