import CFloorOpenSSL
import NIOCore
import NIOPosix

/// Listens on `path` with one event loop and an OpenSSL client context, and rests until SIGINT or SIGTERM.
public func restOnUnixSocket(path: String) throws {
    guard let context = SSL_CTX_new(TLS_client_method()) else { fatalError("SSL_CTX_new failed") }
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let channel = try ServerBootstrap(group: group)
        .childChannelInitializer { channel in channel.close() }
        .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
        .wait()
    try channel.closeFuture.wait()
    SSL_CTX_free(context)
}
