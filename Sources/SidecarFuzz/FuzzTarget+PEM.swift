import SidecarConfig
import SidecarTLS

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension FuzzTarget {
    /// The bytes as a PEM file, read every way sidecar reads one: a peer certificate (`sidecar certs`, expiry
    /// checks), a `crt` chain with a good key, a `key` for a good certificate, a `ca-file`, a `crl-file`, and a
    /// CA certificate and key pair (`sidecar certs leaf`). Each either loads or is refused with an error.
    static func runPEM(_ bytes: [UInt8]) {
        let pki = FuzzFixtures.pki
        let file = FuzzFixtures.directory.appendingPathComponent("input.pem")
        guard FileManager.default.createFile(atPath: file.path, contents: Data(bytes)) else {
            fatalError("fuzz: cannot write \(file.path)")
        }
        _ = try? PeerCertificate(pemFile: file)
        let good = FuzzFixtures.serverSettings
        var chain = good
        chain.certificateFiles = [file.path]
        var key = good
        key.keyFile = file.path
        var trust = good
        trust.caFile = file.path
        var revocations = good
        revocations.crlFile = file.path
        for settings in [chain, key, trust, revocations] {
            _ = try? TLSContext(settings: settings, role: .server)
        }
        let client = TLSSettings(caFile: file.path, verify: .required)
        _ = try? TLSContext(settings: client, role: .client)
        _ = try? CertificateAuthority(certificateFile: file, keyFile: pki.caKey)
        _ = try? CertificateAuthority(certificateFile: pki.caCertificate, keyFile: file)
    }
}
