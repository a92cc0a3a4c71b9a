import SidecarConfig
import SidecarTLS

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension ProxyPlan {
    /// Every configured certificate (own `crt` and `ca-file`) with its notAfter, for expiry metrics.
    public var certificateExpiries: [CertificateExpiry] { CertificateExpiry.scan(configuration) }

    /// Expiry findings to report after building this plan (at start, at each reload, and in `sidecar check`):
    /// an error for each certificate already expired, a warning for each expiring within
    /// `cert-expiry-warning` days (30 by default). An expired certificate does not stop the plan: the
    /// operator may be replacing it, and peers refuse it anyway.
    public func certificateFindings(now: Date = Date()) -> [ConfigDiagnostic] {
        CertificateExpiry.findings(for: configuration, now: now)
    }
}
