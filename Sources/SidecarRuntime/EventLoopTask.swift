import NIOCore
import NIOPosix

/// Runs async work from a synchronous entry point without the global concurrent executor.
///
/// sidecar's `main` is synchronous (`ParsableCommand`, not `AsyncParsableCommand`): an async `main` runs
/// the command on Swift's global executor, which on Linux is libdispatch, and its first worker thread calls
/// `setpriority(2)`, which the units' `SystemCallFilter=~@resources` answers with SIGSYS. The subcommands that
/// need async code (`status`, `probe`) run it here instead, on one of NIO's singleton event loops.
public enum EventLoopTask {
    /// Runs `body` as a task whose preferred executor is `loop` and blocks the calling thread until it ends.
    /// - Throws: what `body` throws.
    public static func wait<Value: Sendable>(
        on loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
        _ body: @escaping @Sendable () async throws -> Value
    ) throws -> Value {
        let promise = loop.makePromise(of: Value.self)
        Task(executorPreference: EventLoopTaskExecutor(loop)) {
            do {
                promise.succeed(try await body())
            } catch {
                promise.fail(error)
            }
        }
        return try promise.futureResult.wait()
    }
}
