import COpenSSL
import SidecarConfig

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// When one configured certificate expires: an own certificate (`crt`, with its chain) or a trusted CA
/// (`ca-file`). Kept per file and subject for the expiry warnings and for metrics.
public struct CertificateExpiry: Sendable, Hashable {
    /// Which configured file this certificate is in, and what the file is for.
    public enum Role: String, Sendable, Hashable {
        /// A `crt` file (the leaf and any chain certificates in it).
        case certificate
        /// A `ca-file` bundle.
        case certificateAuthority = "CA"
    }

    public var file: String
    public var role: Role
    /// The subject in OpenSSL's one-line form.
    public var subject: String
    /// The end of validity (notAfter).
    public var notAfter: Date
    /// The `bind` or `server` line that names the file (the first one, when several do).
    public var location: SourceLocation

    public init(file: String, role: Role, subject: String, notAfter: Date, location: SourceLocation) {
        self.file = file
        self.role = role
        self.subject = subject
        self.notAfter = notAfter
        self.location = location
    }

    /// Reads every certificate of every `crt` and `ca-file` a configuration names, each file once.
    ///
    /// Files that cannot be read are skipped: building the TLS contexts reports them as errors.
    public static func scan(_ configuration: Configuration) -> [CertificateExpiry] {
        var seen: Set<String> = []
        var result: [CertificateExpiry] = []
        func add(_ settings: TLSSettings?, at location: SourceLocation) {
            guard let settings else { return }
            let files =
                settings.certificateFiles.map { ($0, Role.certificate) }
                + (settings.caFile.map { [($0, Role.certificateAuthority)] } ?? [])
            for (file, role) in files where !file.hasPrefix("@") && seen.insert(file).inserted {
                result += read(file, role: role, location: location)
            }
        }
        for frontend in configuration.frontends {
            for bind in frontend.binds { add(bind.tls, at: bind.location) }
        }
        for backend in configuration.backends {
            for server in backend.servers { add(server.tls, at: server.location) }
        }
        return result
    }

    /// The certificates in one PEM file (a `crt` directory is skipped here; `TLSContext` resolves it).
    static func read(_ file: String, role: Role, location: SourceLocation) -> [CertificateExpiry] {
        guard let pem = FileManager.default.contents(atPath: file).map(Array.init),
            let certificates = try? CertificatePEMFile.certificates(
                fromPEM: pem, file: URL(fileURLWithPath: file), role: role.rawValue)
        else { return [] }
        // The X509s are ours (certificates(fromPEM:) hands them over); freed after copying the fields.
        defer { certificates.forEach { X509_free($0) } }
        return certificates.compactMap { certificate in
            guard let time = X509_get0_notAfter(certificate), let seconds = PeerCertificate.epochSeconds(time) else {
                return nil
            }
            return CertificateExpiry(
                file: file, role: role, subject: PeerCertificate.distinguishedName(X509_get_subject_name(certificate)),
                notAfter: Date(timeIntervalSince1970: TimeInterval(seconds)), location: location)
        }
    }

    /// An error for an expired certificate, a warning for one expiring within `warningDays`, else nil.
    public func finding(now: Date = Date(), warningDays: Int) -> ConfigDiagnostic? {
        let what = role == .certificate ? "certificate" : "CA certificate"
        let date = Self.format(notAfter)
        if notAfter <= now {
            return ConfigDiagnostic(.error, "\(what) '\(subject)' in \(file) expired on \(date)", at: location)
        }
        let remaining = notAfter.timeIntervalSince(now)
        guard remaining <= TimeInterval(warningDays) * 86_400 else { return nil }
        let days = Int(remaining / 86_400)
        return ConfigDiagnostic(
            .warning,
            "\(what) '\(subject)' in \(file) expires on \(date) (in \(days) day\(days == 1 ? "" : "s"); "
                + "cert-expiry-warning is \(warningDays))",
            at: location)
    }

    /// The expiry findings for `configuration`, using its `cert-expiry-warning`.
    public static func findings(for configuration: Configuration, now: Date = Date()) -> [ConfigDiagnostic] {
        scan(configuration).compactMap { $0.finding(now: now, warningDays: configuration.global.certExpiryWarningDays) }
    }

    private static func format(_ date: Date) -> String {
        date.ISO8601Format()
    }
}
