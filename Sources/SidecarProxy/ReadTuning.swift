import NIOCore

/// How much a relay channel reads per event-loop wake-up: at most `maxMessagesPerRead` reads of at most
/// `maximumBuffer` bytes, so 1 MiB.
///
/// Why not more: a wake-up's reads are all decrypted (or encrypted) and queued for the other side before the
/// relay's backpressure can stop reading, so this bounds the memory in flight per connection. With 16 reads
/// of up to 1 MiB, a reverse sidecar streaming 1 GB held up to 16 MiB at a time; past glibc's trim
/// threshold (`MallocTuning`) the heap was given back and page-faulted in again on every burst, which
/// some runs turned into a fifth more CPU per GB. 4 × 256 KiB streamed as fast (`Benchmarks/run.sh`, 1 and
/// 4 connections), and a small first buffer keeps idle connections cheap.
enum ReadTuning {
    static let maxMessagesPerRead: UInt = 4
    static let maximumBuffer = 256 * 1024

    static var allocator: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: maximumBuffer)
    }
}
