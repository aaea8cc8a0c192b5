// swift-tools-version:6.0
import PackageDescription

// Arrows point inward: pure codecs and domain at the centre, libuv/OpenSSL adapters around them,
// the gateway glue above those, and a thin executable that picks implementations.
let package = Package(
    name: "Petrel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "petrel", targets: ["petrel"]),
        .executable(name: "petrel-loadtest", targets: ["petrel-loadtest"]),
        .library(name: "PetrelCodecs", targets: ["PetrelCodecs"]),
        .library(name: "PetrelConfig", targets: ["PetrelConfig"]),
        .library(name: "PetrelLoop", targets: ["PetrelLoop"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),

        // Pure: bytes in, events out. No I/O, no clock.
        .target(name: "PetrelCodecs"),
        // Pure domain: ids, limits, timer wheel, integrations protocol, route table. Time is injected.
        .target(name: "PetrelCore", dependencies: ["PetrelCodecs"]),
        // Config model, YAML loading and validation with key paths.
        .target(name: "PetrelConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        // OpenSSL: SHA-1/base64 for the handshake, randomness for ids, HMAC and SigV4.
        .target(name: "PetrelCrypto", dependencies: ["COpenSSL"]),
        // libuv: loops, TCP, timers, signals, cross-loop mailbox, TLS over memory BIOs.
        .target(name: "PetrelLoop", dependencies: ["CLibUV", "COpenSSL"]),
        // libcurl's multi-socket API driven by a libuv loop: outbound HTTP to integrations.
        .target(name: "PetrelHTTPClient", dependencies: ["CCurl", "CLibUV", "PetrelCodecs", "PetrelLoop"]),
        // hiredis async driven by a libuv loop: the transport of the Redis registry and cluster (DESIGN §7).
        .target(name: "PetrelRedis", dependencies: ["CHiredis", "CLibUV", "PetrelLoop", "PetrelCore"]),
        // Per-connection sessions, HTTP and WebSocket handling, dispatch, drain.
        .target(name: "PetrelGateway", dependencies: [
            "PetrelCodecs", "PetrelCore", "PetrelConfig", "PetrelCrypto", "PetrelLoop", "PetrelHTTPClient", "PetrelRedis", "CLibUV",
        ]),
        // The admin API as blocking calls for tools (`petrel admin`), over PetrelHTTPClient.
        .target(name: "PetrelAdminClient", dependencies: ["PetrelCore", "PetrelCrypto", "PetrelHTTPClient", "PetrelLoop"]),
        .executableTarget(name: "petrel", dependencies: [
            "PetrelGateway", "PetrelConfig", "PetrelRedis", "PetrelAdminClient", "PetrelCrypto",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The ops load-test tool (DESIGN §10): a library with the logic, a thin executable.
        .target(name: "PetrelLoadTestKit", dependencies: [
            "PetrelCodecs", "PetrelLoop", "PetrelCrypto", "CLibUV", "COpenSSL",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], path: "loadtest/Kit"),
        .executableTarget(name: "petrel-loadtest", dependencies: [
            "PetrelLoadTestKit", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "loadtest/Main"),

        .testTarget(name: "PetrelCodecsTests", dependencies: ["PetrelCodecs"]),
        .testTarget(name: "PetrelLoopTests", dependencies: ["PetrelLoop", "PetrelCrypto"]),
        .testTarget(name: "PetrelCryptoTests", dependencies: ["PetrelCrypto"]),
        .testTarget(name: "PetrelHTTPClientTests", dependencies: ["PetrelHTTPClient", "PetrelLoop"]),
        .testTarget(name: "PetrelRedisTests", dependencies: ["PetrelRedis", "PetrelLoop", "PetrelCore"]),
        .testTarget(name: "PetrelLoadTestTests", dependencies: ["PetrelLoadTestKit"]),
        .testTarget(name: "PetrelConfigTests", dependencies: ["PetrelConfig"]),
        .testTarget(name: "PetrelCoreTests", dependencies: ["PetrelCore"]),
        .testTarget(name: "PetrelGatewayTests", dependencies: ["PetrelGateway"]),
    ],
    swiftLanguageModes: [.v6]
)
