#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The validity window of a certificate to be made: `notBefore ... notAfter`.
///
/// The command line only gives a number of days; tests give explicit dates to make expired and
/// not-yet-valid certificates.
package struct CertificateValidity: Sendable, Hashable {
    /// How far `notBefore` is set in the past, so that a peer whose clock is slightly behind accepts
    /// a certificate made a moment ago.
    package static let clockSkewAllowance: TimeInterval = 5 * 60

    /// The first moment the certificate is valid.
    package var notBefore: Date
    /// The last moment the certificate is valid.
    package var notAfter: Date

    /// A window from `notBefore` to `notAfter`, as given; a window that ends before it starts is refused
    /// when the certificate is made.
    package init(notBefore: Date, notAfter: Date) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// Valid from a few minutes before `now` (see `clockSkewAllowance`) until `days` days after `now`.
    package static func days(_ days: Int, from now: Date = Date()) -> CertificateValidity {
        CertificateValidity(
            notBefore: now.addingTimeInterval(-clockSkewAllowance),
            notAfter: now.addingTimeInterval(TimeInterval(days) * 86_400)
        )
    }

    /// Checks a number of days given by the operator (`--days`).
    static func validateDays(_ days: Int) throws {
        // 100 years keeps notAfter far from the year 9999, the end of X.509 GeneralizedTime.
        guard (1...36_500).contains(days) else {
            throw CertificateToolError(.invalidArgument, "--days must be between 1 and 36500, not \(days)")
        }
    }

    func validate() throws {
        guard notAfter > notBefore else {
            throw CertificateToolError(
                .invalidArgument,
                "validity ends (\(notAfter)) before it starts (\(notBefore))"
            )
        }
    }
}
