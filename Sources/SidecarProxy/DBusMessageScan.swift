import NIOCore
import SidecarConfig

/// Reads one D-Bus message's framing where it starts in a `ByteBuffer`, without copying: the fixed header,
/// the header-field array (every field, so a `UNIX_FDS` field or a malformed one is seen), the padding and the
/// body length; and, for a call that matches the register method, the body's single string.
///
/// A message (D-Bus specification, "Message Format"): 12 bytes `endianness type flags version body-length
/// serial`, then the header-field array (`u32` byte length, then 8-aligned `(byte code, variant value)`
/// structs), padding to a multiple of 8, then the body. Alignment is relative to the message's first byte
/// (the specification's marshalling assumes the whole message in one buffer), so offsets below count from it.
/// Only fixed-size basic types are accepted as values of unknown header fields; no implementation sends any.
struct DBusMessageScan {
    /// What can be decided about the message at hand.
    enum Step: Equatable {
        /// Nothing can be decided before this many bytes of the message, from its start, are at hand.
        case need(Int)
        /// Forward the message: `length` bytes in all, possibly more than are at hand (the rest passes as it
        /// arrives, unread).
        case forward(length: Int)
        /// A call to the register method, whole (`length` bytes at hand): its argument, to be checked.
        case registerCall(length: Int, argument: RegisterArgument)
        /// The stream breaks the protocol or a limit; the reason, in the operator's words.
        case violation(String)
    }

    /// The argument of a register call.
    enum RegisterArgument: Equatable {
        /// Signature `s`: the name claimed.
        case name(String)
        /// Another signature (`""` when the call has none).
        case wrongSignature(String)
        /// Signature `s`, but the body is not one well-formed string.
        case malformedBody(String)
    }

    /// `dbus-max-message-size`.
    let maxMessageSize: Int
    /// The call to check: the UTF-8 of its path, interface and member; nil when nothing is checked.
    let registerMethod: (path: [UInt8], interface: [UInt8], member: [UInt8])?

    init(maxMessageSize: Int, registerMethod: DBusMethod?) {
        self.maxMessageSize = maxMessageSize
        self.registerMethod = registerMethod.map {
            (Array($0.path.utf8), Array($0.interface.utf8), Array($0.member.utf8))
        }
    }

    /// Where a header field's string value lies in the buffer.
    private struct Span {
        var index: Int
        var length: Int
    }

