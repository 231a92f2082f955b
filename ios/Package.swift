// swift-tools-version:5.9
// The Swift package over zhichao's Rust core. Run `ios/build-xcframework.sh` on a Mac first: it
// builds `ZhichaoCoreFFI.xcframework` and writes the generated bindings into
// `Sources/ZhichaoCore/Generated/` (see README.md). `ios/check.sh` checks on Linux that the names
// below agree with what uniffi generates.
import PackageDescription

let package = Package(
    name: "ZhichaoCore",
    // iOS only: the XCFramework holds device and simulator slices, no macOS one, so build and
    // test with an iOS destination (`xcodebuild -destination 'platform=iOS Simulator,…'`).
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "ZhichaoCore", targets: ["ZhichaoCore"]),
    ],
    targets: [
        // The Rust core as a static library per platform, with the C header and module map
        // uniffi generates: the Clang module `ZhichaoCoreFFI` that the generated Swift imports.
        // The target is named like the XCFramework, as older SwiftPM versions require.
        .binaryTarget(
            name: "ZhichaoCoreFFI",
            path: "ZhichaoCoreFFI.xcframework"
        ),
        // The generated bindings (Generated/ZhichaoCore.swift) and the hand-written wrappers.
        .target(
            name: "ZhichaoCore",
            dependencies: ["ZhichaoCoreFFI"],
            exclude: ["Generated/README.md"]
        ),
        .testTarget(
            name: "ZhichaoCoreTests",
            dependencies: ["ZhichaoCore"]
        ),
    ]
)
