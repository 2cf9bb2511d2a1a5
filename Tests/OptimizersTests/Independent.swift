import Scalars
import LinearAlgebra
import TestSupport

/// Independent dense evaluations for the tests: nothing here calls the library's factorizations.
enum Independent {
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
        let grad = DenseOracle.product(ghat, transpose(abar)).map { $0 / Double(n) }
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

// Shampoo/Jorge helpers: matrix roots and the coupled Newton iteration written directly from
// Docs/Optimizers.md K3, in whatever type they are called with (BigFloat256 in the tests).
extension Independent {
    /// `(A^{1/2}, A^{-1/2})` of an SPD matrix by the Denman–Beavers iteration (Higham, *Functions of
    /// Matrices* §6.3), until the update is below 2⁻²⁰⁰ relative.
    static func sqrtPair<T: Scalar>(_ a: Matrix<T>) -> (Matrix<T>, Matrix<T>) {
        var y = a, z = Matrix<T>.identity(a.rows)
        for _ in 0..<200 {
            let yi = DenseOracle.inverse(y), zi = DenseOracle.inverse(z)
            let yn = Matrix(rows: a.rows, columns: a.rows) { i, j in (y[i, j] + zi[i, j]) / 2 }
            let zn = Matrix(rows: a.rows, columns: a.rows) { i, j in (z[i, j] + yi[i, j]) / 2 }
            var num = T.zero, den = T.zero
            for (p, q) in zip(yn.elements, y.elements) { num += (p - q) * (p - q); den += p * p }
            y = yn; z = zn
            if num <= den * T.pow(T(2), -400) { break }
        }
        return (y, z)
    }

    /// `A^{-1/4} = (A^{-1/2})^{1/2}`.
    static func inverseFourthRoot<T: Scalar>(_ a: Matrix<T>) -> Matrix<T> { sqrtPair(sqrtPair(a).1).0 }

    static func identityPlus<T: Scalar>(_ a: Matrix<T>, _ alpha: T, _ beta: T) -> Matrix<T> {
        Matrix(rows: a.rows, columns: a.columns) { i, j in alpha * (i == j ? 1 : 0) + beta * a[i, j] }
    }

    /// λ_max of a symmetric PSD matrix by power iteration from the all-ones vector (a different start
    /// from the library's seeded one), run 2000 steps: exact enough that `1e-12·λ_max` is unaffected.
    static func lambdaMax<T: Scalar>(_ a: Matrix<T>) -> T {
        var v = [T](repeating: 1, count: a.rows), lambda = T.zero
        for _ in 0..<2000 {
            var norm = T.zero
            for x in v { norm += x * x }
            norm = norm.squareRoot()
            v = v.map { $0 / norm }
            let w = (0..<a.rows).map { i in (0..<a.columns).reduce(T.zero) { $0 + a[i, $1] * v[$1] } }
            lambda = zip(v, w).reduce(T.zero) { $0 + $1.0 * $1.1 }
            v = w
        }
        return lambda
    }

    /// K3's coupled Newton iteration, transcribed from the pseudo-code: `(M + ε_rel·λmax·I)^{-1/p}` and the
    /// number of accepted iterations.
    static func newtonInverseRoot<T: Scalar>(_ m: Matrix<T>, p: Int, relativeRidge: Double, tolerance: Double = 1e-6, maxIterations: Int = 100) -> (Matrix<T>, Int) {
        let n = m.rows
        if n == 1 { return (.identity(1), 0) }
        let mr = identityPlus(m, T(relativeRidge) * lambdaMax(m), 1)
        var fro = T.zero
        for x in mr.elements { fro += x * x }
        let z = T(Double(1 + p)) / (2 * fro.squareRoot())
        var x = identityPlus(m, T.root(z, p), 0)
        var y = identityPlus(mr, 0, z)
        func dev(_ a: Matrix<T>) -> T { (0..<n * n).reduce(T.zero) { max($0, (a[$1 / n, $1 % n] - ($1 / n == $1 % n ? 1 : 0)).magnitude) } }
        var err = dev(y), k = 0
        while err > T(tolerance) && k < maxIterations {
            let s = identityPlus(y, T(Double(p + 1)) / T(Double(p)), -1 / T(Double(p)))
            let xn = DenseOracle.product(x, s)
            var sp = s
            for _ in 1..<p { sp = DenseOracle.product(sp, s) }
            y = DenseOracle.product(sp, y)
            let errn = dev(y)
            if errn > T(1.2) * err { break }
            x = xn; err = errn; k += 1
        }
        return (x, k)
    }

    static func frobenius<T: Scalar>(_ a: Matrix<T>) -> T { a.elements.reduce(T.zero) { $0 + $1 * $1 }.squareRoot() }

    static func condition<T: Scalar>(_ a: Matrix<T>) -> Double {
        (frobenius(a) * frobenius(DenseOracle.inverse(a))).doubleValue
    }
}
