import COpenSSL

/// OpenSSL's thread-local error queue, read and emptied.
///
/// Every sequence of OpenSSL calls starts with `OpenSSLErrorQueue.clear()` and, on failure, ends with
/// `OpenSSLErrorQueue.drain()`, so a stale error from an earlier call never explains a later failure.
enum OpenSSLErrorQueue {
    /// Empties the queue if it holds an error. `ERR_clear_error` walks all 16 slots whether or not they are
    /// used (about 840 instructions in OpenSSL 3.0, twice per relayed message: 4 % of a message's cost), while
    /// the queue is nearly always empty here; `ERR_peek_error` answers that in a few dozen. It is also the test
    /// `SSL_get_error` applies, so "no error queued" means the same to both.
    static func clear() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// Empties the queue and returns its entries as OpenSSL's own strings, oldest first.
    static func drain() -> [String] {
        var entries: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            // ERR_error_string_n writes into our stack buffer; nothing to free.
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            entries.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return entries
    }

    /// The reasons of the queued errors (the part an operator can act on), e.g. `unsupported protocol`.
    static func drainReasons() -> [String] {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let reason = ERR_reason_error_string(code) {
                reasons.append(String(cString: reason))
            } else {
                reasons.append("error \(code)")
            }
        }
        return reasons
    }
}
