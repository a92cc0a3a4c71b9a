// swift-tools-version:6.0
// The smallest SwiftNIO relay, for Benchmarks/nio-floor.sh only (never built by the tests): what one relayed
// message costs in SwiftNIO itself, with sidecar's channel options and no TLS.
import PackageDescription

let package = Package(
    name: "nio-relay",
    dependencies: [.package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0")],
    targets: [
        .executableTarget(
            name: "nio-relay",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        )
    ],
    swiftLanguageModes: [.v5]
)
