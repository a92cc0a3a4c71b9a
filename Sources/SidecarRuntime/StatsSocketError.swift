/// Why a stats socket could not be served (with its configuration line) or queried (`sidecar status`).
struct StatsSocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
