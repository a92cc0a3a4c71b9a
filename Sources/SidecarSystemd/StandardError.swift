#if canImport(Glibc)
    import Glibc
#endif

/// Writes to the process's standard error, for the subcommands' own messages (FoundationEssentials, which
/// sidecar links instead of Foundation, has no `FileHandle`).
public enum StandardError {
    /// Writes `text` to file descriptor 2; a failed or short write is given up, as there is nowhere to report it.
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            // The array's storage is only borrowed for the call.
            let written = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
