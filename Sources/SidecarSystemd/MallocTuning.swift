#if canImport(Glibc)
    import Glibc
#endif

/// glibc's allocator settings for a relay that moves large buffers.
///
/// By default glibc gives heap memory back to the kernel as soon as 128 KiB lie free at the top of the heap,
/// and serves large requests with fresh `mmap`s. A relay allocates and frees up to 256 KiB receive buffers and
/// 64 KiB plaintext buffers at every read burst, so each burst page-faulted fresh memory in and trimmed it
/// out again: measured on the reverse side during a 1 GB stream, page faults and page clearing were a fifth
/// of the profile (`perf record -e cpu-clock`), and these two settings halved its CPU per GB (139 → 65
/// ticks) for a few MiB more resident memory. An operator's own `MALLOC_TRIM_THRESHOLD_` or
/// `MALLOC_MMAP_THRESHOLD_` environment setting wins. (It sits with the other thin OS wrappers so that no
/// other module calls C.)
public enum MallocTuning {
    /// `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` from glibc's <malloc.h>, which Swift's Glibc module does not
    /// export.
    private static let trimThreshold: Int32 = -1
    private static let mmapThreshold: Int32 = -3

    public static func apply(environment: [String: String]) {
        #if os(Linux)
            if environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = glibcMallopt(mmapThreshold, 4 << 20) }
            if environment["MALLOC_TRIM_THRESHOLD_"] == nil { _ = glibcMallopt(trimThreshold, 16 << 20) }
        #endif
    }
}

#if os(Linux)
    /// glibc's `int mallopt(int param, int value)`: plain integers in and out, nothing to own.
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
