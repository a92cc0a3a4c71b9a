import Foundation

/// The running stand-in for BlueChi's controller: `bluechi-controller.py` on a Unix socket, recording every
/// connection and every incoming message in a file, in order.
struct BlueChiController {
    let process: ChildProcess
    let socketPath: String
    let recordPath: String

    /// The record's lines: `connection unix-fd=...`, `call PATH INTERFACE MEMBER SIGNATURE BODY`, `closed`.
    var record: [String] {
        let text = (try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// Every `call` line: what reached the controller.
    var calls: [String] { record.filter { $0.hasPrefix("call ") } }

    /// The names of the Register calls that reached the controller, in order.
    var registeredNames: [String] {
        calls.compactMap { line in
            line.firstMatch(of: #/ Register s \('([^']*)',\)$/#).map { String($0.output.1) }
        }
    }

    /// The `connection unix-fd=` lines: one per authenticated connection.
    var connections: [String] { record.filter { $0.hasPrefix("connection ") } }
}
