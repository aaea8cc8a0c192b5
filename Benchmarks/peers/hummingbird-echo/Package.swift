// swift-tools-version:6.2
// Peer server for Benchmarks/ws-compare.sh: a plain Hummingbird WebSocket echo server.
// Separate package so that Petrel itself does not depend on Hummingbird/SwiftNIO.
import PackageDescription

let package = Package(
    name: "hummingbird-echo",
    platforms: [.macOS(.v14)],
    dependencies: [
        // Default traits (swift-configuration, full Foundation) are not needed for an echo server.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
    ],
    targets: [
        .executableTarget(
            name: "hummingbird-echo",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            path: "Sources/HummingbirdEcho"
        )
    ]
)
