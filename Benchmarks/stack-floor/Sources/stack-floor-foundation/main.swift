import FoundationEssentials
import StackFloor

// stack-floor-foundation SOCKET-PATH: stack-floor plus the one FoundationEssentials use swift-argument-parser
// makes (String.Encoding.utf8), which links the library in.
let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "/tmp/stack-floor.sock"
precondition(path.data(using: .utf8) != nil)
try restOnUnixSocket(path: path)
