import NIOCore

/// The ciphertext between NIO and one OpenSSL `SSL`: received bytes OpenSSL has not taken yet, and records it
/// produced that are not written to the socket yet.
///
/// A struct held in one stored property of `TLSConnection`, so that each BIO callback and each question the
/// handler asks costs one access to that property: Swift checks every access to a class's stored `var` for
/// exclusivity at run time (about 90 instructions each, with the checks on as shipped), and the separate
/// properties this replaces took some 19 such checks per relayed message and side. No method here calls
/// OpenSSL, so no access can overlap the callbacks OpenSSL makes from inside `SSL_read` and `SSL_write`.
struct CiphertextBuffers {
    /// Received ciphertext not yet taken by OpenSSL.
    /// Usually one buffer; a second arrives while a record that began in the first is incomplete. Queued
    /// rather than appended, so a large read that follows a partial record is never copied.
    private var inbound = CircularBuffer<ByteBuffer>(initialCapacity: 2)
    /// The peer closed TCP: the BIO reports end of file instead of "retry".
    private(set) var inboundEOF = false
    /// Ciphertext OpenSSL produced, not yet written to the socket.
    private var outbound: ByteBuffer?

    /// What the BIO read callback answers when nothing is queued.
    enum ReadResult {
        case bytes(Int)
        case endOfFile
        case retry
    }

    mutating func append(_ buffer: ByteBuffer) {
        inbound.append(buffer)
    }

    mutating func markEndOfFile() { inboundEOF = true }

    /// Whether there is received ciphertext or an end of file for OpenSSL to see.
    var hasInput: Bool { !inbound.isEmpty || inboundEOF }

    /// Received ciphertext not yet taken by OpenSSL, in bytes.
    var queuedBytes: Int { inbound.reduce(0) { $0 + $1.readableBytes } }

    /// Copies up to `count` queued bytes to `destination` (OpenSSL's record buffer): one copy from NIO's buffer;
    /// a record split across two buffers is read in two calls.
    mutating func read(into destination: UnsafeMutableRawPointer, count: Int) -> ReadResult {
        guard let index = inbound.indices.first else { return inboundEOF ? .endOfFile : .retry }
        let taken = inbound[index].readWithUnsafeReadableBytes { bytes in
            let taken = min(count, bytes.count)
            destination.copyMemory(from: bytes.baseAddress!, byteCount: taken)
            return taken
        }
        // Let go of a drained buffer at once: an idle connection must not keep its last read alive.
        if inbound[index].readableBytes == 0 { inbound.removeFirst() }
        return .bytes(taken)
    }

    /// Makes room for `capacity` bytes of records before a write, unless records are already waiting.
    mutating func reserveOutbound(_ capacity: Int, allocator: ByteBufferAllocator) {
        if outbound == nil { outbound = allocator.buffer(capacity: capacity) }
    }

    /// Appends a record (or part of one) OpenSSL wrote to its BIO.
    mutating func appendOutbound(_ bytes: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) {
        if outbound == nil {
            // Sized for what OpenSSL writes first (one record, or the handshake flight); a burst of records
            // grows it geometrically.
            outbound = allocator.buffer(capacity: max(bytes.count, 512))
        }
        outbound!.writeBytes(bytes)
    }

    var hasOutbound: Bool { (outbound?.readableBytes ?? 0) > 0 }

    /// Takes the records produced so far, to be written to the socket; nil when there are none.
    mutating func takeOutbound() -> ByteBuffer? {
        guard let records = outbound, records.readableBytes > 0 else { return nil }
        outbound = nil
        return records
    }
}
