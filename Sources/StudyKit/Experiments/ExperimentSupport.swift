import Foundation
import Scalars
import LinearAlgebra

/// Helpers shared by the focused experiments (R1, R7, R8, R10).
enum ExperimentSupport {
    /// A scalar type by report name: the registered formats plus the MPFR references `mpfr113`, `mpfr256`.
    static func format(named name: String) throws -> any Scalar.Type {
        switch name {
        case "mpfr113": return BigFloat113.self
        case "mpfr256": return BigFloat256.self
        default: return try ScalarFormats.type(named: name)
        }
    }

    static func isMPFR(_ name: String) -> Bool { name.hasPrefix("mpfr") }

    /// Validates a list of format names read from `experiment.<key>`.
    static func validateFormats(_ names: [String], key: String, spec: StudySpec) throws(StudyError) {
        for (i, f) in names.enumerated() {
            do { _ = try format(named: f) } catch {
                throw StudyError(file: spec.file, field: "experiment.\(key)[\(i)]", value: "\"\(f)\"", reason: "\(error) (or mpfr113, mpfr256)")
            }
        }
    }

    /// ‖x − y‖_F / ‖y‖_F evaluated in MPFR-256.
    static func relativeFrobenius<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>) -> Double {
        var num = T.zero, den = T.zero
        for (a, b) in zip(x.elements, y.elements) { num += (a - b) * (a - b); den += b * b }
        return (num.squareRoot() / den.squareRoot()).doubleValue
    }

    /// A value of any format in MPFR-256 without passing through Double when it is itself an MPFR value.
    static func mpfr<T: Scalar>(_ x: T) -> BigFloat256 {
        if let b = x as? BigFloat256 { return b }
        if let b = x as? BigFloat113 { return BigFloat256(b) }
        return BigFloat256(x.doubleValue)
    }

    /// Seeded Gaussian matrix in Double.
    static func gaussian(rows: Int, columns: Int, seed: UInt64, _ label: String, scale: Double = 1) -> Matrix<Double> {
        var rng = SplitMix64.stream(seed: seed, label)
        return Matrix(rows: rows, columns: columns) { _, _ in rng.nextGaussian() * scale }
    }

    /// The parameter of a cell as Double / Int (cells are built by the experiments themselves).
    static func double(_ cell: PlannedCell, _ key: String) -> Double { Double(cell.parameters[key]!)! }
    static func int(_ cell: PlannedCell, _ key: String) -> Int { Int(cell.parameters[key]!)! }
}

extension Array where Element == Double {
    /// Numbers as they appear in a cell's parameters (round-trip text).
    var parameterText: String { map { NumberText.short($0) }.joined(separator: ",") }
}
