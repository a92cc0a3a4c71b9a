import NIOCore

/// A handler directly above a `TLSHandler` that takes the decrypted bytes from it by a direct call
/// (`TLSHandler.passPlaintext(to:)`) instead of `channelRead` and `channelReadComplete` through the
/// pipeline.
///
/// Each event the pipeline passes on costs a context hop (reference counting, an existential call, wrapping
/// and unwrapping `NIOAny`); on a relay that moves one small message at a time those hops are a measurable
/// share of the work per message (README, Performance). The calls come in the same order, on the same event
/// loop, as `channelRead` and `channelReadComplete` would; user events, errors and inactivity still come
/// through the pipeline.
package protocol TLSPlaintextReceiver: AnyObject {
    /// Decrypted bytes, as `channelRead` would carry them.
    func tlsPlaintextRead(_ buffer: ByteBuffer)
    /// The end of a read burst, as `channelReadComplete`.
    func tlsPlaintextReadComplete()
}
