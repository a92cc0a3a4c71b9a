import Foundation
import NIOCore
import NIOEmbedded
import SidecarConfig
import Testing

@testable import SidecarTLS

/// The TLS handler over two `EmbeddedChannel`s wired back to back: no sockets, every byte under the
/// test's control.
@Suite struct TLSHandlerTests {
    let pki: TestPKI

    init() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        pki = try TestPKI.make(in: directory)
    }

    @Test func handshakeCompletesInBothRolesAndReportsThePeers() throws {
        let pair = try TLSPair(pki: pki)
        try pair.interact()
        #expect(pair.clientEvents.handshake?.peerCertificate?.dnsNames.contains("localhost") == true)
        #expect(pair.serverEvents.handshake?.peerCertificate?.commonNames == ["client"])
        #expect(pair.serverEvents.handshake?.protocolVersion == "TLSv1.3")
        // The SNI the client sent reaches the rules (`ssl_fc_sni`).
        #expect(pair.serverEvents.handshake?.serverName == "localhost")
        #expect(pair.clientEvents.errors.isEmpty && pair.serverEvents.errors.isEmpty)
    }

    @Test func tls12HandshakeDataAndCloseNotify() throws {
        var clientSettings = pair(clientOf: pki)
        clientSettings.maxVersion = .tls12
        let pair = try TLSPair(
            clientContext: TLSContext(settings: clientSettings, role: .client),
            serverContext: TLSContext(settings: pair(serverOf: pki), role: .server))
        try pair.interact()
        #expect(pair.clientEvents.handshake?.protocolVersion == "TLSv1.2")
        #expect(pair.serverEvents.handshake?.peerCertificate?.commonNames == ["client"])
        pair.client.writeAndFlush(ByteBuffer(string: "over TLS 1.2"), promise: nil)
        try pair.interact(chunkSize: 7)
        #expect(pair.serverEvents.received == "over TLS 1.2")
        pair.client.close(mode: .output, promise: nil)
        try pair.interact()
        #expect(pair.serverEvents.inputClosed)
        #expect(pair.serverEvents.errors.isEmpty && pair.clientEvents.errors.isEmpty)
    }

    @Test func bytesCrossBothWaysWhenRecordsArriveOneByteAtATime() throws {
        let pair = try TLSPair(pki: pki)
        pair.client.writeAndFlush(ByteBuffer(string: "\0AUTH EXTERNAL\r\nDATA\r\nBEGIN\r\n"), promise: nil)
        try pair.interact(chunkSize: 1)
        #expect(pair.serverEvents.received == "\0AUTH EXTERNAL\r\nDATA\r\nBEGIN\r\n")
        pair.server.writeAndFlush(ByteBuffer(string: "OK 1234\r\n"), promise: nil)
        try pair.interact(chunkSize: 1)
        #expect(pair.clientEvents.received == "OK 1234\r\n")
    }

    @Test func writesBeforeTheHandshakeAreHeldNotLost() throws {
        let pair = try TLSPair(pki: pki, start: false)
        let written = WrittenFlag()
        pair.client.writeAndFlush(ByteBuffer(string: "early bytes")).whenSuccess { written.value = true }
        try pair.start()
        try pair.interact()
        #expect(written.value)
        #expect(pair.serverEvents.received == "early bytes")
    }

    @Test func closeNotifyClosesOneDirectionOnly() throws {
        let pair = try TLSPair(pki: pki)
        try pair.interact()
        // The client is done sending: close_notify goes out, and the server sees end of input.
        pair.client.close(mode: .output, promise: nil)
        try pair.interact()
        #expect(pair.serverEvents.inputClosed)
        #expect(!pair.clientEvents.inputClosed)
        // TLS 1.3: the server can still answer after the client's close_notify.
        pair.server.writeAndFlush(ByteBuffer(string: "late answer"), promise: nil)
        try pair.interact()
        #expect(pair.clientEvents.received == "late answer")
        #expect(pair.serverEvents.errors.isEmpty && pair.clientEvents.errors.isEmpty, "\(pair.clientEvents.errors)")
    }

    @Test func tcpEndOfFileWithoutCloseNotifyIsAnUncleanShutdown() throws {
        let pair = try TLSPair(pki: pki)
        try pair.interact()
        pair.server.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(pair.serverEvents.errors.first?.code == TLSError.uncleanShutdown)
    }

    @Test func clientFromAnotherCAIsRefusedWithTheReasonAndSubject() throws {
        let pair = try TLSPair(pki: pki, clientCertificate: (pki.rogueClientCertificate, pki.rogueClientKey))
        try pair.interact()
        let error = try #require(pair.serverEvents.errors.first)
        #expect(error.code == TLSError.certificateRejected)
        #expect(error.reason.contains("unknown CA"))
        #expect(
            error.certificate?.issuer.contains("rogue") == true || error.certificate?.issuer.contains("Rogue") == true)
        #expect(pair.serverEvents.handshake == nil)
    }

    @Test func expiredClientIsRefusedAsExpired() throws {
        let pair = try TLSPair(pki: pki, clientCertificate: (pki.expiredClientCertificate, pki.expiredClientKey))
        try pair.interact()
        let error = try #require(pair.serverEvents.errors.first)
        #expect(error.reason.hasPrefix("certificate has expired"))
        #expect(pair.serverEvents.handshake == nil)
    }

    @Test func clientWithoutCertificateIsRefused() throws {
        let pair = try TLSPair(pki: pki, clientCertificate: .some(nil))
        try pair.interact()
        let error = try #require(
            pair.serverEvents.errors.first,
            "client saw \(pair.clientEvents.errors), handshake \(String(describing: pair.serverEvents.handshake))")
        #expect(error.reason == "no certificate presented")
    }

    @Test func serverWithAnotherNameIsRefusedByTheClient() throws {
        let pair = try TLSPair(pki: pki, expectedServerName: "manager.example.com")
        try pair.interact()
        let error = try #require(pair.clientEvents.errors.first)
        #expect(error.code == TLSError.certificateRejected)
        #expect(error.reason.contains("name mismatch"))
        #expect(error.reason.contains("manager.example.com"))
        #expect(pair.clientEvents.handshake == nil)
    }

    @Test func serverFromAnotherCAIsRefusedByTheClient() throws {
        let pair = try TLSPair(pki: pki, serverCertificate: (pki.rogueServerCertificate, pki.rogueServerKey))
        try pair.interact()
        let error = try #require(pair.clientEvents.errors.first)
        #expect(error.reason.contains("unknown CA"))
    }

    @Test func aResumedSessionSkipsTheFullHandshake() throws {
        let clientContext = try TLSContext(settings: pair(clientOf: pki), role: .client)
        let serverContext = try TLSContext(settings: pair(serverOf: pki), role: .server)
        #expect(try resumptions(client: clientContext, server: serverContext) == [false])
        #expect(try resumptions(client: clientContext, server: serverContext) == [true])
    }

    @Test func eachTicketServesOneConnectionSoParallelConnectionsAllResume() throws {
        let clientContext = try TLSContext(settings: pair(clientOf: pki), role: .client)
        let serverContext = try TLSContext(settings: pair(serverOf: pki), role: .server)
        #expect(try resumptions(client: clientContext, server: serverContext) == [false])
        // One ticket in the pool: the first connection takes it, the second has none to offer.
        #expect(try resumptions(client: clientContext, server: serverContext, together: 2) == [true, false])
        // Each of those left a fresh ticket: two connections at once both resume. Offering one ticket twice
        // would fail the second resumption, since the server's tickets are single-use (stateful).
        #expect(try resumptions(client: clientContext, server: serverContext, together: 2) == [true, true])
        #expect(clientContext.sessionCount(for: "peer") == 2)
    }

    @Test func aBurstOfParallelConnectionsAllResumeNextTime() throws {
        let clientContext = try TLSContext(settings: pair(clientOf: pki), role: .client)
        let serverContext = try TLSContext(settings: pair(serverOf: pki), role: .server)
        // 40 connections at once (a reconnect storm through one forward proxy) bring back 40 tickets, and the
        // next 40 at once each offer one: the pool keeps more than a handful per server.
        #expect(try resumptions(client: clientContext, server: serverContext, together: 40).allSatisfy { !$0 })
        #expect(clientContext.sessionCount(for: "peer") == 40)
        #expect(try resumptions(client: clientContext, server: serverContext, together: 40).allSatisfy { $0 })
    }

    @Test func aTLS12SessionServesSeveralConnections() throws {
        var clientSettings = pair(clientOf: pki)
        clientSettings.maxVersion = .tls12
        let clientContext = try TLSContext(settings: clientSettings, role: .client)
        let serverContext = try TLSContext(settings: pair(serverOf: pki), role: .server)
        #expect(try resumptions(client: clientContext, server: serverContext) == [false])
        // A TLS 1.2 session id stays valid in the server's cache: both connections resume with the one session.
        #expect(try resumptions(client: clientContext, server: serverContext, together: 2) == [true, true])
    }

    @Test func aSessionPastItsLifetimeDoesNotResume() async throws {
        var serverSettings = pair(serverOf: pki)
        serverSettings.sessionLifetime = .seconds(1)
        let clientContext = try TLSContext(settings: pair(clientOf: pki), role: .client)
        let serverContext = try TLSContext(settings: serverSettings, role: .server)
        #expect(try resumptions(client: clientContext, server: serverContext) == [false])
        #expect(try resumptions(client: clientContext, server: serverContext) == [true])
        // What is measured here is the lifetime itself: the ticket must be older than it.
        try await Task.sleep(for: .milliseconds(2100))
        #expect(try resumptions(client: clientContext, server: serverContext) == [false])
    }

    @Test func expiredSessionsLeaveTheListenersCacheOnAClock() async throws {
        var serverSettings = pair(serverOf: pki)
        serverSettings.sessionLifetime = .seconds(1)
        let clientContext = try TLSContext(settings: pair(clientOf: pki), role: .client)
        let serverContext = try TLSContext(
            settings: serverSettings, role: .server, sessionFlushInterval: .milliseconds(500))
        _ = try resumptions(client: clientContext, server: serverContext, together: 3)
        #expect(serverContext.cachedSessionCount == 3)
        // What is measured here is the lifetime itself: the sessions must be older than it.
        try await Task.sleep(for: .milliseconds(2100))
        // The next handshake flushes the three expired sessions; only its own is cached. OpenSSL's clean-up
        // would not have run (it waits for the 255th handshake), leaving the two sessions nobody offered.
        #expect(try resumptions(client: clientContext, server: serverContext) == [false])
        #expect(serverContext.cachedSessionCount == 1)
    }

    @Test func withoutASessionCacheTheListenerResumesNothing() throws {
        var serverSettings = pair(serverOf: pki)
        serverSettings.sessionCacheSize = 0
        let clientContext = try TLSContext(settings: pair(clientOf: pki), role: .client)
        let serverContext = try TLSContext(settings: serverSettings, role: .server)
        for _ in 0..<2 { #expect(try resumptions(client: clientContext, server: serverContext) == [false]) }
        // No ticket was issued for the client to keep.
        #expect(clientContext.sessionCount(for: "peer") == 0)
    }

    @Test func noSSLReuseOffersNoSession() throws {
        var settings = pair(clientOf: pki)
        settings.sessionReuse = false
        let clientContext = try TLSContext(settings: settings, role: .client)
        let serverContext = try TLSContext(settings: pair(serverOf: pki), role: .server)
        for _ in 0..<2 { #expect(try resumptions(client: clientContext, server: serverContext) == [false]) }
        // The server's tickets are not even kept.
        #expect(clientContext.sessionCount(for: "peer") == 0)
    }

    /// Starts `together` connections before any of them finishes, then completes each and delivers its
    /// ticket (it comes after the handshake; one more exchange brings it); returns which resumed.
    private func resumptions(client: TLSContext, server: TLSContext, together: Int = 1) throws -> [Bool] {
        let pairs = try (0..<together).map { _ in
            try TLSPair(clientContext: client, serverContext: server, sessionKey: "peer")
        }
        for pair in pairs {
            try pair.interact()
            pair.server.writeAndFlush(ByteBuffer(string: "x"), promise: nil)
            try pair.interact()
        }
        return pairs.map { $0.clientEvents.handshake?.sessionReused ?? false }
    }

    // MARK: structure of the data path (checked here rather than timed)

    @Test func aLargeWriteLeavesAsOneBufferOfRecordsAndArrivesInBoundedPieces() throws {
        let pair = try TLSPair(pki: pki)
        try pair.interact()
        pair.client.writeAndFlush(ByteBuffer(repeating: 0x61, count: 1 << 20), promise: nil)
        var outbound: [ByteBuffer] = []
        while let buffer = try pair.client.readOutbound(as: ByteBuffer.self) { outbound.append(buffer) }
        // One buffer (one write syscall) for the 64 records, not one per record; 16 KiB records cost at
        // most 64 bytes each of header, tag and padding.
        #expect(outbound.count == 1)
        let size = outbound.first?.readableBytes ?? 0
        #expect(size > 1 << 20 && size <= (1 << 20) + 64 * 64, "\(size)")
        try pair.server.writeInbound(outbound[0])
        // The receiver passes the plaintext on in pieces of at most 64 KiB, not as one 1 MiB allocation.
        #expect(pair.serverEvents.readSizes.reduce(0, +) == 1 << 20)
        #expect(pair.serverEvents.readSizes.allSatisfy { $0 <= 64 * 1024 }, "\(pair.serverEvents.readSizes)")
    }

    @Test func aPlaintextReceiverTakesTheBytesDirectlyAndTheRestStillComesThroughThePipeline() throws {
        let pair = try TLSPair(pki: pki)
        try pair.interact()
        let receiver = PlaintextLog(pipelineView: pair.serverEvents)
        try pair.serverHandler().passPlaintext(to: receiver)
        pair.client.writeAndFlush(ByteBuffer(string: "direct"), promise: nil)
        try pair.interact()
        // The bytes and the end of the read burst went to the receiver; the handler above saw none of them.
        #expect(receiver.received == "direct")
        #expect(receiver.log.last == "complete")
        #expect(pair.serverEvents.readSizes.isEmpty)
        // Without a receiver, the pipeline again.
        try pair.serverHandler().passPlaintext(to: nil)
        pair.client.writeAndFlush(ByteBuffer(string: "piped"), promise: nil)
        try pair.interact()
        #expect(pair.serverEvents.received == "piped")
        #expect(receiver.received == "direct")
        // Events other than plaintext still come through the pipeline, after the plaintext before them.
        try pair.serverHandler().passPlaintext(to: receiver)
        pair.client.writeAndFlush(ByteBuffer(string: " last"), promise: nil)
        pair.client.close(mode: .output, promise: nil)
        try pair.interact()
        #expect(receiver.received == "direct last")
        #expect(pair.serverEvents.inputClosed)
        #expect(!receiver.log.contains("read after input closed"), "\(receiver.log)")
        // Removing the handler lets go of the receiver, which (as the relay does) holds the handler: the two
        // would otherwise keep each other alive.
        weak var released: PlaintextLog?
        do {
            let temporary = PlaintextLog(pipelineView: pair.serverEvents)
            released = temporary
            temporary.handler = try pair.clientHandler()
            try pair.clientHandler().passPlaintext(to: temporary)
        }
        _ = try pair.client.pipeline.syncOperations.removeHandler(try pair.clientHandler()).wait()
        #expect(released == nil)
    }

    @Test func anIdleConnectionHoldsNoBuffers() throws {
        let pair = try TLSPair(pki: pki)
        try pair.interact()
        pair.client.writeAndFlush(ByteBuffer(repeating: 0x62, count: 100_000), promise: nil)
        pair.server.writeAndFlush(ByteBuffer(repeating: 0x63, count: 100_000), promise: nil)
        try pair.interact(chunkSize: 1000)
        #expect(pair.serverEvents.receivedBytes.readableBytes == 100_000)
        for handler in [try pair.clientHandler(), try pair.serverHandler()] {
            let idle = handler.idleState
            #expect(
                idle.queuedCiphertext == 0 && !idle.pendingOutbound && !idle.openSSLHoldsBytes
                    && idle.pendingWrites == 0)
            // OpenSSL gives its record buffers back between reads (SSL_MODE_RELEASE_BUFFERS).
            #expect(idle.releasesBuffers)
        }
    }

    @Test func contextErrorsNameTheFile() throws {
        var settings = pair(serverOf: pki)
        settings.certificateFiles = ["/nonexistent/cert.pem"]
        #expect(throws: TLSContextError.self) { try TLSContext(settings: settings, role: .server) }
        do {
            _ = try TLSContext(settings: settings, role: .server)
        } catch let error as TLSContextError {
            #expect(error.description.contains("/nonexistent/cert.pem"))
        }
        settings = pair(serverOf: pki)
        settings.keyFile = pki.clientKey.path
        do {
            _ = try TLSContext(settings: settings, role: .server)
            Issue.record("a mismatched key was accepted")
        } catch let error as TLSContextError {
            #expect(error.description.contains("does not match"))
        }
        settings = pair(serverOf: pki)
        settings.ciphers = "NO-SUCH-CIPHER"
        settings.maxVersion = .tls12
        do {
            _ = try TLSContext(settings: settings, role: .server)
            Issue.record("an unusable cipher list was accepted")
        } catch let error as TLSContextError {
            #expect(error.description.contains("no usable cipher"))
        }
    }
}

