/// A set of Unicode scalars for `-m reg`: a bracket expression (`[a-z_]`, `[^[:digit:]]`), `\d`, `\w`, `\s` and
/// their negations. Every class is resolved to scalar ranges when the expression is parsed, so a test is a search
/// in a short sorted list.
///
/// Classes are ASCII, as in PCRE2 without UCP and in glibc's "C" locale, the two engines HAProxy uses: `\d` and
/// `[:digit:]` are `0-9`, `\w` is `[A-Za-z0-9_]`, `\s` and `[:space:]` are space, tab, newline, vertical tab,
/// form feed and carriage return.
package struct ACLRegexCharacterSet: Sendable, Hashable {
    /// Sorted, non-overlapping, non-adjacent ranges of scalar values.
    package private(set) var ranges: [ClosedRange<UInt32>]
    /// `[^...]`: the set is every scalar *not* in `ranges`. Kept apart from the ranges (rather than complemented)
    /// so that case-insensitive matching tests the positive set, as POSIX and PCRE do: `[^a]` with `-i` refuses
    /// `A`.
    package private(set) var negated: Bool

    package init(ranges: [ClosedRange<UInt32>] = [], negated: Bool = false) {
        self.ranges = Self.normalised(ranges)
        self.negated = negated
    }

    /// Whether `scalar` is in the set. With `ignoreCase`, the scalar, its lower-case and its upper-case forms are
    /// tried against the positive set before any negation, so `[A-Z]` takes `q` and `[^a-z]` refuses `Q`.
    package func contains(_ scalar: Unicode.Scalar, ignoreCase: Bool) -> Bool {
        var found = positiveContains(scalar.value)
        if !found && ignoreCase {
            let lower = ACLRegexCharacterSet.lowercase(scalar)
            let upper = ACLRegexCharacterSet.uppercase(scalar)
            found = positiveContains(lower.value) || positiveContains(upper.value)
        }
        return found != negated
    }

    private func positiveContains(_ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < value {
                low = middle + 1
            } else if ranges[middle].lowerBound > value {
                high = middle
            } else {
                return true
            }
        }
        return false
    }

    /// Adds the scalars of `other` (a class such as `\D` inside a bracket expression: its negation is applied
    /// here, by complementing its ranges).
    package mutating func formUnion(_ other: ACLRegexCharacterSet) {
        ranges = Self.normalised(ranges + other.effectiveRanges)
    }

    /// The ranges of the scalars the set contains, with any negation applied.
    private var effectiveRanges: [ClosedRange<UInt32>] {
        guard negated else { return ranges }
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = range.upperBound + 1
        }
        if next <= 0x10_FFFF { result.append(next...0x10_FFFF) }
        return result
    }

    private static func normalised(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, range.lowerBound <= last.upperBound &+ 1 {
                result[result.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }

    /// The simple lower-case mapping of a scalar: the first scalar of its full mapping, which is the simple mapping
    /// for every scalar (the only multi-scalar lower-case mapping, U+0130 `İ` → `i̇`, has `i` as its simple one).
    package static func lowercase(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if scalar.isASCII {
            return (0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(UInt8(scalar.value + 0x20)) : scalar
        }
        return scalar.properties.lowercaseMapping.unicodeScalars.first ?? scalar
    }

    /// The simple upper-case mapping, approximated by the full mapping when that is one scalar (`ß`, whose full
    /// mapping is `SS`, stays `ß`, as its simple mapping does).
    static func uppercase(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if scalar.isASCII {
            return (0x61...0x7A).contains(scalar.value) ? Unicode.Scalar(UInt8(scalar.value - 0x20)) : scalar
        }
        let mapping = scalar.properties.uppercaseMapping.unicodeScalars
        return mapping.count == 1 ? mapping.first! : scalar
    }
}

extension ACLRegexCharacterSet {
    /// `\d`, `[:digit:]`.
    static let digit = ACLRegexCharacterSet(ranges: [0x30...0x39])
    /// `\w`, `[:word:]`: letters, digits and `_`.
    static let word = ACLRegexCharacterSet(ranges: [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    /// `\s`, `[:space:]`: `\t \n \v \f \r` and space.
    static let space = ACLRegexCharacterSet(ranges: [0x09...0x0D, 0x20...0x20])

    /// The POSIX classes a bracket expression may name, `[:alpha:]` and the like, in the "C" locale.
    static let posixClasses: [String: ACLRegexCharacterSet] = [
        "alpha": ACLRegexCharacterSet(ranges: [0x41...0x5A, 0x61...0x7A]),
        "digit": digit,
        "alnum": ACLRegexCharacterSet(ranges: [0x30...0x39, 0x41...0x5A, 0x61...0x7A]),
        "upper": ACLRegexCharacterSet(ranges: [0x41...0x5A]),
        "lower": ACLRegexCharacterSet(ranges: [0x61...0x7A]),
        "space": space,
        "blank": ACLRegexCharacterSet(ranges: [0x09...0x09, 0x20...0x20]),
        "punct": ACLRegexCharacterSet(ranges: [0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E]),
        "xdigit": ACLRegexCharacterSet(ranges: [0x30...0x39, 0x41...0x46, 0x61...0x66]),
        "cntrl": ACLRegexCharacterSet(ranges: [0x00...0x1F, 0x7F...0x7F]),
        "graph": ACLRegexCharacterSet(ranges: [0x21...0x7E]),
        "print": ACLRegexCharacterSet(ranges: [0x20...0x7E]),
        "word": word,
    ]

    /// The same set, negated (`\D` from `\d`).
    func inverted() -> ACLRegexCharacterSet {
        ACLRegexCharacterSet(ranges: ranges, negated: !negated)
    }

    /// Whether `scalar` counts as a word character for `\b` and `\B`.
    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        word.contains(scalar, ignoreCase: false)
    }
}
