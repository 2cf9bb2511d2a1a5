import Scalars

/// The standard monitors of Docs/Optimizers.md §1.5, computed in Double from the values `T` actually holds
/// (so they measure the stored matrix, not the rounding of the monitor).
public struct MatrixHealth: Sendable, Hashable {
    public var symmetryError: Double
    public var lambdaMin: Double
    public var lambdaMax: Double
    /// λmax/λmin when λmin > 0, +∞ otherwise (the matrix is not numerically SPD).
    public var conditionNumber: Double

    @inlinable
    public init<T: Scalar>(_ m: Matrix<T>) {
        let d = m.converted(to: Double.self)
        let norm = d.frobeniusNorm
        symmetryError = norm == 0 ? 0 : ((try? d.subtracting(d.transposed))?.frobeniusNorm ?? .nan) / norm
        if let e = try? d.symmetricEigen(), let lo = e.values.first, let hi = e.values.last {
            lambdaMin = lo; lambdaMax = hi
            conditionNumber = lo > 0 ? hi / lo : .infinity
        } else {
            lambdaMin = .nan; lambdaMax = .nan; conditionNumber = .nan
        }
    }

    /// `‖X M − I‖_F / √d` in Double.
    @inlinable
    public static func inverseResidual<T: Scalar, U: Scalar>(_ x: Matrix<T>, _ m: Matrix<U>) -> Double {
        let xd = x.converted(to: Double.self), md = m.converted(to: Double.self)
        guard let p = try? matmul(xd, md, accumulation: .perOperation), let r = try? p.subtracting(.identity(p.rows)) else { return .nan }
        return r.frobeniusNorm / Double(p.rows).squareRoot()
    }

    /// `‖X^p M − I‖_F / √d` in Double.
    @inlinable
    public static func rootResidual<T: Scalar, U: Scalar>(_ x: Matrix<T>, _ m: Matrix<U>, power: Int) -> Double {
        let xd = x.converted(to: Double.self)
        var xp = Matrix<Double>.identity(xd.rows)
        for _ in 0..<power { guard let n = try? matmul(xp, xd, accumulation: .perOperation) else { return .nan }; xp = n }
        return inverseResidual(xp, m)
    }
}

/// Seeded SPD test matrices with a prescribed spectrum.
public enum SPDGenerator {
    /// `A = Q diag(λ) Qᵀ`, λ geometric from 1 down to 1/κ, Q a product of `n` seeded Householder
    /// reflections, computed in Double (then converted once by the caller).
    public static func matrix(dimension n: Int, condition: Double, seed: UInt64) -> Matrix<Double> {
        var rng = SplitMix64.stream(seed: seed, "spd")
        let lambdas = (0..<n).map { i in n == 1 ? 1 : Double.pow(1 / condition, Double(i) / Double(n - 1)) }
        var q = Matrix<Double>.identity(n)
        for _ in 0..<n {
            let v = (0..<n).map { _ in rng.nextGaussian() }
            let vv = v.reduce(0) { $0 + $1 * $1 }
            for i in 0..<n {
                var dot = 0.0
                for j in 0..<n { dot += q[i, j] * v[j] }
                for j in 0..<n { q[i, j] -= 2 * dot / vv * v[j] }
            }
        }
        let a = Matrix<Double>(rows: n, columns: n) { i, j in
            var s = 0.0
            for k in 0..<n { s += q[i, k] * lambdas[k] * q[j, k] }
            return s
        }
        return (try? a.symmetrized()) ?? a
    }
}