func pair(serverOf pki: TestPKI) -> TLSSettings {
    TLSSettings(
        certificateFiles: [pki.serverCertificate.path], keyFile: pki.serverKey.path, caFile: pki.caCertificate.path,
        verify: .required)
}

func pair(clientOf pki: TestPKI) -> TLSSettings {
    TLSSettings(
        certificateFiles: [pki.clientCertificate.path], keyFile: pki.clientKey.path, caFile: pki.caCertificate.path,
        verify: .required)
}

/// Set from a future callback on the embedded loop, which runs on the test's own thread.
final class WrittenFlag: @unchecked Sendable {
    var value = false
}

/// Accepts `close(mode: .output)` the way a socket does, instead of EmbeddedChannel's full close.
final class OutputShutdown: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    private(set) var outputShut = false

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output {
            outputShut = true
            promise?.succeed()
        } else {
            context.close(mode: mode, promise: promise)
        }
    }
}

/// What a handler above the TLS handler saw.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var receivedBytes = ByteBuffer()
    /// The size of each plaintext buffer passed on, in order.
    var readSizes: [Int] = []
    var handshake: TLSHandshakeCompleted?
    var inputClosed = false
    var errors: [TLSError] = []

    var received: String { String(buffer: receivedBytes) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        readSizes.append(buffer.readableBytes)
        receivedBytes.writeBuffer(&buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let completed = event as? TLSHandshakeCompleted { handshake = completed }
        if let event = event as? ChannelEvent, case .inputClosed = event { inputClosed = true }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? TLSError { errors.append(error) }
    }
}

