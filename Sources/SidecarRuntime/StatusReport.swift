#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What `sidecar status` shows: frontends, backends with their servers, and certificates, read from the
/// runtime API's `show stat` and `show ssl cert` answers.
///
/// Built from text so that it works against any sidecar (or HAProxy) stats socket; columns are found by
/// name in the CSV header, so added columns do not break it. `problems` lists what makes the exit status
/// non-zero: a backend with no server up, an expired certificate.
public struct StatusReport: Codable, Sendable, Equatable {
    /// A `FRONTEND` row: sessions now and in total, bytes from (`bytesIn`) and to (`bytesOut`) clients.
    public struct Frontend: Codable, Sendable, Equatable {
        public var name: String
        public var status: String
        public var sessions: Int
        public var sessionsTotal: Int
        public var bytesIn: Int
        public var bytesOut: Int
    }

    /// A server row: `status` as HAProxy writes it (`UP`, `DOWN`, `no check`, `NOLB`, `DRAIN`, `MAINT`).
    public struct Server: Codable, Sendable, Equatable {
        public var name: String
        public var status: String
        /// HAProxy's short check result (`L4OK`, `L6RSP`, ...); empty without `check`.
        public var check: String
        public var checkDetail: String
        public var weight: Int
        public var backup: Bool
        public var sessions: Int
        public var sessionsTotal: Int
        public var bytesIn: Int
        public var bytesOut: Int
        public var connectErrors: Int
    }

    /// A `BACKEND` row (`UP` while any server can take a connection) with its servers.
    public struct Backend: Codable, Sendable, Equatable {
        public var name: String
        public var status: String
        public var sessions: Int
        public var bytesIn: Int
        public var bytesOut: Int
        public var servers: [Server]
    }

    /// A `crt` file in use; `daysLeft` is negative once it has expired.
    public struct Certificate: Codable, Sendable, Equatable {
        public var file: String
        public var subject: String
        public var notAfter: String
        public var daysLeft: Int?
    }

    public var frontends: [Frontend] = []
    public var backends: [Backend] = []
    public var certificates: [Certificate] = []
    /// False when the socket would not list certificates (level `user`): their expiry was not checked.
    public var certificatesChecked = true

    /// What is wrong, one sentence each; empty when all is well.
    public var problems: [String] {
        var problems: [String] = []
        for backend in backends where backend.status != "UP" {
            problems.append("backend \(backend.name) has no server up")
        }
        for certificate in certificates where (certificate.daysLeft ?? 0) < 0 {
            problems.append("certificate \(certificate.file) has expired (\(certificate.notAfter))")
        }
        return problems
    }

    public init() {}

    /// Parses a `show stat` answer and `show ssl cert FILE` answers.
    /// - Parameters:
    ///   - stat: the CSV as the stats socket printed it.
    ///   - certificates: each certificate file's `show ssl cert FILE` answer.
    public init(stat: String, certificates: [String]) {
        let lines = stat.split(separator: "\n").map(String.init)
        guard let header = lines.first(where: { $0.hasPrefix("# ") }) else { return }
        let columns = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var backends: [String: Backend] = [:]
        var order: [String] = []
        for line in lines where !line.hasPrefix("#") && !line.isEmpty {
            let values = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            func text(_ column: String) -> String {
                guard let index = columns.firstIndex(of: column), index < values.count else { return "" }
                return values[index]
            }
            func number(_ column: String) -> Int { Int(text(column)) ?? 0 }
            let proxy = text("pxname")
            switch text("svname") {
            case "FRONTEND":
                frontends.append(
                    Frontend(
                        name: proxy, status: text("status"), sessions: number("scur"), sessionsTotal: number("stot"),
                        bytesIn: number("bin"), bytesOut: number("bout")))
            case "BACKEND":
                if backends[proxy] == nil { order.append(proxy) }
                var backend =
                    backends[proxy]
                    ?? Backend(name: proxy, status: "", sessions: 0, bytesIn: 0, bytesOut: 0, servers: [])
                backend.status = text("status")
                backend.sessions = number("scur")
                backend.bytesIn = number("bin")
                backend.bytesOut = number("bout")
                backends[proxy] = backend
            default:
                if backends[proxy] == nil {
                    order.append(proxy)
                    backends[proxy] = Backend(
                        name: proxy, status: "", sessions: 0, bytesIn: 0, bytesOut: 0, servers: [])
                }
                backends[proxy]?.servers.append(
                    Server(
                        name: text("svname"), status: text("status"), check: text("check_status"),
                        checkDetail: text("check_desc"), weight: number("weight"), backup: text("bck") == "1",
                        sessions: number("scur"), sessionsTotal: number("stot"), bytesIn: number("bin"),
                        bytesOut: number("bout"), connectErrors: number("econ")))
            }
        }
        self.backends = order.compactMap { backends[$0] }
        self.certificates = certificates.compactMap(Self.certificate)
    }

