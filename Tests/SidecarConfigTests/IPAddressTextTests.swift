import Testing

@testable import SidecarConfig

/// `IPAddressText`, the pure-Swift stand-in for `inet_pton`/`inet_ntop`, and the `IPPattern` built on it.
@Suite struct IPAddressTextTests {
    @Test(
        arguments: [
            ("0.0.0.0", [0, 0, 0, 0]),
            ("10.0.0.1", [10, 0, 0, 1]),
            ("255.255.255.255", [255, 255, 255, 255]),
            ("192.168.100.7", [192, 168, 100, 7]),
        ] as [(String, [UInt8])])
    func validIPv4(_ text: String, _ bytes: [UInt8]) {
        #expect(IPAddressText.ipv4Bytes(text) == bytes)
        #expect(IPAddressText.bytes(of: text) == bytes)
        #expect(IPAddressText.string(from: bytes) == text)
    }

    @Test(arguments: [
        "", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.1000", "01.2.3.4", "1.2.3.00", "1..3.4", ".1.2.3",
        "1.2.3.4.", "1.2.3.-4", "1.2.3.+4", "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/8", "１.2.3.4",
    ])
    func invalidIPv4(_ text: String) {
        #expect(IPAddressText.ipv4Bytes(text) == nil)
    }

    @Test(
        arguments: [
            ("::", Array(repeating: 0, count: 16)),
            ("::1", Array(repeating: 0, count: 15) + [1]),
            ("1::", [0, 1] + Array(repeating: 0, count: 14)),
            ("fd00::1:2", [0xFD, 0] + Array(repeating: 0, count: 10) + [0, 1, 0, 2]),
            ("2001:db8:0:0:1:0:0:1", [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]),
            ("2001:DB8::0001", [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 10) + [0, 1]),
            ("1:2:3:4:5:6:7::", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]),
            ("::2:3:4:5:6:7:8", [0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]),
            ("::ffff:10.0.0.1", Array(repeating: 0, count: 10) + [0xFF, 0xFF, 10, 0, 0, 1]),
            ("::10.0.0.1", Array(repeating: 0, count: 12) + [10, 0, 0, 1]),
            ("1:2:3:4:5:6:1.2.3.4", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]),
        ] as [(String, [UInt8])])
    func validIPv6(_ text: String, _ bytes: [UInt8]) {
        #expect(IPAddressText.ipv6Bytes(text) == bytes)
        #expect(IPAddressText.bytes(of: text) == bytes)
    }

    @Test(arguments: [
        "", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
        "1::2::3", ":1::", "1::2:", ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:", "12345::", "g::", "::1.2.3",
        "::01.2.3.4", "::1.2.3.4:5", "1.2.3.4::", "1:2:3:4:5:6:7:1.2.3.4", "1.2.3.4", "fe80::1%eth0", "[::1]",
        "::ffff:256.0.0.1", " ::1",
    ])
    func invalidIPv6(_ text: String) {
        #expect(IPAddressText.ipv6Bytes(text) == nil)
    }

    /// RFC 5952: lower case, no leading zeros, the first longest run of two or more zero groups as `::`,
    /// a single zero group spelled `0`; mapped and compatible IPv4 keep a dotted tail, as `inet_ntop` does.
    @Test(arguments: [
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("2001:DB8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("fd00:0:0:0:0:0:0:0", "fd00::"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("::ffff:0:0", "::ffff:0.0.0.0"),
        ("::10.0.0.1", "::10.0.0.1"),
        ("::fffe:a00:1", "::fffe:a00:1"),
    ])
    func canonicalIPv6(_ text: String, _ canonical: String) throws {
        let bytes = try #require(IPAddressText.ipv6Bytes(text))
        #expect(IPAddressText.string(from: bytes) == canonical)
    }

    @Test func otherByteCountsHaveNoText() {
        #expect(IPAddressText.string(from: [1, 2, 3]) == nil)
        #expect(IPPattern.bytes(of: "10.0.0.1").map { IPAddressText.string(from: $0.dropLast()) } == .some(nil))
    }

    @Test func cidrPrefixes() throws {
        #expect(try #require(IPPattern("10.0.0.0/8")).prefixLength == 8)
        #expect(try #require(IPPattern("10.0.0.0/0")).prefixLength == 0)
        #expect(try #require(IPPattern("10.0.0.7")).prefixLength == 32)
        #expect(try #require(IPPattern("::/128")).prefixLength == 128)
        #expect(try #require(IPPattern("10.0.0.0/255.255.0.0")).prefixLength == 16)
        #expect(try #require(IPPattern("FD00::/8")).description == "fd00::/8")
        for text in ["10.0.0.0/33", "10.0.0.0/-1", "::/129", "10.0.0.0/", "10.0.0.0/255.0.255.0", "::/255.0.0.0"] {
            #expect(IPPattern(text) == nil, "\(text)")
        }
    }

    @Test func ipv4PatternsMatchMappedPeers() throws {
        let block = try #require(IPPattern("10.0.0.0/8"))
        #expect(block.contains(try #require(IPAddressText.bytes(of: "::ffff:10.1.2.3"))))
        #expect(!block.contains(try #require(IPAddressText.bytes(of: "::ffff:11.1.2.3"))))
        #expect(!block.contains(try #require(IPAddressText.bytes(of: "::10.1.2.3"))))
    }
}
