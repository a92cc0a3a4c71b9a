import NIOCore
import NIOPosix
import SidecarConfig
import SidecarTLS

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// `sidecar probe`: the operator's `ping` for a tunnel.
///
/// - `HOST:PORT`: one mutual-TLS handshake with a reverse sidecar (or any TLS server that asks for a client
///   certificate), reporting protocol, cipher, the server's chain, the name check, whether the server accepted
///   our certificate, and the timings. Nothing is sent after the handshake.
/// - `unix:PATH`: one connection through a local forward sidecar, end to end. With the D-Bus hello (the
///   default) a `REJECTED ...` answer proves every hop: the forward sidecar accepted, connected to the
///   manager, both certificates were accepted, the reverse sidecar reached its Unix socket, and a D-Bus
///   server (bluechi-controller) answered.
///
/// Findings are passed to `output` line by line as they happen, so a probe that hangs shows how far it got.
public enum ProbeRunner {
    /// Runs the probe described by `request`.
    /// - Parameter output: receives each line of the report, in order.
    /// - Throws: `ProbeFailure`, whose `exitCode` tells the kinds of failure apart.
    public static func run(_ request: ProbeRequest, output: @Sendable (String) -> Void) async throws {
        switch request.target {
        case .tls(let host, let port):
            try await probeTLS(host: host, port: port, request: request, output: output)
        case .unix(let path):
            try await probeUnix(path: path, request: request, output: output)
        }
    }

    // MARK: HOST:PORT

    private static func probeTLS(
        host: String, port: Int, request: ProbeRequest, output: @Sendable (String) -> Void
    ) async throws {
        let target = request.target
        let name = request.serverName ?? host
        let timeout = TimeAmount(request.timeout)
        // Each probe has a context of its own: no session from an earlier probe is resumed, and the chain
        // recorder sees this handshake only.
        let settings = TLSSettings(
            certificateFiles: [request.certificateFile!], keyFile: request.keyFile, caFile: request.caFile!,
            verify: .required, serverName: name, verifyHost: name)
        let context: TLSContext
        do {
            context = try TLSContext(settings: settings, role: .client)
        } catch {
            throw ProbeFailure(.setup, "cannot use our certificate or CA: \(error)")
        }
        let recorder = PeerChainRecorder(context: context)
        defer { withExtendedLifetime(recorder) {} }

        output("probe \(target): server name '\(name)', timeout \(format(timeout))")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let started = NIODeadline.now()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connect(host: host, port: port).get()
        } catch {
            throw ProbeFailure(
                .unreachable, "cannot connect to \(target): \(describeConnectError(error, timeout: timeout))")
        }
        let connected = NIODeadline.now()
        let connectTime = connected - started
        let peer = channel.remoteAddress.map { " (\($0.ipAddress ?? "\($0)"))" } ?? ""
        output("connected to \(target)\(peer) in \(format(connectTime))")

        // The TLS handlers go in after the connect, so that Happy Eyeballs attempts that lose never see them.
        let handshakePromise = loop.makePromise(of: ProbeTLSObserver.Handshake.self)
        let verdictPromise = loop.makePromise(of: ProbeTLSObserver.Verdict.self)
        let sessionKey = "probe \(target)"
        // Long enough for an alert to cross the network a few times, never longer than the timeout.
        let verdictWait = min(timeout, .milliseconds(500) + connectTime * 4)
        do {
            try await loop.submit {
                try channel.pipeline.syncOperations.addHandlers(
                    TLSHandler(
                        context: context, serverName: name, expectedPeerName: name, sessionKey: sessionKey,
                        handshakeTimeout: timeout),
                    ProbeTLSObserver(
                        connectedAt: connected, handshake: handshakePromise, verdict: verdictPromise,
                        verdictWait: verdictWait,
                        context: context, sessionKey: sessionKey))
            }.get()
        } catch {
            handshakePromise.fail(error)
            verdictPromise.fail(error)
            try? await channel.close()
            throw ProbeFailure(.handshakeFailed, "cannot start TLS: \(error)")
        }
        defer { channel.close(promise: nil) }

        let handshake: ProbeTLSObserver.Handshake
        do {
            handshake = try await handshakePromise.futureResult.get()
        } catch {
            printChain(recorder, output: output)
            throw failure(for: error, name: name, timeout: timeout)
        }
        let completed = handshake.completed
        let handshakeTime = handshake.completedAt - connected
        output("TLS handshake in \(format(handshakeTime)): \(completed.protocolVersion), \(completed.cipher)")
        printChain(recorder, output: output)
        if let anchor = recorder.verifiedChain.last {
            output("chain verified against --ca up to: \(anchor.subject)")
        }
        // OpenSSL checked the name during the handshake (SSL_set1_host): it succeeded, so the name matched.
        let names = completed.peerCertificate.map(certificateNames) ?? ""
        output("server name: '\(name)' matches the certificate (\(names))")