    /// The file names listed by `show ssl cert` without an argument; none when the answer is not a list (a
    /// `user`-level socket answers `Permission denied`, and the report then has no certificate table).
    public static func certificateFiles(_ answer: String) -> [String] {
        guard answer.hasPrefix("# filename") else { return [] }
        return answer.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    private static func certificate(_ answer: String) -> Certificate? {
        var fields: [String: String] = [:]
        for line in answer.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = TextFormat.trimmed(line[line.index(after: colon)...])
        }
        guard let file = fields["Filename"] else { return nil }
        return Certificate(
            file: file, subject: fields["Subject"] ?? "", notAfter: fields["notAfter"] ?? "",
            daysLeft: fields["Days left"].flatMap { Int($0) })
    }

    /// The readable tables.
    public var table: String {
        var out = "FRONTEND              STATUS    SESSIONS  TOTAL     IN          OUT\n"
        for frontend in frontends {
            out += Self.row([
                (frontend.name, 22), (frontend.status, 10), ("\(frontend.sessions)", 10),
                ("\(frontend.sessionsTotal)", 10), (Self.bytes(frontend.bytesIn), 12),
                (Self.bytes(frontend.bytesOut), 0),
            ])
        }
        out += "\nBACKEND/SERVER        STATUS    CHECK     SESSIONS  TOTAL     IN          OUT\n"
        for backend in backends {
            out += Self.row([
                (backend.name, 22), (backend.status, 10), ("", 10), ("\(backend.sessions)", 10), ("", 10),
                (Self.bytes(backend.bytesIn), 12), (Self.bytes(backend.bytesOut), 0),
            ])
            for server in backend.servers {
                let name = "  " + server.name + (server.backup ? " (backup)" : "")
                out += Self.row([
                    (name, 22), (server.status, 10), (server.check.isEmpty ? "-" : server.check, 10),
                    ("\(server.sessions)", 10), ("\(server.sessionsTotal)", 10), (Self.bytes(server.bytesIn), 12),
                    (Self.bytes(server.bytesOut), 0),
                ])
                if !server.checkDetail.isEmpty, server.check != "L4OK", server.check != "L6OK" {
                    out += "      \(server.checkDetail)\n"
                }
            }
        }
        if !certificatesChecked {
            out += "\nCERTIFICATES not checked: this stats socket's level is user; ask an operator or admin socket\n"
        } else if !certificates.isEmpty {
            out += "\nCERTIFICATE                                   DAYS LEFT  NOT AFTER                 SUBJECT\n"
            for certificate in certificates {
                let days = certificate.daysLeft.map { $0 < 0 ? "EXPIRED" : "\($0)" } ?? "?"
                out += Self.row([
                    (certificate.file, 46), (days, 11), (certificate.notAfter, 26), (certificate.subject, 0),
                ])
            }
        }
        let problems = self.problems
        out += problems.isEmpty ? "\nOK\n" : "\n" + problems.map { "PROBLEM: \($0)\n" }.joined()
        return out
    }

    /// JSON for scripts: the report plus `problems` and `ok`.
    public func json() throws -> String {
        struct Output: Encodable {
            let ok: Bool
            let problems: [String]
            let frontends: [Frontend]
            let backends: [Backend]
            let certificates: [Certificate]
            let certificatesChecked: Bool
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let output = Output(
            ok: problems.isEmpty, problems: problems, frontends: frontends, backends: backends,
            certificates: certificates, certificatesChecked: certificatesChecked)
        return String(decoding: try encoder.encode(output), as: UTF8.self)
    }

    /// Reads the report from the stats socket at `path`.
    public static func fetch(from path: String) async throws -> StatusReport {
        let stat = try await RuntimeAPIClient.send("show stat", to: path)
        guard stat.hasPrefix("# ") else {
            throw StatsSocketError("unexpected answer to 'show stat': \(stat.prefix(200))")
        }
        let list = try await RuntimeAPIClient.send("show ssl cert", to: path)
        var certificates: [String] = []
        for file in certificateFiles(list) {
            certificates.append(try await RuntimeAPIClient.send("show ssl cert \(file)", to: path))
        }
        var report = StatusReport(stat: stat, certificates: certificates)
        report.certificatesChecked = !list.hasPrefix("Permission denied")
        return report
    }

    private static func row(_ cells: [(String, Int)]) -> String {
        cells.map { text, width in
            width == 0 ? text : TextFormat.padded(text, to: max(width, text.count + 1))
        }.joined() + "\n"
    }

    private static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : TextFormat.oneDecimal(value) + " " + units[unit]
    }
}
