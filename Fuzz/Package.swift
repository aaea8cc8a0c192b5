// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets, one per parser. A separate package so the main build never needs
// -sanitize=fuzzer; run them with scripts/fuzz.sh.
let package = Package(
    name: "PetrelFuzz",
    dependencies: [
        .package(name: "Petrel", path: ".."),
    ],
    targets: [
        .executableTarget(name: "FuzzHTTPParser", dependencies: [.product(name: "PetrelCodecs", package: "Petrel")]),
        .executableTarget(name: "FuzzHTTPResponseDecoder", dependencies: [.product(name: "PetrelCodecs", package: "Petrel")]),
        .executableTarget(name: "FuzzFrameDecoder", dependencies: [.product(name: "PetrelCodecs", package: "Petrel")]),
        .executableTarget(name: "FuzzUTF8", dependencies: [.product(name: "PetrelCodecs", package: "Petrel")]),
        .executableTarget(name: "FuzzRouteSelection", dependencies: [.product(name: "PetrelCodecs", package: "Petrel")]),
        .executableTarget(name: "FuzzProxyProtocol", dependencies: [.product(name: "PetrelCodecs", package: "Petrel")]),
        .executableTarget(name: "FuzzConfigLoader", dependencies: [.product(name: "PetrelConfig", package: "Petrel")]),
        .executableTarget(name: "FuzzTLSRecords", dependencies: [.product(name: "PetrelLoop", package: "Petrel")]),
    ],
    swiftLanguageModes: [.v6]
)
