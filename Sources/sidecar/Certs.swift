import ArgumentParser
import SidecarTLS

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `sidecar certs`: makes a private CA and the certificates the two sidecars present to each other.
struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Make a private CA and certificates for the mTLS tunnel.",
        discussion: """
            Both sidecars trust the same CA (--ca) and present a certificate it issued (--cert, --key). \
            A leaf is a client certificate (a node's, for 'sidecar forward') unless --server makes it the \
            controller's server certificate (for 'sidecar reverse'). Keys are written unencrypted with mode \
            0600; no file is overwritten without --force.

            Example, with files under /etc/sidecar/pki:
              cd /etc/sidecar/pki
              sidecar certs ca --out .
              sidecar certs leaf --ca-cert ca.pem --ca-key ca.key --out . --server \\
                  --cn manager --dns manager.example.org --ip 192.0.2.10
              sidecar certs leaf --ca-cert ca.pem --ca-key ca.key --out . \\
                  --cn node-a --uri spiffe://example.org/node/a
            """,
        subcommands: [CA.self, Leaf.self]
    )
}

extension Certs {
    /// `sidecar certs ca`: a new self-signed root CA.
    struct CA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ca",
            abstract: "Make a new self-signed CA: DIR/ca.pem and DIR/ca.key.",
            discussion: """
                The CA certificate has basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign. \
                ca.pem (mode 0644) is what both sidecars take as --ca; ca.key (mode 0600, unencrypted \
                PKCS#8) signs leaves with 'sidecar certs leaf' and should stay offline.

                Example:
                  sidecar certs ca --out ./pki --cn "example.org sidecar CA" --days 3650
                """
        )

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Directory to write ca.pem and ca.key into; created if missing.", valueName: "dir")
        )
        var out: String

        @Option(name: .customLong("cn"), help: ArgumentHelp("Subject common name of the CA.", valueName: "name"))
        var commonName = "sidecar CA"

        @Option(help: ArgumentHelp("Validity in days from now (1 to 36500).", valueName: "n"))
        var days = 3650

        @Flag(help: "Use an RSA 3072 key instead of EC P-256.")
        var rsa = false

        @Flag(help: "Overwrite existing ca.pem and ca.key.")
        var force = false

        func run() throws {
            let written = try CertificateAuthority.create(
                in: URL(fileURLWithPath: out),
                commonName: commonName,
                days: days,
                algorithm: rsa ? .rsa3072 : .ecP256,
                force: force
            )
            Certs.report(written, certificateContents: "CA certificate")
        }
    }

    /// `sidecar certs leaf`: a certificate for one sidecar, signed by the CA.
    struct Leaf: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "leaf",
            abstract: "Issue a certificate signed by the CA: DIR/NAME.pem and DIR/NAME.key.",
            discussion: """
                NAME.pem holds the new certificate (and the intermediate CAs, if the CA is one; never the \
                root, which peers have as --ca), as --cert takes it; \
                NAME.key (mode 0600, unencrypted PKCS#8) is its key. NAME is the common name unless \
                --name gives another. By default the certificate is a client certificate (extendedKeyUsage \
                clientAuth): a node's, presented by 'sidecar forward'. --server makes the controller's \
                server certificate (serverAuth), presented by 'sidecar reverse'. Each side refuses a peer \
                certificate made for the other role.

                A forward sidecar checks the server's DNS or IP entries against the name it connects \
                to (--server-name), so give the reverse side's host names with --dns and --ip. \
                --uri adds an identity such as a SPIFFE ID.

                Examples:
                  sidecar certs leaf --ca-cert pki/ca.pem --ca-key pki/ca.key --server \\
                      --cn manager --dns manager.example.org --ip 192.0.2.10 --out pki
                  sidecar certs leaf --ca-cert pki/ca.pem --ca-key pki/ca.key \\
                      --cn node1 --out pki
                """
        )

        @Option(
            name: .customLong("ca-cert"),
            help: ArgumentHelp("The CA certificate (PEM), e.g. from 'sidecar certs ca'.", valueName: "file")
        )
        var caCertificate: String

        @Option(
            name: .customLong("ca-key"),
            help: ArgumentHelp("The CA's private key (PEM, unencrypted).", valueName: "file")
        )
        var caKey: String

        @Option(
            name: .customLong("cn"),
            help: ArgumentHelp(
                "Subject common name, e.g. the node name; also the file name by default.", valueName: "name")
        )
        var commonName: String

        @Option(
            name: .customLong("dns"),
            help: ArgumentHelp("Add a DNS subjectAltName (repeatable), e.g. --dns localhost.", valueName: "name")
        )
        var dnsNames: [String] = []

        @Option(
            name: .customLong("ip"),
            help: ArgumentHelp(
                "Add an IPv4 or IPv6 subjectAltName (repeatable), e.g. --ip 127.0.0.1.", valueName: "addr")
        )
        var ipAddresses: [String] = []

        @Option(
            name: .customLong("uri"),
            help: ArgumentHelp(
                "Add a URI subjectAltName (repeatable), e.g. --uri spiffe://example.org/node/a.", valueName: "uri")
        )
        var uris: [String] = []

        @Option(help: ArgumentHelp("Validity in days from now (1 to 36500).", valueName: "n"))
        var days = 825

        @Flag(help: "Use an RSA 3072 key instead of EC P-256.")
        var rsa = false

        @Flag(
            help: ArgumentHelp(
                "Make a TLS server certificate (extendedKeyUsage serverAuth) for the controller's 'sidecar reverse'; "
                    + "without it, a client certificate (clientAuth) for a node's 'sidecar forward'."))
        var server = false

        @Option(
            name: .customLong("name"),
            help: ArgumentHelp(
                "File stem for NAME.pem and NAME.key (letters, digits, . _ -); default: the common name.",
                valueName: "file-stem")
        )
        var fileName: String?

        @Flag(help: "Overwrite existing NAME.pem and NAME.key.")
        var force = false

        @Option(
            name: .long,
            help: ArgumentHelp("Directory to write NAME.pem and NAME.key into; created if missing.", valueName: "dir")
        )
        var out: String

        func run() throws {
            let issuer = try CertificateIssuer(
                caCertificateFile: URL(fileURLWithPath: caCertificate),
                caKeyFile: URL(fileURLWithPath: caKey)
            )
            let written = try issuer.issueLeaf(
                commonName: commonName,
                dnsNames: dnsNames,
                ipAddresses: ipAddresses,
                uris: uris,
                days: days,
                algorithm: rsa ? .rsa3072 : .ecP256,
                purpose: server ? .server : .client,
                fileName: fileName,
                in: URL(fileURLWithPath: out),
                force: force
            )
            Certs.report(
                written, certificateContents: "certificate, then CA certificate",
                usage: server
                    ? "TLS server (extendedKeyUsage serverAuth): the controller's, for 'sidecar reverse'"
                    : "TLS client (extendedKeyUsage clientAuth): a node's, for 'sidecar forward'")
        }
    }

    /// Prints what was written, for the operator.
    static func report(_ written: IssuedCertificate, certificateContents: String, usage: String? = nil) {
        let time = Date.ISO8601FormatStyle(timeZone: .gmt)
        var lines = [
            "wrote \(written.certificateFile.path) (\(certificateContents))",
            "wrote \(written.keyFile.path) (private key, mode 0600)",
            "  subject:   \(written.subject)",
            "  issuer:    \(written.issuer)",
        ]
        if !written.subjectAlternativeNames.isEmpty {
            lines.append("  SANs:      \(written.subjectAlternativeNames.joined(separator: ", "))")
        }
        if let usage { lines.append("  usage:     \(usage)") }
        lines += [
            "  key:       \(written.keyType)",
            "  serial:    \(written.serialNumber)",
            "  notAfter:  \(written.notAfter.formatted(time))",
        ]
        print(lines.joined(separator: "\n"))
    }
}
