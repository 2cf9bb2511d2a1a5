import Scalars
import LinearAlgebra

/// Independent dense evaluations for the tests: nothing here calls the library's factorizations.
enum Independent {
    /// Gauss–Jordan inverse with partial pivoting, in T (used with BigFloat256).
    static func inverse<T: Scalar>(_ m: Matrix<T>) -> Matrix<T> {
        let n = m.rows
        var a = m, inv = Matrix<T>.identity(n)
        for col in 0..<n {
            var p = col
            for r in col..<n where a[r, col].magnitude > a[p, col].magnitude { p = r }
            if p != col { for j in 0..<n { (a[col, j], a[p, j]) = (a[p, j], a[col, j]); (inv[col, j], inv[p, j]) = (inv[p, j], inv[col, j]) } }
            let d = a[col, col]
            for j in 0..<n { a[col, j] /= d; inv[col, j] /= d }
            for r in 0..<n where r != col {
                let f = a[r, col]
                for j in 0..<n { a[r, j] -= f * a[col, j]; inv[r, j] -= f * inv[col, j] }
            }
        }
        return inv
    }

    static func mul<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) -> Matrix<T> {
        Matrix(rows: a.rows, columns: b.columns) { i, j in
            var s = T.zero
            for k in 0..<a.columns { s += a[i, k] * b[k, j] }
            return s
        }
    }

    static func transpose<T: Scalar>(_ a: Matrix<T>) -> Matrix<T> { Matrix(rows: a.columns, columns: a.rows) { a[$1, $0] } }

    static func relativeDifference<T: Scalar, U: Scalar>(_ a: Matrix<T>, _ b: Matrix<U>) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a.elements, b.elements) { let d = x.doubleValue - y.doubleValue; num += d * d; den += y.doubleValue * y.doubleValue }
        return (num / den).squareRoot()
    }

    /// A tiny layer's statistics: Ā (d_i×N with ones row), Ĝ (d_o×N), ∇W = ĜĀᵀ/N, from a seed.
    static func layer(dOut: Int = 3, dIn: Int = 4, n: Int = 5, seed: UInt64) -> (abar: Matrix<Double>, ghat: Matrix<Double>, grad: Matrix<Double>, w: Matrix<Double>) {
        var rng = SplitMix64(seed: seed)
        let abar = Matrix<Double>(rows: dIn, columns: n) { i, _ in i == dIn - 1 ? 1 : rng.nextGaussian() }
        let ghat = Matrix<Double>(rows: dOut, columns: n) { _, _ in rng.nextGaussian() }
        let grad = mul(ghat, transpose(abar)).map { $0 / Double(n) }
        let w = Matrix<Double>(rows: dOut, columns: dIn) { _, _ in rng.nextGaussian() }
        return (abar, ghat, grad, w)
    }
}

// MKOR/RLLC helpers (appended).
extension Independent {
    /// Whether sym(X) is positive definite: every pivot of Gaussian elimination without pivoting is
    /// > 0 (Sylvester's criterion through the LDLᵀ pivots), evaluated in T (MPFR-256 in the tests).
    static func isPositiveDefinite<T: Scalar>(_ x: Matrix<T>) -> Bool {
        let n = x.rows
        var a = Matrix<T>(rows: n, columns: n) { i, j in (x[i, j] + x[j, i]) / 2 }
        for c in 0..<n {
            guard a[c, c] > 0 else { return false }
            for r in (c + 1)..<max(c + 1, n) {
                let f = a[r, c] / a[c, c]
                for j in c..<n { a[r, j] -= f * a[c, j] }
            }
        }
        return true
    }
}
