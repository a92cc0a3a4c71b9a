// swift-tools-version:6.0
// The smallest programs with sidecar's stack, for Benchmarks/stack-floor.sh only (never built by the tests): the
// Swift runtime linked in, one SwiftNIO event loop with a Unix listener, and OpenSSL 3 loaded and initialised
// with a client context (stack-floor); the same with one use of FoundationEssentials, as swift-argument-parser
// makes (stack-floor-foundation). What they cost at rest and on disk is the floor under sidecar's figures.
import PackageDescription

let package = Package(
    name: "stack-floor",
    dependencies: [.package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0")],
    targets: [
        .systemLibrary(name: "CFloorOpenSSL", path: "Sources/CFloorOpenSSL", pkgConfig: "openssl"),
        .target(
            name: "StackFloor",
            dependencies: [
                "CFloorOpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "stack-floor", dependencies: ["StackFloor"]),
        .executableTarget(name: "stack-floor-foundation", dependencies: ["StackFloor"]),
    ]
)
