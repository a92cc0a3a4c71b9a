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

    /// The file-system identity of a socket file sidecar bound: device and inode, as `lstat` saw them right
    /// after `bind`. Later changes to owner and mode go only to the file with this identity, so a symbolic
    /// link or another file put in its place is never touched.
    public struct Identity: Sendable, Hashable {
        public var device: UInt64
        public var inode: UInt64
    }

    /// Owner and mode to give a socket file; nil leaves that part as it is. Names are resolved to ids when
    /// this is made (`resolve`), so applying it cannot fail for an unknown name.
    public struct Permissions: Sendable, Hashable {
        public var uid: UInt32?
        public var gid: UInt32?
        public var mode: UInt32?

        public init(uid: UInt32? = nil, gid: UInt32? = nil, mode: UInt32? = nil) {
            self.uid = uid
            self.gid = gid
            self.mode = mode
        }
    }

    /// Resolves user and group names to ids.
    /// - Parameter shown: the socket path to name in errors.
    /// - Throws: for a user or group this system does not know.
    public static func resolve(
        user: String?, uid: UInt32?, group: String?, gid: UInt32?, mode: UInt32?, shown: String
    ) throws(Failure) -> Permissions {
        var permissions = Permissions(uid: uid, gid: gid, mode: mode)
        if let user {
            // getpwnam returns static storage we only read, at once.
            guard let entry = getpwnam(user) else { throw Failure("socket \(shown): unknown user '\(user)'") }
            permissions.uid = entry.pointee.pw_uid
        }
        if let group {
            guard let entry = getgrnam(group) else { throw Failure("socket \(shown): unknown group '\(group)'") }
            permissions.gid = entry.pointee.gr_gid
        }
        return permissions
    }

    /// The identity of the socket file at `path`, without following a symbolic link.
    /// - Throws: when nothing is there or it is not a socket.
    public static func identity(ofSocketAt path: String, shown: String) throws(Failure) -> Identity {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw Failure("socket \(shown): \(errorText())") }
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw Failure("socket \(shown): the path is no longer a socket (\(kind(status.st_mode)))")
        }
        return Identity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// Gives the socket file at `path` the owner and mode of `permissions`, only if it is still the file
    /// `identity` names.
    ///
    /// No step follows a symbolic link or trusts the path twice: the path is opened with
    /// `O_PATH | O_NOFOLLOW` (a symbolic link there opens the link itself), the descriptor is checked to be a
    /// socket with the expected device and inode, and owner and mode are changed through that descriptor
    /// (`fchownat(AT_EMPTY_PATH)`, and `chmod` of `/proc/self/fd/N`, which names exactly that inode: Linux
    /// has no `fchmod` for an `O_PATH` descriptor). Whatever was swapped in at the path is left untouched.
    ///
    /// - Returns: the owner and mode the file had before, to restore if a later step of a reload fails.
    /// - Throws: when the path is no longer our socket, or the change is not permitted.
    @discardableResult
    public static func apply(
        _ permissions: Permissions, to path: String, expecting identity: Identity, shown: String
    ) throws(Failure) -> Permissions {
        if permissions == Permissions() { return permissions }
        let descriptor = open(path, Self.openPath | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure("socket \(shown): \(errorText())") }
        // The O_PATH descriptor is ours and closed on every path out.
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Failure("socket \(shown): \(errorText())") }
        guard (status.st_mode & S_IFMT) == S_IFSOCK,
            UInt64(status.st_dev) == identity.device, UInt64(status.st_ino) == identity.inode
        else {
            throw Failure(
                "socket \(shown) was replaced by another file (\(kind(status.st_mode))); not changing its owner "
                    + "or mode; restart sidecar to recreate the socket")
        }
        let previous = Permissions(uid: status.st_uid, gid: status.st_gid, mode: status.st_mode & 0o7777)
        let owner = permissions.uid.map { uid_t($0) } ?? uid_t.max
        let group = permissions.gid.map { gid_t($0) } ?? gid_t.max
        if owner != uid_t.max || group != gid_t.max, fchownat(descriptor, "", owner, group, Self.emptyPath) != 0 {
            throw Failure("cannot set owner of socket \(shown): \(errorText())")
        }
        if let mode = permissions.mode, chmod("/proc/self/fd/\(descriptor)", mode_t(mode)) != 0 {
            throw Failure("cannot set mode of socket \(shown): \(errorText())")
        }
        return previous
    }

    /// Sets owner (by name or id) and mode of the socket file just bound at `path`; nil leaves that part as
    /// it is. The file is identified once (`lstat`) and changed through a descriptor (see `apply`).
    /// - Parameter shown: the path to name in errors (the final path, when `path` is a temporary one).
    /// - Returns: the socket file's identity, for later changes.
    @discardableResult
    public static func setOwnerAndMode(
        _ path: String, user: String?, uid: UInt32?, group: String?, gid: UInt32?, mode: UInt32?, shown: String
    ) throws(Failure) -> Identity {
        let identity = try identity(ofSocketAt: path, shown: shown)
        let permissions = try resolve(user: user, uid: uid, group: group, gid: gid, mode: mode, shown: shown)
        try apply(permissions, to: path, expecting: identity, shown: shown)
        return identity
    }

    /// Linux's `O_PATH` and `AT_EMPTY_PATH` (<fcntl.h>), which the Glibc module leaves out (they need
    /// `_GNU_SOURCE`).
    private static let openPath: Int32 = 0o10_000_000
    private static let emptyPath: Int32 = 0x1000

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFLNK: return "a symbolic link"
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFSOCK: return "another socket"
        default: return "another kind of file"
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