/// Plaintext taken straight from a TLS handler (`TLSPlaintextReceiver`), with what the pipeline's handler above
/// had seen at the time of each call.
final class PlaintextLog: TLSPlaintextReceiver {
    private let pipelineView: Recorder
    var receivedBytes = ByteBuffer()
    var log: [String] = []
    /// The TLS handler, when the test makes the receiver hold it as the relay does.
    var handler: TLSHandler?

    init(pipelineView: Recorder) { self.pipelineView = pipelineView }

    var received: String { String(buffer: receivedBytes) }

    func tlsPlaintextRead(_ buffer: ByteBuffer) {
        var buffer = buffer
        log.append(pipelineView.inputClosed ? "read after input closed" : "read")
        receivedBytes.writeBuffer(&buffer)
    }

    func tlsPlaintextReadComplete() { log.append("complete") }
}

/// A TLS client and server on two embedded channels, with a way to move bytes between them.
final class TLSPair {
    let client = EmbeddedChannel()
    let server = EmbeddedChannel()
    let clientEvents = Recorder()
    let serverEvents = Recorder()

    /// Closes both channels: that removes the handlers, which cancels their handshake timers. An embedded channel
    /// left open keeps its pipeline, handlers and timer alive in a cycle (LeakSanitizer at the test run's exit).
    deinit {
        _ = try? client.finish(acceptAlreadyClosed: true)
        _ = try? server.finish(acceptAlreadyClosed: true)
    }

