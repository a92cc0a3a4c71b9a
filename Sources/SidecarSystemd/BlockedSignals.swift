#if canImport(Glibc)
    import Glibc
#endif

/// Signals taken out of asynchronous delivery and read one at a time with `sigwait(3)` by a thread that has
/// nothing else to do: the daemon's main thread.
///
/// Why not a `DispatchSourceSignal`: it runs its handler on a libdispatch worker thread, and a libdispatch
/// worker calls `setpriority(2)` as it starts, which the units' `SystemCallFilter=~@resources` forbids (the
/// kernel kills the service with SIGSYS). Blocking the signals and waiting for them needs no thread at all.
public struct BlockedSignals: Sendable {
    private let numbers: [Int32]

    /// Blocks `numbers` in the calling thread. Call it before any other thread exists: threads inherit the
    /// mask, so no thread has these signals delivered to it and each one waits, pending, for `next()`.
    /// Their dispositions are left as they are (not ignored: an ignored signal is discarded, not kept pending).
    public static func block(_ numbers: [Int32]) -> BlockedSignals {
        var set = Self.set(of: numbers)
        // The set is a value on this stack; pthread_sigmask copies it.
        pthread_sigmask(SIG_BLOCK, &set, nil)
        return BlockedSignals(numbers: numbers)
    }

    /// Waits until one of the blocked signals is pending, takes it and returns its number.
    public func next() -> Int32 {
        var set = Self.set(of: numbers)
        var number: Int32 = 0
        // sigwait reads the set and writes the number; both are values on this stack.
        while sigwait(&set, &number) != 0 {}
        return number
    }

    private static func set(of numbers: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in numbers { sigaddset(&set, number) }
        return set
    }
}
