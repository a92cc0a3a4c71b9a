/// An IP address or CIDR block, as `src` patterns and `allow-ip` take them: `10.0.0.7`, `10.0.0.0/8`,
/// `fd00::/8`, `::1`.
///
/// An IPv4 pattern also matches the IPv4-mapped IPv6 form (`::ffff:10.0.0.7`), as a dual-stack listener
/// reports IPv4 peers that way.
public struct IPPattern: Sendable, Hashable, CustomStringConvertible {
    /// The network address: 4 or 16 bytes.
    public var address: [UInt8]
    /// How many leading bits must match: 0...32 or 0...128.
    public var prefixLength: Int

    /// Parses `ADDRESS` or `ADDRESS/BITS`; nil when it is neither. An IPv4 mask (`/255.255.0.0`), which
    /// HAProxy also takes, is accepted when contiguous.
    public init?(_ text: String) {
        var addressText = Substring(text)
        var bitsText: Substring?
        if let slash = text.firstIndex(of: "/") {
            addressText = text[..<slash]
            bitsText = text[text.index(after: slash)...]
        }
        guard let address = Self.bytes(of: String(addressText)) else { return nil }
        let maximum = address.count * 8
        var bits = maximum
        if let bitsText {
            if let value = Int(bitsText), (0...maximum).contains(value) {
                bits = value
            } else if address.count == 4, let mask = Self.bytes(of: String(bitsText)), mask.count == 4,
                let length = Self.contiguousMaskLength(mask)
            {
                bits = length
            } else {
                return nil
            }
        }
        self.address = address
        self.prefixLength = bits
    }

    /// The 4 or 16 bytes of a textual IPv4 or IPv6 address.
    public static func bytes(of text: String) -> [UInt8]? {
        IPAddressText.bytes(of: text)
    }

    /// Whether `candidate` (4 or 16 bytes) is inside this block.
    public func contains<Bytes: Collection>(_ candidate: Bytes) -> Bool where Bytes.Element == UInt8 {
        if candidate.count == address.count { return Self.prefixMatches(address, candidate, bits: prefixLength) }
        if address.count == 4, candidate.count == 16, candidate.prefix(12).elementsEqual(Self.mappedPrefix) {
            return Self.prefixMatches(address, candidate.dropFirst(12), bits: prefixLength)
        }
        return false
    }

    private static let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]

    private static func prefixMatches<Bytes: Collection>(_ network: [UInt8], _ candidate: Bytes, bits: Int) -> Bool
    where Bytes.Element == UInt8 {
        var remaining = bits
        for (mine, theirs) in zip(network, candidate) {
            guard remaining > 0 else { return true }
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if mine & mask != theirs & mask { return false }
            remaining -= 8
        }
        return true
    }

    private static func contiguousMaskLength(_ mask: [UInt8]) -> Int? {
        let value = mask.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let length = (~value).leadingZeroBitCount
        return value == UInt32.max << UInt32(32 - length) ? length : nil
    }

    public var description: String {
        let text = IPAddressText.string(from: address) ?? "?"
        return prefixLength == address.count * 8 ? text : "\(text)/\(prefixLength)"
    }
}
