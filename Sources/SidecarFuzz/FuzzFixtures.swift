import Logging
import NIOCore
import NIOPosix
import SidecarConfig
import SidecarProxy
import SidecarRuntime
import SidecarTLS

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the targets share, made once per process on first use: a throwaway PKI in a temporary directory, the
/// reverse side's TLS server context, and a running proxy with its runtime API. A fixture that cannot be made
/// stops the process: no target can run meaningfully without it.
enum FuzzFixtures {
    /// Discards everything: the targets' refusals are expected and would only slow the fuzzer down.
    static let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

    /// A fresh directory for this process's files.
    static let directory: URL = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sidecar-fuzz-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            fatalError("fuzz fixtures: cannot create \(directory.path): \(error)")
        }
        return directory
    }()

    static let pki: TestPKI = {
        do {
            return try TestPKI.make(in: directory.appendingPathComponent("pki"))
        } catch {
            fatalError("fuzz fixtures: cannot make the test PKI: \(error)")
        }
    }()

    /// The reverse side's listener settings: server certificate, client certificates required from the CA.
    static var serverSettings: TLSSettings {
        TLSSettings(
            certificateFiles: [pki.serverCertificate.path], keyFile: pki.serverKey.path,
            caFile: pki.caCertificate.path, verify: .required)
    }

    static let serverContext: TLSContext = {
        do {
            return try TLSContext(settings: serverSettings, role: .server)
        } catch {
            fatalError("fuzz fixtures: cannot make the server TLS context: \(error)")
        }
    }()

    /// The client certificate (CN=client) a `dbus-register-name cn` filter checks names against.
    static let clientCertificate: PeerCertificate = {
        do {
            return try PeerCertificate(pemFile: pki.clientCertificate)
        } catch {
            fatalError("fuzz fixtures: cannot read the client certificate: \(error)")
        }
    }()

    /// A proxy with a Unix frontend, a TLS frontend and a backend of two servers (nothing listens behind them),
    /// and the runtime API that controls it.
    static let runtimeAPI: RuntimeAPI = {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Any free port will do; nothing connects to it.
        let port = Int.random(in: 20000...60000)
        let text = """
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            frontend fe
                bind unix@\(directory.path)/fe.sock
                default_backend be
            frontend tls
                bind 127.0.0.1:\(port) ssl crt \(pki.serverCertificate.path) \
            verify required ca-file \(pki.caCertificate.path)
                default_backend be
            backend be
                server s1 \(directory.path)/s1.sock
                server s2 \(directory.path)/s2.sock weight 3

            """
        do {
            let configuration = try ConfigLoader(environment: [:]).load(text: text, file: "fuzz-fixture.cfg")
            let plan = try ProxyPlan(configuration: configuration)
            let proxy = try group.next().makeFutureWithTask {
                try await Proxy.start(plan: plan, group: group, logger: logger)
            }.wait()
            return RuntimeAPI(proxy: proxy)
        } catch {
            fatalError("fuzz fixtures: cannot start the proxy: \(error)")
        }
    }()
}
