import Foundation
import NIOCore
import SidecarConfig
import SidecarProxy
import SidecarTestSupport
import Testing

@testable import SidecarRuntime

/// The `option dbus` counters in `/metrics` and `show stat`, through real sockets: a client speaks D-Bus to
/// frontend `fe`, whose server is an echo server (so the "server's" replies are the client's own lines, which
/// no D-Bus server sends).
@Suite struct DBusMetricsTests {
    @Test func refusalsAreCountedInMetricsAndShowStat() async throws {
        try await MetricsFixture.with(dbus: DBusSettings()) { fixture in
            var samples = try await fixture.metrics()
            #expect(samples["sidecar_dbus_protocol_errors_total{frontend=\"fe\"}"] == 0)
            #expect(samples["sidecar_dbus_protocol_errors_total{frontend=\"tls\"}"] == nil, "tls has no option dbus")

            // NEGOTIATE_UNIX_FD is answered by sidecar; the echoed NUL then breaks the server's SASL stream.
            let client = try await fixture.client()
            try await client.send(ByteBuffer(string: "\0AUTH EXTERNAL\r\nNEGOTIATE_UNIX_FD\r\n"))
            try await waitFor("the connection closed by the filter") { client.ended }
            // A client whose first byte is not NUL.
            let other = try await fixture.client()
            try await other.send(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
            try await waitFor("the second connection closed") { other.ended }
            #expect(other.received.readableBytes == 0)

            try await waitFor("both refusals counted") {
                samples = try await fixture.metrics()
                return samples["sidecar_dbus_protocol_errors_total{frontend=\"fe\"}"] == 2
            }
            #expect(samples["sidecar_dbus_unix_fd_negotiations_refused_total{frontend=\"fe\"}"] == 1)
            #expect(samples["sidecar_dbus_registrations_accepted_total{frontend=\"fe\"}"] == 0)
            #expect(samples["sidecar_dbus_registrations_refused_total{frontend=\"fe\"}"] == 0)

            let table = StatTable(proxy: fixture.proxy)
            let fe = try #require(table.rows.first { $0["pxname"] == "fe" && $0["svname"] == "FRONTEND" })
            #expect(fe["dbus_err"] == "2")
            #expect(fe["dbus_fd_ref"] == "1")
            #expect(fe["dbus_reg_ref"] == "0")
            let tls = try #require(table.rows.first { $0["pxname"] == "tls" && $0["svname"] == "FRONTEND" })
            #expect(tls["dbus_reg_ref"] == nil)
            #expect(table.csv.hasPrefix("# pxname,"))
            #expect(table.csv.contains(",algo,dbus_reg_acc,dbus_reg_ref,dbus_err,dbus_fd_ref,\n"))
        }
    }
}
