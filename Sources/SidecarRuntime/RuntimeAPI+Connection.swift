import NIOCore
import SidecarConfig

extension RuntimeAPI {
    /// The handler one stats socket connection runs (line splitting, `prompt`, `quit`, output bounds), for a
    /// channel that is not a stats socket's: the fuzz target and its regression replay feed it raw bytes on an
    /// `EmbeddedChannel`, exactly as `StatsSocketServer` feeds it a socket's.
    package func connectionHandler(level: StatsSocket.Level) -> any ChannelHandler {
        RuntimeAPIHandler(api: self, level: level)
    }
}
