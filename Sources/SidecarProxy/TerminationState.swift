/// HAProxy's two-character session termination state (cfg §8.5), TCP subset.
///
/// First character, what ended it: `-` normally, `C` the client aborted, `S` the server aborted or refused,
/// `P` the proxy refused (identity rules), `K` an administrator closed it (`shutdown sessions`), `c`
/// client-side timeout, `s` server-side timeout (also a connect timeout). Second, where it was: `-` normal
/// end, `R` waiting for the client (TLS handshake, rules), `C` connecting the server, `D` relaying data, `L`
/// relaying the last data after one side finished.
struct TerminationState: CustomStringConvertible, Equatable {
    var cause: Character
    var phase: Character

    static let normal = TerminationState(cause: "-", phase: "-")

    var description: String { "\(cause)\(phase)" }

    /// The same in words, for the readable line.
    var explanation: String {
        switch (cause, phase) {
        case ("-", _): return "closed"
        case ("C", "C"): return "client closed while connecting the server"
        case ("C", _): return "client aborted"
        case ("S", "C"): return "no server available or every attempt failed"
        case ("S", _): return "server aborted"
        case ("s", "C"): return "server connect timeout"
        case ("c", _): return "client timeout"
        case ("s", _): return "server timeout"
        case ("P", _): return "refused by the proxy"
        case ("K", _): return "closed by an administrator (shutdown sessions)"
        default: return description
        }
    }
}
