import Scalars
import LinearAlgebra

/// Textbook dense evaluations for tests, written without the library's factorizations or product
/// kernels so that a test comparing against them checks the library against independent arithmetic.
/// Used with `BigFloat256`, where their own rounding is far below any bound a test states.
public enum DenseOracle {
    /// Gauss–Jordan inverse with partial pivoting, in `T`.
    public static func inverse<T: Scalar>(_ m: Matrix<T>) -> Matrix<T> {
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

    /// `a·b` by the triple loop, summing in index order.
    public static func product<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) -> Matrix<T> {
        Matrix(rows: a.rows, columns: b.columns) { i, j in
            var s = T.zero
            for k in 0..<a.columns { s += a[i, k] * b[k, j] }
            return s
        }
    }
}
