// swift-tools-version: 6.1
// Mantissa: numerical-precision research on optimizers.
//
// Module graph (data flows one way, see README):
//   CMPFR, CRuntimeFormat, COpenBLAS  ->  Scalars  ->  LinearAlgebra  ->  Networks  ->  Optimizers  ->  StudyKit  ->  Studies
import PackageDescription

/// pure-Swift math (sqrt, fma, rounding) needs libm on Linux, or linking fails.
let libm: [LinkerSetting] = [.linkedLibrary("m", .when(platforms: [.linux, .android]))]

// Generic code of LinearAlgebra, Networks and Optimizers is called from StudyKit with precision policies
// chosen at run time. It is specialised there because its hot paths are `@inlinable` (with
// `@usableFromInline` internals), not through `-cross-module-optimization`: SwiftPM refuses unsafe flags in
// a versioned dependency, and without either the calls run unspecialised (measured ~20× slower).
let package = Package(
    name: "Mantissa",
    products: [
        // Everything, for users who want the study harness too.
        .library(name: "Mantissa", targets: ["Scalars", "LinearAlgebra", "Networks", "Optimizers", "StudyKit"]),
        // One product per layer of the module graph: depending on one builds only it and what it imports
        // (MantissaScalars needs neither OpenBLAS nor TOMLKit).
        .library(name: "MantissaScalars", targets: ["Scalars"]),
        .library(name: "MantissaLinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "MantissaNetworks", targets: ["Networks"]),
        .library(name: "MantissaOptimizers", targets: ["Optimizers"]),
        .library(name: "MantissaStudyKit", targets: ["StudyKit"]),
        .executable(name: "Studies", targets: ["Studies"]),
        .executable(name: "Benchmarks", targets: ["Benchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics.git", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        // System libraries: a modulemap and a shim header each (see Sources/C*/shim.h).
        .systemLibrary(name: "CMPFR", providers: [.apt(["libmpfr-dev"])]),
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),

        // The per-thread format table of `RuntimeFloat` (a C thread-local: Swift has none).
        .target(name: "CRuntimeFormat"),
        .target(
            name: "Scalars",
            dependencies: ["CMPFR", "CRuntimeFormat", .product(name: "RealModule", package: "swift-numerics")],
            linkerSettings: libm),
        .target(name: "LinearAlgebra", dependencies: ["Scalars", "COpenBLAS"], linkerSettings: libm),
        .target(name: "Networks", dependencies: ["Scalars", "LinearAlgebra"], linkerSettings: libm),
        .target(name: "Optimizers", dependencies: ["Scalars", "LinearAlgebra", "Networks"], linkerSettings: libm),
        .target(
            name: "StudyKit",
            dependencies: ["Scalars", "LinearAlgebra", "Networks", "Optimizers", "COpenBLAS",
                           .product(name: "TOMLKit", package: "TOMLKit")],
            linkerSettings: libm),
        .executableTarget(
            name: "Studies",
            dependencies: ["StudyKit", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "Benchmarks",
            dependencies: ["Scalars", "LinearAlgebra", "Networks", "Optimizers", "CMPFR", "COpenBLAS"]),

        // Shared test support: oracles (MPFR at a format's precision and range), law checkers.
        .target(
            name: "TestSupport",
            dependencies: ["Scalars", "LinearAlgebra", "CMPFR", .product(name: "RealModule", package: "swift-numerics")],
            path: "Tests/TestSupport"),
        .testTarget(
            name: "ScalarsTests",
            dependencies: ["Scalars", "TestSupport", "CMPFR",
                           .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(
            name: "LinearAlgebraTests",
            dependencies: ["LinearAlgebra", "Scalars", "TestSupport", "COpenBLAS",
                           .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(
            name: "NetworksTests",
            dependencies: ["Networks", "LinearAlgebra", "Scalars", "TestSupport"]),
        .testTarget(
            name: "OptimizersTests",
            dependencies: ["Optimizers", "Networks", "LinearAlgebra", "Scalars", "TestSupport"]),
        .testTarget(
            name: "StudyKitTests",
            dependencies: ["StudyKit", "Optimizers", "Networks", "LinearAlgebra", "Scalars", "TestSupport"]),
    ]
)
