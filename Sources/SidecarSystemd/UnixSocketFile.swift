#if canImport(Glibc)
    import Glibc
#endif

/// The file-system side of a Unix listening socket that sidecar creates itself (sockets that systemd passes
/// are never touched): whether a path may be bound, ownership and mode, and the atomic rename into place.
///
/// Lives here with the other thin wrappers of the operating system, so that the proxy code stays free of
/// C calls and unsafe pointers.
public enum UnixSocketFile {
    /// Why a socket file could not be prepared, in the operator's words (without the path's configuration
    /// line, which the caller adds).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Checks that `path` can be bound: nothing is there, or a socket nobody listens on (a stale one).
    /// - Throws: when the directory is missing, the path is not a socket, or a process listens on it.
    public static func checkReplaceable(_ path: String) throws(Failure) {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
                .joined(separator: "/")
            if !directory.isEmpty, access(directory, F_OK) != 0 {
                throw Failure("cannot listen on \(path): directory \(directory) does not exist")
            }
            return
        }
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw Failure("cannot listen on \(path): the path exists and is not a socket; not replacing it")
        }
        if isListening(path) {
            throw Failure("cannot listen on \(path): another process is listening on it")
        }
    }

    /// Whether a process accepts connections on the Unix socket at `path`.
    public static func isListening(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        // The descriptor is ours and closed on every path out.
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        // sun_path is a fixed array inside `address`; the copy stays within it (length checked above).
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// Sets owner (by name or id) and mode of the socket file at `path`; nil leaves that part as it is.
    /// - Parameter shown: the path to name in errors (the final path, when `path` is a temporary one).
    public static func setOwnerAndMode(
        _ path: String, user: String?, uid: UInt32?, group: String?, gid: UInt32?, mode: UInt32?, shown: String
    ) throws(Failure) {
        var owner = uid.map { uid_t($0) } ?? uid_t.max
        var ownerGroup = gid.map { gid_t($0) } ?? gid_t.max
        if let user {
            // getpwnam returns static storage we only read.
            guard let entry = getpwnam(user) else { throw Failure("socket \(shown): unknown user '\(user)'") }
            owner = entry.pointee.pw_uid
        }
        if let group {
            guard let entry = getgrnam(group) else { throw Failure("socket \(shown): unknown group '\(group)'") }
            ownerGroup = entry.pointee.gr_gid
        }
        if owner != uid_t.max || ownerGroup != gid_t.max, chown(path, owner, ownerGroup) != 0 {
            throw Failure("cannot set owner of socket \(shown): \(errorText())")
        }
        if let mode, chmod(path, mode_t(mode)) != 0 {
            throw Failure("cannot set mode of socket \(shown): \(errorText())")
        }
    }

    /// Renames `temporary` over `path` in one step, replacing a stale socket atomically.
    public static func install(_ temporary: String, at path: String) throws(Failure) {
        guard rename(temporary, path) == 0 else { throw Failure("cannot create socket \(path): \(errorText())") }
    }

    /// Removes the file at `path`, if any.
    public static func remove(_ path: String) {
        unlink(path)
    }

    /// The name of the temporary socket bound before it is renamed into place: `<path>.<pid>.tmp`.
    public static func temporaryPath(for path: String) -> String {
        "\(path).\(getpid()).tmp"
    }

    /// The text of an errno value, as strerror gives it.
    public static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}
