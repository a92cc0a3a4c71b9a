import NIOCore
import NIOEmbedded
import SidecarTLS

extension FuzzTarget {
    /// The bytes as a client's flight into the reverse side's TLS handler (server role, client certificate
    /// required), over an in-memory channel. The first byte is the read size (0: everything in one read), so
    /// records split across reads are covered; the rest is what the client sends, then its EOF. What the
    /// server answers is read and dropped.
    static func runTLS(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let flight = bytes.dropFirst()
        let readSize = first == 0 ? max(flight.count, 1) : Int(first)
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        do {
            try channel.pipeline.syncOperations.addHandler(TLSHandler(context: FuzzFixtures.serverContext))
            try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 50000)).wait()
        } catch {
            return
        }
        var start = flight.startIndex
        while start < flight.endIndex, channel.isActive {
            let end = min(flight.endIndex, start + readSize)
            _ = try? channel.writeInbound(channel.allocator.buffer(bytes: flight[start..<end]))
            drain(channel)
            start = end
        }
        if channel.isActive {
            channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            drain(channel)
        }
    }
}
