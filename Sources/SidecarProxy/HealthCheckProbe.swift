import NIOCore
import SidecarTLS

/// The last handler of a TLS health-check channel: reports whether the server completed a verified
/// handshake (and passes the identity rules), then closes the channel with close_notify.
///
/// `outcome` gets nil for a passed check, or HAProxy's wording of the failure, e.g.
/// `Layer6 invalid response, info: "certificate has expired (notAfter ...)", subject: CN=server`.
/// Lives on the check channel's event loop; not `Sendable`.
final class HealthCheckProbe: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let server: ServerPlan
    private let outcome: EventLoopPromise<String?>
    private var reported = false

    init(server: ServerPlan, outcome: EventLoopPromise<String?>) {
        self.server = server
        self.outcome = outcome
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let completed = event as? TLSHandshakeCompleted else { return }
        if let refusal = server.admit(server: completed) {
            report("Layer6 invalid response, info: \"\(refusal)\"\(Self.subject(completed.peerCertificate))")
        } else {
            report(nil)
        }
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? TLSError {
            if error.code == TLSError.handshakeTimeout {
                report("Layer6 timeout")
            } else {
                report("Layer6 invalid response, info: \"\(error.reason)\"\(Self.subject(error.certificate))")
            }
        } else {
            report("Layer6 invalid response, info: \"\(error)\"")
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        report("Layer6 invalid response, info: \"connection closed during TLS handshake\"")
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        report("check abandoned")
    }

    private func report(_ failure: String?) {
        guard !reported else { return }
        reported = true
        outcome.succeed(failure)
    }

    private static func subject(_ certificate: PeerCertificate?) -> String {
        certificate.map { ", subject: \($0.subject)" } ?? ""
    }
}
