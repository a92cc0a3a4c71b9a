import COpenSSL

/// An error from the certificate tooling (`sidecar certs`), in the operator's words.
///
/// `message` names the file or value at fault, e.g. `cannot read CA key /etc/sidecar/ca.key: no such file`.
/// When OpenSSL was involved, its error queue is kept in `openSSLErrors` and appended to `description`
/// for debugging.
public struct CertificateToolError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure, for code that reacts to some of them. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case unreadableFile
            case invalidFile
            case keyMismatch
            case notACertificateAuthority
            case fileExists
            case unwritableFile
            case invalidArgument
            case openSSLFailure
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A file could not be opened or read (missing, permission denied, a directory).
        public static let unreadableFile = Code(.unreadableFile)
        /// A file was read but holds no usable PEM certificate, key or an encrypted key.
        public static let invalidFile = Code(.invalidFile)
        /// A certificate and a private key do not belong together.
        public static let keyMismatch = Code(.keyMismatch)
        /// A certificate given as a CA is not allowed to sign certificates.
        public static let notACertificateAuthority = Code(.notACertificateAuthority)
        /// An output file exists and overwriting was not asked for.
        public static let fileExists = Code(.fileExists)
        /// An output file or directory could not be created or written.
        public static let unwritableFile = Code(.unwritableFile)
        /// A name, address, URI or number given by the operator is not acceptable.
        public static let invalidArgument = Code(.invalidArgument)
        /// OpenSSL failed while generating, building or signing.
        public static let openSSLFailure = Code(.openSSLFailure)

        public var description: String {
            switch base {
            case .unreadableFile: "unreadable file"
            case .invalidFile: "invalid file"
            case .keyMismatch: "key mismatch"
            case .notACertificateAuthority: "not a certificate authority"
            case .fileExists: "file exists"
            case .unwritableFile: "unwritable file"
            case .invalidArgument: "invalid argument"
            case .openSSLFailure: "OpenSSL failure"
            }
        }
    }

    /// The kind of failure.
    public let code: Code
    /// What went wrong, naming the file or value, without OpenSSL's internal text.
    public let message: String
    /// OpenSSL's error queue at the time of the failure (oldest first); empty when OpenSSL was not involved.
    public let openSSLErrors: [String]

    /// Creates an error; `openSSLErrors` is normally `CertificateToolError.drainOpenSSLErrors()`.
    public init(_ code: Code, _ message: String, openSSLErrors: [String] = []) {
        self.code = code
        self.message = message
        self.openSSLErrors = openSSLErrors
    }

    /// The message, followed by OpenSSL's error queue in brackets when there is one.
    public var description: String {
        if openSSLErrors.isEmpty {
            return message
        }
        return "\(message) [OpenSSL: \(openSSLErrors.joined(separator: "; "))]"
    }

    /// An error whose OpenSSL text is whatever the calling thread's error queue holds; empties the queue.
    static func openSSL(_ code: Code, _ message: String) -> CertificateToolError {
        CertificateToolError(code, message, openSSLErrors: drainOpenSSLErrors())
    }

    /// Removes every entry from this thread's OpenSSL error queue and returns them as text, oldest first,
    /// e.g. `error:0480006C:PEM routines::no start line`, with OpenSSL's extra data after a colon.
    static func drainOpenSSLErrors() -> [String] {
        var entries: [String] = []
        while true {
            // `data` points into the error queue entry, owned by OpenSSL; it is copied before the next call.
            var data: UnsafePointer<CChar>? = nil
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 {
                return entries
            }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            var entry = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if flags & ERR_TXT_STRING != 0, let data, data.pointee != 0 {
                entry += " (\(String(cString: data)))"
            }
            entries.append(entry)
        }
    }
}
