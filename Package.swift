// swift-tools-version:6.0
import PackageDescription

/// What `sidecar --version` reports about the build, from the environment the Makefile sets (`make` passes
/// SIDECAR_GIT_COMMIT and SIDECAR_SWIFT_VERSION). Not `Context.gitInformation`: SwiftPM caches the evaluated
/// manifest by its text and environment, so a commit made since the last build would be reported stale. A
/// plain `swift build`, or a build from a tarball without .git, reports the commit as unknown.
let buildStamp: [CSetting] = ["SIDECAR_GIT_COMMIT", "SIDECAR_SWIFT_VERSION"].compactMap { name in
    guard let value = Context.environment[name], !value.isEmpty else { return nil }
    let cleaned = value.filter { $0 != "\"" && $0 != "\\" && !$0.isNewline }
    return .define(name, to: "\"\(cleaned)\"")
}

/// scripts/fuzz.sh builds with SIDECAR_LIBFUZZER=1, `--sanitize address` and libFuzzer's coverage flags: libFuzzer
/// (and its `main`, which drives the fuzz entry point) is linked into `sidecar-fuzz` only, whose replayer `@main`
/// is then left out; the test bundle of the same build runs under plain ASan (scripts/test.sh, step_sanitizers).
let libFuzzer: [SwiftSetting] = Context.environment["SIDECAR_LIBFUZZER"] == "1" ? [.define("SIDECAR_LIBFUZZER")] : []
let libFuzzerLink: [LinkerSetting] =
    Context.environment["SIDECAR_LIBFUZZER"] == "1" ? [.unsafeFlags(["-sanitize=fuzzer"])] : []

let package = Package(
    name: "sidecar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sidecar", targets: ["sidecar"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
    ],
    targets: [
        // System OpenSSL 3 (libssl-dev). Only SidecarTLS may import it.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Functions for the OpenSSL macros Swift cannot call, and variadic helpers.
        .target(name: "COpenSSLShims", dependencies: ["COpenSSL"]),
        // libsystemd (libsystemd-dev): socket activation and sd_notify. Only SidecarSystemd may import it.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // The git commit and compiler version the build was made with (see buildStamp above).
        .target(name: "CBuildStamp", cSettings: buildStamp),
        // Inherited listening sockets and readiness notification; the build stamp.
        .target(name: "SidecarSystemd", dependencies: ["CSystemd", "CBuildStamp"]),
        // Pure Swift: lexer, parser and the validated, immutable configuration model.
        .target(name: "SidecarConfig"),
        // OpenSSL contexts, the NIO TLS handler, peer identity and certificate tooling.
        .target(
            name: "SidecarTLS",
            dependencies: [
                "COpenSSL", "COpenSSLShims", "SidecarConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Listeners, the relay, backend selection.
        .target(
            name: "SidecarProxy",
            dependencies: [
                "SidecarTLS", "SidecarConfig", "SidecarSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // Process life cycle: load configuration, start proxies, wait.
        .target(
            name: "SidecarRuntime",
            dependencies: [
                "SidecarProxy", "SidecarConfig", "SidecarTLS", "SidecarSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "sidecar",
            dependencies: [
                "SidecarRuntime", "SidecarConfig", "SidecarTLS", "SidecarSystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The fuzz targets: every parser of untrusted input as a function of raw bytes (Fuzz/, scripts/fuzz.sh).
        .target(
            name: "SidecarFuzz",
            dependencies: [
                "SidecarRuntime", "SidecarProxy", "SidecarTLS", "SidecarConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libFuzzer's driver for them (see libFuzzer above); in a normal build, a replayer of input files.
        .executableTarget(
            name: "sidecar-fuzz", dependencies: ["SidecarFuzz"], swiftSettings: libFuzzer, linkerSettings: libFuzzerLink
        ),
        // Fixtures the in-process test targets share: a Unix echo server, a collecting client, configurations.
        .target(
            name: "SidecarTestSupport",
            dependencies: [
                "SidecarConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/SidecarTestSupport"
        ),
        .testTarget(name: "SidecarConfigTests", dependencies: ["SidecarConfig"]),
        .testTarget(
            name: "SidecarTLSTests",
            dependencies: [
                "SidecarTLS", "SidecarConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SidecarProxyTests",
            dependencies: [
                "SidecarProxy", "SidecarTLS", "SidecarConfig", "SidecarTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SidecarRuntimeTests",
            dependencies: [
                "SidecarRuntime", "SidecarProxy", "SidecarTLS", "SidecarConfig", "SidecarTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "SidecarFuzzTests", dependencies: ["SidecarFuzz"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["SidecarTLS", "SidecarConfig"],
            // D-Bus peers the tests run (Python, C), not Swift sources.
            exclude: ["Peers"]
        ),
    ]
)
