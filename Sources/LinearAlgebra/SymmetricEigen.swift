import Scalars

/// `A = Q diag(values) Qᵀ` of a symmetric matrix.
public struct SymmetricEigen<T: Scalar>: Sendable {
    /// Eigenvalues in ascending order.
    public var values: [T]
    /// Eigenvectors as columns, each with its largest-magnitude entry positive (canonical signs).
    public var vectors: Matrix<T>
    /// Jacobi sweeps used.
    public var sweeps: Int
    public init(values: [T], vectors: Matrix<T>, sweeps: Int) { self.values = values; self.vectors = vectors; self.sweeps = sweeps }
}

extension Matrix {
    /// Cyclic Jacobi eigendecomposition in `T` (Golub & Van Loan §8.5; GenericLinearAlgebra-style, so it
    /// runs on any scalar, BigFloat included). Reads `sym(A)`. Stops when the off-diagonal mass is
    /// below `u·‖A‖_F` or after `maxSweeps` sweeps. Jacobi is backward stable and relatively accurate
    /// for well-scaled SPD matrices (Demmel & Veselić).
    @inlinable
    public func symmetricEigen(maxSweeps: Int = 60) throws(ShapeError) -> SymmetricEigen<T> {
        var a = try symmetrized()
        let n = rows
        var q = Matrix.identity(n)
        let tolerance = T(T.unitRoundoff) * T(Swift.max(frobeniusNorm, Double.leastNormalMagnitude))
        var sweep = 0
        while sweep < maxSweeps {
            var off = T.zero
            for i in 0..<n { for j in (i + 1)..<Swift.max(i + 1, n) { off += a[i, j] * a[i, j] } }
            if off.squareRoot() <= tolerance || !off.isFinite { break }
            sweep += 1
            for p in 0..<n {
                for r in (p + 1)..<Swift.max(p + 1, n) where a[p, r] != 0 {
                    // rotation annihilating a[p, r] (stable formulas, G&VL Alg. 8.5.1)
                    let theta = (a[r, r] - a[p, p]) / (2 * a[p, r])
                    let t = (theta >= 0 ? 1 : -1) / (theta.magnitude + (1 + theta * theta).squareRoot())
                    let c = 1 / (1 + t * t).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k, p], akr = a[k, r]
                        a[k, p] = c * akp - s * akr
                        a[k, r] = s * akp + c * akr
                    }
                    for k in 0..<n {
                        let apk = a[p, k], ark = a[r, k]
                        a[p, k] = c * apk - s * ark
                        a[r, k] = s * apk + c * ark
                    }
                    for k in 0..<n {
                        let qkp = q[k, p], qkr = q[k, r]
                        q[k, p] = c * qkp - s * qkr
                        q[k, r] = s * qkp + c * qkr
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0, $0] < a[$1, $1] || (a[$0, $0] == a[$1, $1] && $0 < $1) }
        var vectors = Matrix(rows: n, columns: n)
        for (newColumn, old) in order.enumerated() {
            var big = 0
            for k in 0..<n where q[k, old].magnitude > q[big, old].magnitude { big = k }
            let flip = q[big, old] < 0
            for k in 0..<n { vectors[k, newColumn] = flip ? -q[k, old] : q[k, old] }
        }
        return SymmetricEigen(values: order.map { a[$0, $0] }, vectors: vectors, sweeps: sweep)
    }
}
