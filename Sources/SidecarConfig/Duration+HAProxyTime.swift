extension Duration {
    /// Parses an HAProxy time value: an unsigned integer followed by `us`, `ms`, `s`, `m`, `h` or `d`;
    /// no unit means milliseconds (cfg §2.5). Returns nil for anything else, including overflow.
    package init?(haproxyTime text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        let microsecondsPerUnit: Int64
        switch text.dropFirst(digits.count) {
        case "us": microsecondsPerUnit = 1
        case "", "ms": microsecondsPerUnit = 1_000
        case "s": microsecondsPerUnit = 1_000_000
        case "m": microsecondsPerUnit = 60_000_000
        case "h": microsecondsPerUnit = 3_600_000_000
        case "d": microsecondsPerUnit = 86_400_000_000
        default: return nil
        }
        let (microseconds, overflow) = value.multipliedReportingOverflow(by: microsecondsPerUnit)
        guard !overflow else { return nil }
        self = .microseconds(microseconds)
    }
}