        let verdict: ProbeTLSObserver.Verdict
        do {
            verdict = try await verdictPromise.futureResult.get()
        } catch {
            throw failure(for: error, name: name, timeout: timeout)
        }
        switch verdict {
        case .sessionTicket:
            output(
                "our certificate: accepted (the server sent a session ticket, which TLS 1.3 does only after it verified us)"
            )
        case .applicationData(let bytes):
            output("our certificate: accepted (the server sent \(bytes) bytes of application data)")
        case .quiet where completed.protocolVersion == "TLSv1.3":
            output(
                "our certificate: accepted (no refusal within \(format(verdictWait)); a TLS 1.3 server refuses"
                    + " a client certificate with an alert after the handshake)")
        case .quiet:
            output(
                "our certificate: accepted (\(completed.protocolVersion): the server verified it during the handshake)")
        case .failed(let error):
            throw failure(for: error, name: name, timeout: timeout)
        case .closed, .disconnected:
            throw ProbeFailure(
                .tunnelFailed,
                "the server closed the connection right after the handshake, without a TLS alert: it accepted our "
                    + "certificate's chain but may refuse it by an allow-list (allow-cn, allow-dns, ...), or it "
                    + "cannot reach its backend socket; the server's log says which")
        }
        output("round trip: TCP connect \(format(connectTime)), TLS handshake \(format(handshakeTime))")
        output("OK: mutual TLS with \(target) works")
    }

    /// Turns a handshake or post-handshake failure into the operator's reason and exit status.
    static func failure(for error: any Error, name: String, timeout: TimeAmount) -> ProbeFailure {
        guard let error = error as? TLSError else {
            if let error = error as? ChannelError, case .eof = error {
                return ProbeFailure(.handshakeFailed, "the server closed the connection during the TLS handshake")
            }
            return ProbeFailure(.handshakeFailed, "TLS handshake failed: \(error)")
        }
        if error.code == TLSError.certificateRejected {
            return ProbeFailure(
                .serverCertificateRefused,
                "we refused the server's certificate: \(error.reason)\(serverHint(error.reason))")
        }
        if error.code == TLSError.handshakeTimeout {
            return ProbeFailure(
                .handshakeFailed,
                "no TLS handshake within \(format(timeout)): is a TLS server (sidecar reverse) listening there?")
        }
        if let refusal = clientCertificateRefusal(error.reason) {
            return ProbeFailure(.clientCertificateRefused, "the server refused our certificate: \(refusal)")
        }
        return ProbeFailure(.handshakeFailed, "TLS handshake failed: \(error.reason)")
    }

    /// What a TLS alert about our certificate means, or nil for other alerts. The alert names are OpenSSL's
    /// (`sslv3 alert certificate expired`, `tlsv1 alert unknown ca`, `tlsv13 alert certificate required`).
    static func clientCertificateRefusal(_ reason: String) -> String? {
        guard reason.contains("alert") else { return nil }
        let meanings: [(String, String)] = [
            ("certificate expired", "it says our certificate has expired (or is not yet valid); issue a new one"),
            ("unknown ca", "it does not trust the CA that issued our certificate (its ca-file must hold our CA)"),
            ("certificate required", "it requires a client certificate and we sent none"),
            ("certificate revoked", "it says our certificate is revoked (its crl-file lists it)"),
            ("access denied", "it does not allow our certificate (allow-list)"),
            ("bad certificate", "it could not verify our certificate"),
            ("certificate unknown", "it could not verify our certificate"),
            (
                "unsupported certificate",
                "it does not accept our certificate's type or usage (a client certificate needs extendedKeyUsage "
                    + "clientAuth: a node's, from 'sidecar certs leaf' without --server)"
            ),
            ("decrypt error", "our certificate's signature did not verify (key does not match?)"),
        ]
        guard let meaning = meanings.first(where: { reason.contains($0.0) }) else { return nil }
        return "\(meaning.1) (TLS alert '\(reason)')"
    }

    private static func serverHint(_ reason: String) -> String {
        if reason.hasPrefix("unknown CA") {
            return "; --ca must hold the CA that issued the server's certificate"
        }
        if reason.hasPrefix("certificate name mismatch") {
            return "; give the name the certificate carries with --server-name, or issue it with this name"
        }
        if reason.hasPrefix("certificate has expired") {
            return "; renew the server's certificate (sidecar certs leaf --server) and reload the server"
        }
        return ""
    }

    private static func printChain(_ recorder: PeerChainRecorder, output: @Sendable (String) -> Void) {
        let chain = recorder.presentedChain
        guard !chain.isEmpty else { return }
        output("server certificate chain, as sent (\(chain.count)):")
        let now = Int64(Date().timeIntervalSince1970)
        for (index, certificate) in chain.enumerated() {
            output("  [\(index)] subject:  \(certificate.subject)")
            output("      issuer:   \(certificate.issuer)")
            let names = certificateNames(certificate)
            if !names.isEmpty { output("      SANs:     \(names)") }
            if let text = certificate.notAfterText {
                var line = "      notAfter: \(text)"
                if let notAfter = certificate.notAfter {
                    let days = (notAfter - now) / 86_400
                    line += notAfter < now ? " (EXPIRED \(-days) days ago)" : " (in \(days) days)"
                }
                output(line)
            }
        }
    }

    private static func certificateNames(_ certificate: PeerCertificate) -> String {
        (certificate.dnsNames.map { "DNS:\($0)" } + certificate.ipAddresses.map { "IP:\($0)" }
            + certificate.uris.map { "URI:\($0)" }).joined(separator: ", ")
    }

    // MARK: unix:PATH

    private static func probeUnix(path: String, request: ProbeRequest, output: @Sendable (String) -> Void) async throws
    {
        let timeout = TimeAmount(request.timeout)
        output("probe unix:\(path): timeout \(format(timeout))")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let outcome = loop.makePromise(of: ProbeDBusHello.Outcome.self)
        let sendHello = request.dbusHello
        let started = NIODeadline.now()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ProbeDBusHello(outcome: outcome, sendHello: sendHello, wait: timeout))
                    }
                }
                .connect(unixDomainSocketPath: path).get()
        } catch {
            outcome.fail(error)
            throw ProbeFailure(.unreachable, "cannot connect to unix:\(path): \(describeUnixConnectError(error))")
        }
        defer { channel.close(promise: nil) }
        output("connected in \(format(NIODeadline.now() - started))")
        if sendHello {
            output(
                "sent a D-Bus hello (NUL, AUTH); waiting up to \(format(timeout)) for the D-Bus server behind the tunnel"
            )
        } else {
            output("sent nothing; watching the connection for \(format(timeout))")
        }
        let result: ProbeDBusHello.Outcome
        do {
            result = try await outcome.futureResult.get()
        } catch {
            throw ProbeFailure(.tunnelFailed, "the connection failed: \(error)")
        }
        switch result {
        case .answered(let line, let elapsed):
            output("answer after \(format(elapsed)): \(line)")
            let dbusReplies = ["REJECTED", "OK", "ERROR", "DATA", "AGREE_UNIX_FD"]
            if dbusReplies.contains(where: { line == $0 || line.hasPrefix($0 + " ") }) {
                output(
                    "OK: the tunnel works end to end: the forward sidecar reached the manager over mutual TLS and a "
                        + "D-Bus server answered behind the reverse sidecar")
            } else {
                output("OK: the tunnel works end to end (the far end answered, though not like a D-Bus server)")
            }
        case .closed(let elapsed, _):
            throw ProbeFailure(
                .tunnelFailed,
                "the tunnel closed after \(format(elapsed)) without an answer: the forward sidecar could not connect "
                    + "or authenticate to the manager, or the reverse sidecar could not reach its backend; see "
                    + "'journalctl -u sidecar' here and 'journalctl -u sidecar-reverse' on the manager")
        case .silent where sendHello:
            throw ProbeFailure(
                .tunnelFailed,
                "no answer within \(format(timeout)): the forward sidecar may still be trying to reach the manager "
                    + "(see 'journalctl -u sidecar'), or the far end is not a D-Bus server (try --no-dbus)")
        case .silent:
            output(
                "OK: the tunnel stayed open for \(format(timeout)) (without the D-Bus hello this shows that the "
                    + "forward sidecar accepted and did not give up, not that the manager answered)")
        }
    }

    // MARK: wording

    private static func describeConnectError(_ error: any Error, timeout: TimeAmount) -> String {
        if let error = error as? NIOConnectionError {
            if let failure = error.connectionErrors.first {
                return describeConnectError(failure.error, timeout: timeout)
            }
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                return "cannot resolve '\(error.host)'"
            }
            return "no address for '\(error.host)'"
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "no answer within \(format(timeout)) (a firewall dropping packets, or the host is down)"
        }
        if let error = error as? IOError {
            let text = String(cString: strerror(error.errnoCode))
            if error.errnoCode == ECONNREFUSED {
                return "\(text) (nothing listens on that port: is sidecar-reverse.socket running?)"
            }
            return text
        }
        return "\(error)"
    }

    private static func describeUnixConnectError(_ error: any Error) -> String {
        guard let error = error as? IOError else { return "\(error)" }
        let text = String(cString: strerror(error.errnoCode))
        switch error.errnoCode {
        case ENOENT:
            return "\(text) (is sidecar.socket or sidecar running?)"
        case EACCES:
            return "\(text) (the socket is mode 0660 for the sidecar user and group: run as root or a group member)"
        case ECONNREFUSED:
            return "\(text) (nothing listens on the socket: a stale file from a stopped sidecar?)"
        default:
            return text
        }
    }

    /// `0.4 ms`, `12.3 ms`, `5 s`.
    static func format(_ amount: TimeAmount) -> String {
        let milliseconds = Double(amount.nanoseconds) / 1e6
        if milliseconds >= 1000 {
            let seconds = milliseconds / 1000
            return seconds == seconds.rounded() ? "\(Int(seconds)) s" : TextFormat.oneDecimal(seconds) + " s"
        }
        return TextFormat.oneDecimal(milliseconds) + " ms"
    }
}
