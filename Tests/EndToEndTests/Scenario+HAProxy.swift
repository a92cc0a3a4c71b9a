import Foundation

/// HAProxy 2.6 as one end of the tunnel, with the configurations of BlueChi's guide
/// (`HAProxyCompatibilityTests.managerConfig`, `agentConfig`): the other end of a sidecar that runs with
/// `option dbus`, as in a mixed deployment.
extension Scenario {
    /// HAProxy's `crt` takes one PEM with the certificate, its chain and the key.
    func combinedPEM(pki: PKI, _ name: String) throws -> String {
        let combined = path("\(name)-combined.pem")
        let text =
            try String(contentsOfFile: pki.certificate(name), encoding: .utf8)
            + String(contentsOfFile: pki.key(name), encoding: .utf8)
        try text.write(toFile: combined, atomically: true, encoding: .utf8)
        return combined
    }

    private static let haproxyDefaults =
        "global\n    nbthread 1\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n"
        + "    timeout server 30s\n"

    /// Starts HAProxy as the reverse side (controller node) on a free loopback port in front of `backend`, with
    /// the `manager` certificate; returns the port once it accepts connections.
    func startHAProxyReverse(pki: PKI, backend: String) async throws -> UInt16 {
        let haproxy = try Harness.tool("haproxy", package: "haproxy")
        let port = try Harness.freePort()
        let configuration = path("haproxy-reverse.cfg")
        try
            (Self.haproxyDefaults
            + HAProxyCompatibilityTests.managerConfig(
                port: port, certificate: try combinedPEM(pki: pki, "manager"), ca: pki.ca, backend: backend
            )
            .replacingOccurrences(of: "bind *:", with: "bind 127.0.0.1:"))
            .write(toFile: configuration, atomically: true, encoding: .utf8)
        let process = try start("haproxy-reverse", haproxy, ["-db", "-f", configuration])
        try await Harness.waitUntil("haproxy listens on \(port)", details: process.transcript) {
            guard process.isRunning else { throw HarnessError("haproxy exited\n\(process.transcript)") }
            return (try? TCPProbe.canConnect(port: port)) == true
        }
        return port
    }

    /// Starts HAProxy as the forward side (agent node) on a Unix socket, connecting to `127.0.0.1:port` with
    /// the `node1` certificate; returns the socket's path once it exists.
    func startHAProxyForward(pki: PKI, port: UInt16, certificate: String = "node1") async throws -> String {
        let haproxy = try Harness.tool("haproxy", package: "haproxy")
        let socketPath = path("haproxy-agent.sock")
        let configuration = path("haproxy-forward.cfg")
        try
            (Self.haproxyDefaults
            + HAProxyCompatibilityTests.agentConfig(
                socket: socketPath, port: port, certificate: try combinedPEM(pki: pki, certificate), ca: pki.ca))
            .write(toFile: configuration, atomically: true, encoding: .utf8)
        let process = try start("haproxy-forward", haproxy, ["-db", "-f", configuration])
        try await Harness.waitUntil("haproxy listens on \(socketPath)", details: process.transcript) {
            guard process.isRunning else { throw HarnessError("haproxy exited\n\(process.transcript)") }
            return Scenario.isSocket(socketPath)
        }
        return socketPath
    }
}
