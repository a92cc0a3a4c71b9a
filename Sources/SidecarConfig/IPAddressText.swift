/// The textual forms of IPv4 and IPv6 addresses, parsed and printed in pure Swift with the rules of glibc's
/// `inet_pton` and `inet_ntop`, so patterns, certificate SANs and peer addresses read as they always have.
///
/// Accepted:
/// - IPv4: a dotted quad of four decimal octets, 0...255, with no leading zeros (`10.0.0.1`; `010.0.0.1` is
///   refused, as it is octal to some parsers).
/// - IPv6: eight groups of one to four hex digits, either case; one `::` standing for one or more zero groups;
///   a dotted-quad tail in place of the last two groups (`::ffff:10.0.0.1`). No zone ids (`%eth0`), no
///   brackets.
///
/// Printed (`string(from:)`): IPv6 in the RFC 5952 canonical form (lower case, no leading zeros, the first
/// longest run of two or more zero groups as `::`), except that an IPv4-mapped (`::ffff:a.b.c.d`) or
/// IPv4-compatible (`::a.b.c.d`) address keeps its dotted tail, as `inet_ntop` writes it.
package enum IPAddressText {
    /// The 4 bytes of an IPv4 address or the 16 of an IPv6 address, in network order; nil when `text` is
    /// neither.
    package static func bytes(of text: some StringProtocol) -> [UInt8]? {
        ipv4Bytes(text) ?? ipv6Bytes(text)
    }

    /// The 4 bytes of a dotted quad.
    package static func ipv4Bytes(_ text: some StringProtocol) -> [UInt8]? {
        ipv4Bytes(utf8: Array(text.utf8)[...])
    }

    /// The 16 bytes of an IPv6 address.
    package static func ipv6Bytes(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        let colon = UInt8(ascii: ":")
        guard let gap = utf8.indices.dropLast().first(where: { utf8[$0] == colon && utf8[$0 + 1] == colon }) else {
            guard let bytes = groupBytes(utf8[...], allowsIPv4Tail: true), bytes.count == 16 else { return nil }
            return bytes
        }
        // A second `::`, or a single leading or trailing `:`, leaves an empty group and fails here.
        guard let head = groupBytes(utf8[..<gap], allowsIPv4Tail: false),
            let tail = groupBytes(utf8[(gap + 2)...], allowsIPv4Tail: true),
            head.count + tail.count <= 14
        else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    /// `10.0.0.1` for 4 bytes, `fd00::1` for 16; nil for any other count.
    package static func string(from bytes: some Collection<UInt8>) -> String? {
        let bytes = Array(bytes)
        switch bytes.count {
        case 4: return dottedQuad(bytes[...])
        case 16: return ipv6String(bytes)
        default: return nil
        }
    }

    private static func ipv4Bytes(utf8: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4)
        for part in parts {
            guard let octet = decimalOctet(part) else { return nil }
            bytes.append(octet)
        }
        return bytes
    }

    private static func decimalOctet(_ digits: ArraySlice<UInt8>) -> UInt8? {
        guard let first = digits.first, digits.count <= 3, first != UInt8(ascii: "0") || digits.count == 1 else {
            return nil
        }
        var value = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }

    /// The bytes of colon-separated hex groups, the last of which may be a dotted quad; empty for empty text.
    private static func groupBytes(_ utf8: ArraySlice<UInt8>, allowsIPv4Tail: Bool) -> [UInt8]? {
        if utf8.isEmpty { return [] }
        let groups = utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var bytes: [UInt8] = []
        for (index, group) in groups.enumerated() {
            if allowsIPv4Tail, index == groups.count - 1, group.contains(UInt8(ascii: ".")) {
                guard let quad = ipv4Bytes(utf8: group) else { return nil }
                bytes += quad
            } else {
                guard let value = hexGroup(group) else { return nil }
                bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
        }
        return bytes
    }

    private static func hexGroup(_ digits: ArraySlice<UInt8>) -> UInt16? {
        guard (1...4).contains(digits.count) else { return nil }
        var value: UInt16 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(nibble)
        }
        return value
    }

    private static func dottedQuad(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { String($0) }.joined(separator: ".")
    }

    private static func ipv6String(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        let gap = longestZeroRun(groups)
        if let gap, gap.lowerBound == 0, gap.count == 6 || (gap.count == 5 && groups[5] == 0xFFFF) {
            return (gap.count == 6 ? "::" : "::ffff:") + dottedQuad(bytes[12...])
        }
        var text = ""
        for (index, group) in groups.enumerated() {
            if let gap, gap.contains(index) {
                if index == gap.lowerBound { text += ":" }
                continue
            }
            if index > 0 { text += ":" }
            text += String(group, radix: 16)
        }
        if let gap, gap.upperBound == 8 { text += ":" }
        return text
    }

    /// The first longest run of two or more zero groups: the one `::` stands for.
    private static func longestZeroRun(_ groups: [UInt16]) -> Range<Int>? {
        var best: Range<Int>?
        var start: Int?
        for index in 0...groups.count {
            if index < groups.count, groups[index] == 0 {
                if start == nil { start = index }
            } else if let runStart = start {
                if index - runStart >= 2, index - runStart > best?.count ?? 0 { best = runStart..<index }
                start = nil
            }
        }
        return best
    }
}
