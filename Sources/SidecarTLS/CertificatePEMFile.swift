import COpenSSL

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading and writing the PEM files of the certificate tooling, with errors that name the file and say
/// what the operator can do about it.
enum CertificatePEMFile {
    /// Larger files are refused: certificates, keys and CRLs of a sidecar PKI are a few KiB.
    static let maximumSize = 10 * 1024 * 1024

    // MARK: Reading

    /// The bytes of `file`; `role` names it in errors ("CA key" gives "cannot read CA key /x/ca.key: ...").
    static func contents(of file: URL, role: String) throws -> [UInt8] {
        let path = file.path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CertificateToolError(.unreadableFile, "cannot read \(role) \(path): \(reason(errno))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CertificateToolError(.unreadableFile, "cannot read \(role) \(path): \(reason(errno))")
            }
            if count == 0 {
                return bytes
            }
            bytes += chunk[..<count]
            if bytes.count > maximumSize {
                throw CertificateToolError(.invalidFile, "\(role) \(path) is larger than 10 MiB; is it the right file?")
            }
        }
    }

    /// Every certificate in `pem`, in file order. The caller owns each `X509` and frees it with `X509_free`.
    static func certificates(fromPEM pem: [UInt8], file: URL, role: String) throws -> [OpaquePointer] {
        ERR_clear_error()
        var certificates: [OpaquePointer] = []
        var handedOver = false
        defer {
            if !handedOver {
                for certificate in certificates { X509_free(certificate) }
            }
        }
        try withMemoryBIO(pem) { bio in
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(certificate)
            }
        }
        guard !certificates.isEmpty else {
            throw CertificateToolError.openSSL(.invalidFile, "\(role) \(file.path) holds no PEM certificate")
        }
        // The read that ended the loop left "no start line" in the queue; reaching the end is not an error.
        ERR_clear_error()
        handedOver = true
        return certificates
    }

    /// The private key in `pem`. The caller owns the `EVP_PKEY` and frees it with `EVP_PKEY_free`.
    static func privateKey(fromPEM pem: [UInt8], file: URL, role: String) throws -> OpaquePointer {
        let text = String(decoding: pem, as: UTF8.self)
        if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED") {
            throw CertificateToolError(
                .invalidFile,
                "\(role) \(file.path) is encrypted; sidecar needs an unencrypted key (openssl pkey -in FILE -out NEW)"
            )
        }
        ERR_clear_error()
        let key = try withMemoryBIO(pem) { bio in
            // A callback that refuses to give a passphrase: without one OpenSSL would prompt on the terminal.
            PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in -1 }, nil)
        }
        guard let key else {
            throw CertificateToolError.openSSL(.invalidFile, "\(role) \(file.path) holds no PEM private key")
        }
        return key
    }

    /// Runs `body` with a read-only memory BIO over `bytes`. The BIO borrows `bytes` without copying, so it
    /// lives only inside `withUnsafeBytes`; `BIO_free` releases the BIO itself, never the borrowed bytes.
    private static func withMemoryBIO<Result>(
        _ bytes: [UInt8],
        _ body: (OpaquePointer) throws -> Result
    ) throws -> Result {
        try bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else {
                throw CertificateToolError.openSSL(.openSSLFailure, "cannot allocate an OpenSSL memory buffer")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }

    // MARK: Encoding

    /// `certificates` as consecutive PEM blocks. The certificates stay owned by the caller.
    static func pem(certificates: [OpaquePointer]) throws -> [UInt8] {
        try certificates.flatMap { certificate in
            try pem("a certificate") { PEM_write_bio_X509($0, certificate) }
        }
    }

    /// `key` as an unencrypted PKCS#8 PEM block (`BEGIN PRIVATE KEY`). The key stays owned by the caller.
    static func pem(privateKey key: OpaquePointer) throws -> [UInt8] {
        // PEM_write_bio_PrivateKey writes PKCS#8 in OpenSSL 3; no cipher means no encryption.
        try pem("a private key") { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    /// `revocationList` (an `X509_CRL`) as a PEM block. The CRL stays owned by the caller.
    static func pem(revocationList: OpaquePointer) throws -> [UInt8] {
        try pem("a CRL") { PEM_write_bio_X509_CRL($0, revocationList) }
    }

    /// Runs `write` on a fresh memory BIO and returns what it wrote. The BIO and its buffer are ours and
    /// are released by `BIO_free` after the bytes have been copied out.
    private static func pem(_ what: String, _ write: (OpaquePointer) -> Int32) throws -> [UInt8] {
        ERR_clear_error()
        guard let bio = BIO_new(BIO_s_mem()) else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot allocate an OpenSSL memory buffer")
        }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot encode \(what) as PEM")
        }
        let pending = Int(BIO_ctrl_pending(bio))
        var bytes = [UInt8](repeating: 0, count: pending)
        let count = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
        guard count == pending else {
            throw CertificateToolError.openSSL(.openSSLFailure, "cannot encode \(what) as PEM")
        }
        return bytes
    }

    // MARK: Writing

    /// Creates `directory` and its missing parents (mode 0755 before the umask).
    static func createDirectory(_ directory: URL) throws {
        let path = directory.path
        #if canImport(FoundationEssentials)
            var isDirectory = false
        #else
            var isDirectory: ObjCBool = false
        #endif
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw CertificateToolError(.unwritableFile, "cannot write into \(path): it is not a directory")
            }
            return
        }
        let parent = directory.deletingLastPathComponent()
        if parent.path != path {
            try createDirectory(parent)
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw CertificateToolError(.unwritableFile, "cannot create directory \(path): \(reason(errno))")
        }
    }

    /// Refuses, before anything is generated, when one of `files` exists and `force` is false.
    static func checkOverwrite(_ files: [URL], force: Bool) throws {
        guard !force else { return }
        for file in files {
            var status = stat()
            // lstat: a dangling symbolic link also counts as existing, as it would for O_EXCL.
            if lstat(file.path, &status) == 0 {
                throw existsError(file)
            }
        }
    }

    /// Writes `bytes` to `file` with exactly `mode` (the umask does not apply). Without `force` an existing
    /// file is never replaced; with `force` the file is replaced atomically (write a sibling, then rename).
    static func store(_ bytes: [UInt8], to file: URL, mode: mode_t, force: Bool) throws {
        guard force else {
            try writeNewFile(bytes, path: file.path, mode: mode, reportedPath: file.path)
            return
        }
        let sibling = file.deletingLastPathComponent()
            .appendingPathComponent(".\(file.lastPathComponent).\(UInt32.random(in: .min ... .max)).tmp")
        try writeNewFile(bytes, path: sibling.path, mode: mode, reportedPath: file.path)
        if rename(sibling.path, file.path) != 0 {
            let error = errno
            unlink(sibling.path)
            throw CertificateToolError(.unwritableFile, "cannot write \(file.path): \(reason(error))")
        }
    }

    /// Writes a private key (mode 0600) and then its certificate file (mode 0644). If the certificate cannot
    /// be written, a key this call created is removed again, so no half pair is left behind.
    static func writePair(
        certificatePEM: [UInt8],
        keyPEM: [UInt8],
        certificateFile: URL,
        keyFile: URL,
        force: Bool
    ) throws {
        try store(keyPEM, to: keyFile, mode: 0o600, force: force)
        do {
            try store(certificatePEM, to: certificateFile, mode: 0o644, force: force)
        } catch {
            if !force { unlink(keyFile.path) }
            throw error
        }
    }

    private static func writeNewFile(_ bytes: [UInt8], path: String, mode: mode_t, reportedPath: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            if errno == EEXIST {
                throw existsError(URL(fileURLWithPath: reportedPath))
            }
            throw CertificateToolError(.unwritableFile, "cannot write \(reportedPath): \(reason(errno))")
        }
        var written = 0
        var failure: Int32? = nil
        // open() applied the umask; fchmod sets the mode the file must have (0600 for keys, 0644 otherwise).
        if fchmod(descriptor, mode) != 0 {
            failure = errno
        }
        while failure == nil && written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno != EINTR { failure = errno }
            } else {
                written += count
            }
        }
        if close(descriptor) != 0 && failure == nil {
            failure = errno
        }
        if let failure {
            unlink(path)
            throw CertificateToolError(.unwritableFile, "cannot write \(reportedPath): \(reason(failure))")
        }
    }

    private static func existsError(_ file: URL) -> CertificateToolError {
        CertificateToolError(.fileExists, "'\(file.path)' exists; use --force to overwrite")
    }

    /// An `errno` in the operator's words.
    static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: "no such file"
        case EACCES, EPERM: "permission denied"
        case EISDIR: "is a directory"
        case ENOTDIR: "a parent is not a directory"
        case ENOSPC: "no space left on device"
        case EROFS: "read-only file system"
        default: String(cString: strerror(code))
        }
    }
}

#if canImport(FoundationEssentials)
    extension Bool {
        /// FoundationEssentials' `fileExists(atPath:isDirectory:)` reports a `Bool` where Foundation has `ObjCBool`.
        fileprivate var boolValue: Bool { self }
    }
#endif
