/// The inputs sidecar parses from people it does not control, each as a function of raw bytes: libFuzzer calls
/// it through `sidecar-fuzz` (scripts/fuzz.sh), and the test suite replays the seed and regression corpora
/// (Fuzz/) through the very same function on every run.
///
/// `run` must return for every input. A crash, a trap (a failed precondition, an overflow, a force unwrap), an
/// AddressSanitizer report, a leak or a hang is a finding; an input that sidecar refuses with an error is not.
package enum FuzzTarget: String, CaseIterable, Sendable {
    /// One configuration file through the lexer, the parser and validation (`sidecar check` of one file).
    case config
    /// One runtime API connection's bytes through the stats socket's handler, at level admin, against a running
    /// proxy (`show stat`, `disable server`, `prompt`...).
    case runtimeAPI = "runtime-api"
    /// Both directions of one D-Bus connection through `option dbus`'s filter (SASL, then messages).
    case dbus
    /// A client's bytes into the reverse side's TLS handler: the ClientHello and whatever follows.
    case tls
    /// A PEM file as a certificate chain, a private key, a CA file, a CRL and a CA for `sidecar certs`.
    case pem

    /// Makes the fixtures the target uses (a PKI, a running proxy) before the first input, so that what they
    /// allocate once is not taken for a leak of the first input.
    package func prepare() {
        switch self {
        case .config: break
        case .runtimeAPI: _ = FuzzFixtures.runtimeAPI
        case .dbus: _ = FuzzFixtures.clientCertificate
        case .tls: _ = FuzzFixtures.serverContext
        case .pem: _ = FuzzFixtures.pki
        }
    }

    /// Feeds `bytes` to the target.
    package func run(_ bytes: [UInt8]) {
        switch self {
        case .config: Self.runConfiguration(bytes)
        case .runtimeAPI: Self.runRuntimeAPI(bytes)
        case .dbus: Self.runDBus(bytes)
        case .tls: Self.runTLS(bytes)
        case .pem: Self.runPEM(bytes)
        }
    }
}
