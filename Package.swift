// swift-tools-version:6.0
import PackageDescription

// Arrows point inward: pure codecs and domain at the centre, libuv/OpenSSL adapters around them,
// the gateway glue above those, and a thin executable that picks implementations.
let package = Package(
    name: "Petrel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "petrel", targets: ["petrel"]),
        .library(name: "PetrelCodecs", targets: ["PetrelCodecs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),

        // Pure: bytes in, events out. No I/O, no clock.
        .target(name: "PetrelCodecs"),
        // Pure domain: ids, limits, timer wheel, integrations protocol, route table. Time is injected.
        .target(name: "PetrelCore", dependencies: ["PetrelCodecs"]),
        // Config model, YAML loading and validation with key paths.
        .target(name: "PetrelConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        // OpenSSL: SHA-1/base64 for the handshake, randomness for ids.
        .target(name: "PetrelCrypto", dependencies: ["COpenSSL"]),
        // libuv: loops, TCP, timers, signals, cross-loop mailbox.
        .target(name: "PetrelLoop", dependencies: ["CLibUV"]),
        // Per-connection sessions, HTTP and WebSocket handling, dispatch, drain.
        .target(name: "PetrelGateway", dependencies: [
            "PetrelCodecs", "PetrelCore", "PetrelConfig", "PetrelCrypto", "PetrelLoop", "CLibUV",
        ]),
        .executableTarget(name: "petrel", dependencies: [
            "PetrelGateway", "PetrelConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "PetrelCodecsTests", dependencies: ["PetrelCodecs"]),
        .testTarget(name: "PetrelConfigTests", dependencies: ["PetrelConfig"]),
        .testTarget(name: "PetrelCoreTests", dependencies: ["PetrelCore"]),
    ],
    swiftLanguageModes: [.v6]
)
