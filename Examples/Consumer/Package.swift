// swift-tools-version: 6.1
// A package that uses Mantissa the way a user does: as a versioned git dependency, through the
// per-module library products (so it builds neither StudyKit nor TOMLKit).
//
// `.ci/consumer-check` builds it against a tagged copy of this repository by setting MANTISSA_URL and
// MANTISSA_VERSION. SwiftPM refuses unsafe build flags in a versioned dependency (but not in a path
// dependency or in the root package), so this is the build that proves the library products have none.
import PackageDescription

/// A versioned git dependency when MANTISSA_URL is set (a git URL whose last path component is `Mantissa`,
/// the package identity the products below name; MANTISSA_VERSION is the exact tag, 0.0.1 unless set);
/// otherwise the checkout this example sits in, for trying it out by hand.
let mantissa: Package.Dependency =
    if let url = Context.environment["MANTISSA_URL"] {
        .package(url: url, exact: Version(Context.environment["MANTISSA_VERSION"] ?? "0.0.1")!)
    } else {
        .package(name: "Mantissa", path: "../..")
    }

let package = Package(
    name: "Consumer",
    dependencies: [
        mantissa,
    ],
    targets: [
        .executableTarget(
            name: "Consumer",
            dependencies: [
                .product(name: "MantissaScalars", package: "Mantissa"),
                .product(name: "MantissaLinearAlgebra", package: "Mantissa"),
                .product(name: "MantissaNetworks", package: "Mantissa"),
                .product(name: "MantissaOptimizers", package: "Mantissa"),
            ]),
    ]
)
