import Scalars

/// A Cholesky breakdown: the first non-positive (or NaN) pivot, with its index and value. A result to
/// record (Docs/Optimizers.md K1, §1.4), never a crash.
public struct CholeskyFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public let pivotIndex: Int
    public let pivotValue: Double
    public init(pivotIndex: Int, pivotValue: Double) { self.pivotIndex = pivotIndex; self.pivotValue = pivotValue }
    public var description: String { "Cholesky failed at pivot \(pivotIndex) (value \(pivotValue))" }
}

extension Matrix {
    /// The lower-triangular `L` with `A = L Lᵀ`, computed in `T` (the right-looking "jik" order of
    /// Higham, *Accuracy and Stability*, Alg. 10.2), each inner sum `Σ_{k<j} L_ik L_jk` formed under
    /// `accumulation` in the order k = 0…j−1. Only the lower triangle of `A` is read.
    ///
    /// Backward error (Higham Thm 10.3): `L̂ L̂ᵀ = A + ΔA`, `|ΔA| ≤ γ_{n+1} |L̂||L̂ᵀ|` under per-op
    /// accumulation. Breakdown: a pivot `≤ 0` or NaN returns `.failure` with the pivot; this is
    /// expected once κ(A)·u is of order 1.
    @inlinable
    public func cholesky(accumulation: AccumulationModel = .perOperation) throws(ShapeError) -> Result<Matrix, CholeskyFailure> {
        guard isSquare else { throw ShapeError(operation: "cholesky", detail: "matrix is \(rows)×\(columns), not square") }
        let n = rows
        var l = Matrix(rows: n, columns: n)
        for j in 0..<n {
            let s = Reduction.dot(j, { l[j, $0] }, { l[j, $0] }, accumulation: accumulation)
            let pivot = self[j, j] - s
            guard pivot > 0, pivot.isFinite else {
                return .failure(CholeskyFailure(pivotIndex: j, pivotValue: pivot.doubleValue))
            }
            let d = pivot.squareRoot()
            l[j, j] = d
            for i in (j + 1)..<max(j + 1, n) {
                let t = Reduction.dot(j, { l[i, $0] }, { l[j, $0] }, accumulation: accumulation)
                l[i, j] = (self[i, j] - t) / d
            }
        }
        return .success(l)
    }

    /// Cholesky with a choice of implementation (`FactorizationMethod`): LAPACK `spotrf`/`dpotrf` on one
    /// OpenBLAS thread when `T` is Float or Double and `method` allows it, the generic `cholesky(accumulation:)`
    /// otherwise (`accumulation` applies to the generic path only; LAPACK's summation order is its own).
    ///
    /// Both paths read only the lower triangle and satisfy Higham Thm 10.3 (`|ΔA| ≤ γ_{n+1}|L̂||L̂ᵀ|` holds
    /// for any summation order). Breakdown is a result: LAPACK's `info = k > 0` becomes
    /// `CholeskyFailure(pivotIndex: k − 1)` with the non-positive pivot OpenBLAS leaves on the diagonal;
    /// a non-finite input, which `?potrf` does not detect (`NaN ≤ 0` is false), fails at the first row
    /// whose factor is non-finite, as in the generic path.
    @inlinable
    public func cholesky(method: FactorizationMethod, accumulation: AccumulationModel = .perOperation) throws(ShapeError) -> Result<Matrix, CholeskyFailure> {
        guard isSquare else { throw ShapeError(operation: "cholesky", detail: "matrix is \(rows)×\(columns), not square") }
        guard method.usesLAPACK(for: T.self), rows > 0 else { return try cholesky(accumulation: accumulation) }
        let n = rows
        let factor: [T], info: Int
        if T.self == Double.self {
            let r = LAPACK.cholesky(storage as! [Double], n: n); factor = r.factor as! [T]; info = r.info
        } else {
            let r = LAPACK.cholesky(storage as! [Float], n: n); factor = r.factor as! [T]; info = r.info
        }
        if info > 0 {
            return .failure(CholeskyFailure(pivotIndex: info - 1, pivotValue: factor[(info - 1) * n + info - 1].doubleValue))
        }
        for i in 0..<n where !(0...i).allSatisfy({ factor[i * n + $0].isFinite }) {
            return .failure(CholeskyFailure(pivotIndex: i, pivotValue: factor[i * n + i].doubleValue))
        }
        return .success(try! Matrix(rows: n, columns: n, elements: factor))
    }

    /// Solves `L X = B` (lower) or `Lᵀ X = B` (`transposed`) by substitution, sums in order under `accumulation`.
    @inlinable
    public static func solveLowerTriangular(_ l: Matrix, _ b: Matrix, transposed: Bool = false,
                                            accumulation: AccumulationModel = .perOperation) throws(ShapeError) -> Matrix {
        guard l.isSquare, l.rows == b.rows else { throw ShapeError(operation: "solveLowerTriangular", l, b) }
        let n = l.rows
        var x = b
        for c in 0..<b.columns {
            if !transposed {
                for i in 0..<n {
                    let s = Reduction.dot(i, { l[i, $0] }, { x[$0, c] }, accumulation: accumulation)
                    x[i, c] = (b[i, c] - s) / l[i, i]
                }
            } else {
                for i in stride(from: n - 1, through: 0, by: -1) {
                    let m = n - 1 - i
                    let s = Reduction.dot(m, { l[i + 1 + $0, i] }, { x[i + 1 + $0, c] }, accumulation: accumulation)
                    x[i, c] = (b[i, c] - s) / l[i, i]
                }
            }
        }
        return x
    }

    /// `(sym(A) + δI)⁻¹` by Cholesky and two triangular solves (K1), symmetrised; or the Cholesky failure.
    @inlinable
    public func dampedSPDInverse(damping delta: T, accumulation: AccumulationModel = .perOperation) throws(ShapeError) -> Result<Matrix, CholeskyFailure> {
        let md = try symmetrized().addingToDiagonal(delta)
        switch try md.cholesky(accumulation: accumulation) {
        case .failure(let f): return .failure(f)
        case .success(let l):
            let y = try Matrix.solveLowerTriangular(l, .identity(rows), accumulation: accumulation)
            let x = try Matrix.solveLowerTriangular(l, y, transposed: true, accumulation: accumulation)
            return .success(try x.symmetrized())
        }
    }
}
