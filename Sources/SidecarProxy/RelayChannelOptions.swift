import NIOCore

/// The options of every relayed channel, accepted or connected: remote half-close allowed (EOF on one side
/// closes only the other side's output), and `ReadTuning`'s reads.
///
/// Set synchronously from the channel's initializer, not given to the bootstrap: a bootstrap applies each of
/// its options through a chain of futures (a promise, a `map` and a `cascadeFailure` per option), which
/// cost about 12,000 instructions per option on a new connection (`Benchmarks/perconnection.sh`); set here
/// they cost a few hundred. The initializer runs on the channel's event loop before it is registered, where
/// the bootstrap would have applied them.
enum RelayChannelOptions {
    static func apply(to channel: any Channel) throws {
        // Every socket channel has synchronous options; only a channel of another kind (never given here) lacks them.
        guard let options = channel.syncOptions else { throw ChannelError.operationUnsupported }
        try options.setOption(.allowRemoteHalfClosure, value: true)
        try options.setOption(.maxMessagesPerRead, value: ReadTuning.maxMessagesPerRead)
        // Small first buffer for idle D-Bus connections, growing for bulk transfers (ReadTuning).
        try options.setOption(.recvAllocator, value: ReadTuning.allocator)
    }
}