    convenience init(
        pki: TestPKI, clientCertificate: (URL, URL)?? = .none, serverCertificate: (URL, URL)? = nil,
        expectedServerName: String = "localhost", start: Bool = true
    ) throws {
        var clientSettings = pair(clientOf: pki)
        switch clientCertificate {
        case .none: break
        case .some(.none):
            clientSettings.certificateFiles = []
            clientSettings.keyFile = nil
        case .some(.some(let (certificate, key))):
            clientSettings.certificateFiles = [certificate.path]
            clientSettings.keyFile = key.path
        }
        var serverSettings = pair(serverOf: pki)
        if let (certificate, key) = serverCertificate {
            serverSettings.certificateFiles = [certificate.path]
            serverSettings.keyFile = key.path
        }
        try self.init(
            clientContext: TLSContext(settings: clientSettings, role: .client),
            serverContext: TLSContext(settings: serverSettings, role: .server),
            expectedServerName: expectedServerName, start: start)
    }

    init(
        clientContext: TLSContext, serverContext: TLSContext, expectedServerName: String = "localhost",
        sessionKey: String? = nil, start: Bool = true
    ) throws {
        // EmbeddedChannel has no half-closed state: an output close would close it whole. This stands in
        // for a socket's shutdown(SHUT_WR).
        try client.pipeline.syncOperations.addHandler(OutputShutdown())
        try server.pipeline.syncOperations.addHandler(OutputShutdown())
        try client.pipeline.syncOperations.addHandler(
            TLSHandler(
                context: clientContext, serverName: expectedServerName, expectedPeerName: expectedServerName,
                sessionKey: sessionKey))
        try client.pipeline.syncOperations.addHandler(clientEvents)
        try server.pipeline.syncOperations.addHandler(TLSHandler(context: serverContext))
        try server.pipeline.syncOperations.addHandler(serverEvents)
        if start { try self.start() }
    }

