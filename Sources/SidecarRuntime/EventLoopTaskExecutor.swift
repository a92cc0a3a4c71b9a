import NIOCore

/// A Swift concurrency task executor that runs every job on one NIO event loop.
///
/// A task started with this executor as its preference (`Task(executorPreference:)`) runs its nonisolated
/// async code, and everything it awaits, on the event loop's thread instead of the global concurrent
/// executor. On Linux that executor is libdispatch, whose worker threads call `setpriority(2)` as they start:
/// the units' `SystemCallFilter=~@resources` kills the service for it (SIGSYS). With this executor, sidecar
/// runs on its event loop threads and its main thread only.
///
/// Jobs must not block: they share the loop with the channels on it (the daemon's own loop, at start, reload
/// and stop only).
package final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    package init(_ loop: any EventLoop) {
        self.loop = loop
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        // The runtime keeps the job alive until it has run; UnownedJob only carries it to the loop.
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
