import StackFloor

// stack-floor SOCKET-PATH
try restOnUnixSocket(path: CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "/tmp/stack-floor.sock")