    func clientHandler() throws -> TLSHandler { try client.pipeline.syncOperations.handler(type: TLSHandler.self) }
    func serverHandler() throws -> TLSHandler { try server.pipeline.syncOperations.handler(type: TLSHandler.self) }

    func start() throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()
    }

    /// Moves every pending byte across until both sides are quiet, optionally cut into `chunkSize` pieces.
    func interact(chunkSize: Int? = nil) throws {
        for _ in 0..<1000 {
            let movedOne = try move(from: client, to: server, chunkSize: chunkSize)
            let movedTwo = try move(from: server, to: client, chunkSize: chunkSize)
            if !movedOne && !movedTwo { return }
        }
        Issue.record("the TLS pair never went quiet")
    }

    private func move(from source: EmbeddedChannel, to destination: EmbeddedChannel, chunkSize: Int?) throws -> Bool {
        var moved = false
        while var buffer = try source.readOutbound(as: ByteBuffer.self) {
            moved = true
            guard destination.isActive else { continue }
            if let chunkSize {
                while buffer.readableBytes > 0, destination.isActive {
                    let piece = buffer.readSlice(length: min(chunkSize, buffer.readableBytes))!
                    try destination.writeInbound(piece)
                }
            } else {
                try destination.writeInbound(buffer)
            }
        }
        return moved
    }
}