    /// Examines the message starting at `start`, of which `available` bytes are in `buffer`.
    func examine(_ buffer: ByteBuffer, at start: Int, available: Int) -> Step {
        guard available >= 16 else { return .need(16) }
        let endianness: Endianness
        switch buffer.getInteger(at: start, as: UInt8.self)! {
        case UInt8(ascii: "l"): endianness = .little
        case UInt8(ascii: "B"): endianness = .big
        case let byte: return .violation("invalid byte-order mark \(Self.hex(byte)) (a message starts with 'l' or 'B')")
        }
        let type = buffer.getInteger(at: start + 1, as: UInt8.self)!
        if type == 0 { return .violation("message type 0 (invalid)") }
        let version = buffer.getInteger(at: start + 3, as: UInt8.self)!
        if version != 1 { return .violation("protocol version \(version) (only 1 exists)") }
        let bodyLength = Int(buffer.getInteger(at: start + 4, endianness: endianness, as: UInt32.self)!)
        if buffer.getInteger(at: start + 8, endianness: endianness, as: UInt32.self)! == 0 {
            return .violation("message serial 0 (invalid)")
        }
        let fieldsLength = Int(buffer.getInteger(at: start + 12, endianness: endianness, as: UInt32.self)!)
        if fieldsLength > DBusSettings.headerFieldsLimit {
            return .violation(
                "header field array of \(fieldsLength) bytes (limit \(DBusSettings.headerFieldsLimit))")
        }
        let fieldsEnd = 16 + fieldsLength
        let bodyStart = Self.align(fieldsEnd, 8)
        let total = bodyStart + bodyLength
        if total > maxMessageSize {
            return .violation("message of \(total) bytes (dbus-max-message-size is \(maxMessageSize))")
        }
        guard available >= bodyStart else { return .need(bodyStart) }

        var path: Span?
        var interface: Span?
        var member: Span?
        var signature: Span?
        var offset = 16
        while offset < fieldsEnd {
            offset = Self.align(offset, 8)
            guard offset + 3 <= fieldsEnd else { return .violation("header field array ends inside a field") }
            let code = buffer.getInteger(at: start + offset, as: UInt8.self)!
            let signatureLength = buffer.getInteger(at: start + offset + 1, as: UInt8.self)!
            guard signatureLength == 1, offset + 4 <= fieldsEnd,
                buffer.getInteger(at: start + offset + 3, as: UInt8.self)! == 0
            else {
                return .violation("header field \(code) has a value that is not of a basic type")
            }
            let typeCode = buffer.getInteger(at: start + offset + 2, as: UInt8.self)!
            let expected: UInt8?
            switch code {
            case 0: return .violation("header field code 0 (invalid)")
            case 1: expected = UInt8(ascii: "o")
            case 2, 3, 4, 6, 7: expected = UInt8(ascii: "s")
            case 5: expected = UInt8(ascii: "u")
            case 8: expected = UInt8(ascii: "g")
            case 9:
                return .violation(
                    "message declares Unix file descriptors (UNIX_FDS header field); they cannot cross the tunnel")
            default: expected = nil
            }
            if let expected, typeCode != expected {
                return .violation(
                    "header field \(code) has type '\(Self.character(typeCode))' instead of '\(Self.character(expected))'"
                )
            }
            offset += 4
            switch typeCode {
            case UInt8(ascii: "s"), UInt8(ascii: "o"):
                offset = Self.align(offset, 4)
                guard offset + 4 <= fieldsEnd else { return .violation("header field \(code) runs past the array") }
                let length = Int(buffer.getInteger(at: start + offset, endianness: endianness, as: UInt32.self)!)
                guard offset + 4 + length + 1 <= fieldsEnd else {
                    return .violation("header field \(code) runs past the array")
                }
                guard buffer.getInteger(at: start + offset + 4 + length, as: UInt8.self)! == 0 else {
                    return .violation("header field \(code) is a string without its terminating NUL")
                }
                let span = Span(index: start + offset + 4, length: length)
                switch code {
                case 1: path = span
                case 2: interface = span
                case 3: member = span
                default: break
                }
                offset += 4 + length + 1
            case UInt8(ascii: "g"):
                guard offset + 1 <= fieldsEnd else { return .violation("header field \(code) runs past the array") }
                let length = Int(buffer.getInteger(at: start + offset, as: UInt8.self)!)
                guard offset + 1 + length + 1 <= fieldsEnd,
                    buffer.getInteger(at: start + offset + 1 + length, as: UInt8.self)! == 0
                else {
                    return .violation("header field \(code) is a malformed signature")
                }
                if code == 8 { signature = Span(index: start + offset + 1, length: length) }
                offset += 1 + length + 1
            default:
                // An unknown field (which receivers must ignore) of a fixed-size basic type.
                guard let size = Self.fixedSize(typeCode) else {
                    return .violation("header field \(code) has unknown type '\(Self.character(typeCode))'")
                }
                offset = Self.align(offset, size) + size
                guard offset <= fieldsEnd else { return .violation("header field \(code) runs past the array") }
            }
        }

        guard type == 1, let registerMethod, let path, let member,
            Self.equal(buffer, path, registerMethod.path), Self.equal(buffer, member, registerMethod.member),
            // A call without INTERFACE is dispatched to a member of that name in any interface of the object
            // (sd-bus, libdbus), so it is the register call all the same.
            interface.map({ Self.equal(buffer, $0, registerMethod.interface) }) ?? true
        else {
            return .forward(length: total)
        }
        guard available >= total else { return .need(total) }
        return .registerCall(
            length: total,
            argument: Self.registerArgument(
                buffer, signature: signature, body: start + bodyStart, bodyLength: bodyLength, endianness: endianness))
    }

    /// The single string of a register call's body.
    private static func registerArgument(
        _ buffer: ByteBuffer, signature: Span?, body: Int, bodyLength: Int, endianness: Endianness
    ) -> RegisterArgument {
        let signatureText = signature.map { buffer.getString(at: $0.index, length: $0.length) ?? "?" } ?? ""
        guard signatureText == "s" else { return .wrongSignature(signatureText) }
        guard bodyLength >= 5 else { return .malformedBody("body of \(bodyLength) bytes is too short for a string") }
        let length = Int(buffer.getInteger(at: body, endianness: endianness, as: UInt32.self)!)
        guard length + 5 == bodyLength else {
            return .malformedBody("string of \(length) bytes in a body of \(bodyLength)")
        }
        guard buffer.getInteger(at: body + 4 + length, as: UInt8.self)! == 0,
            let bytes = buffer.getBytes(at: body + 4, length: length), !bytes.contains(0),
            let name = String(validating: bytes, as: UTF8.self)
        else {
            return .malformedBody("the string is not NUL-terminated UTF-8")
        }
        return .name(name)
    }

    private static func equal(_ buffer: ByteBuffer, _ span: Span, _ expected: [UInt8]) -> Bool {
        guard span.length == expected.count, let view = buffer.viewBytes(at: span.index, length: span.length) else {
            return false
        }
        return view.elementsEqual(expected)
    }

    /// Size (= alignment) of the fixed-size basic types.
    private static func fixedSize(_ typeCode: UInt8) -> Int? {
        switch typeCode {
        case UInt8(ascii: "y"): return 1
        case UInt8(ascii: "n"), UInt8(ascii: "q"): return 2
        case UInt8(ascii: "b"), UInt8(ascii: "i"), UInt8(ascii: "u"), UInt8(ascii: "h"): return 4
        case UInt8(ascii: "x"), UInt8(ascii: "t"), UInt8(ascii: "d"): return 8
        default: return nil
        }
    }

    static func align(_ offset: Int, _ boundary: Int) -> Int {
        (offset + boundary - 1) & ~(boundary - 1)
    }

    static func hex(_ byte: UInt8) -> String {
        "0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }

    private static func character(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? String(UnicodeScalar(byte)) : hex(byte)
    }
}
