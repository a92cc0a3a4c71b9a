import Foundation
import Testing

/// Runs the `openssl` command-line tool: certificates made by a tool nobody here wrote, with exactly the
/// fields a test needs (a `/` inside an O, an extendedKeyUsage without clientAuth...).
enum OpenSSLCommand {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `openssl arguments...`; throws with the output when it exits non-zero.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed:\n\(output)")
        }
        return output
    }

    /// A leaf made with `openssl req` and signed with `openssl x509 -req -extfile`: `subject` in `-subj` syntax
    /// (`\/` for a slash inside a value), `extensions` the extfile's lines. Returns NAME.pem and NAME.key.
    static func leaf(
        _ name: String, subject: String, extensions: [String], signedBy ca: (certificate: URL, key: URL),
        in directory: URL
    ) throws -> (certificate: URL, key: URL) {
        let key = directory.appendingPathComponent("\(name).key")
        let request = directory.appendingPathComponent("\(name).csr")
        let certificate = directory.appendingPathComponent("\(name).pem")
        let extfile = directory.appendingPathComponent("\(name).ext")
        try Data((extensions.joined(separator: "\n") + "\n").utf8).write(to: extfile)
        try run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key.path,
            "-subj", subject, "-out", request.path,
        ])
        try run([
            "x509", "-req", "-in", request.path, "-CA", ca.certificate.path, "-CAkey", ca.key.path,
            "-set_serial", "\(Int.random(in: 1..<Int(Int32.max)))", "-days", "2", "-extfile", extfile.path, "-out",
            certificate.path,
        ])
        return (certificate, key)
    }
}
