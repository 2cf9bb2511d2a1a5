import Scalars

/// `A = Q diag(values) Qᵀ` of a symmetric matrix.
public struct SymmetricEigen<T: Scalar>: Sendable {
    /// Eigenvalues in ascending order.
    public var values: [T]
    /// Eigenvectors as columns, each with its largest-magnitude entry positive (canonical signs).
    public var vectors: Matrix<T>
    /// Jacobi sweeps used (0 for LAPACK).
    public var sweeps: Int
    /// The implementation that produced this decomposition (`.generic` or `.lapack`).
    public var method: FactorizationMethod
    @inlinable
    public init(values: [T], vectors: Matrix<T>, sweeps: Int, method: FactorizationMethod = .generic) {
        self.values = values; self.vectors = vectors; self.sweeps = sweeps; self.method = method
    }
}

/// The eigensolver could not produce a decomposition: LAPACK's `?syevd` did not converge (`info > 0`),
/// or the input held a non-finite value. A result to record (§1.4), never a crash.
public struct EigenFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// LAPACK's `info` (0 when the input was non-finite and no solver ran).
    public let info: Int
    public let nonFiniteInput: Bool
    public init(info: Int, nonFiniteInput: Bool = false) { self.info = info; self.nonFiniteInput = nonFiniteInput }
    public var description: String {
        nonFiniteInput ? "symmetric eigensolver input holds a non-finite value"
            : "symmetric eigensolver failed to converge (LAPACK info \(info))"
    }
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
            for k in 0..<n { vectors[k, newColumn] = q[k, old] }
        }
        return SymmetricEigen(values: order.map { a[$0, $0] }, vectors: vectors.withCanonicalColumnSigns(), sweeps: sweep)
    }

    /// Each column negated if needed so that its largest-magnitude entry (the first one on ties) is
    /// positive: the canonical signs shared by the Jacobi and LAPACK paths, so they can be compared.
    @inlinable
    public func withCanonicalColumnSigns() -> Matrix {
        var r = self
        for c in 0..<columns {
            var big = 0
            for k in 0..<rows where self[k, c].magnitude > self[big, c].magnitude { big = k }
            if rows > 0 && self[big, c] < 0 { for k in 0..<rows { r[k, c] = -self[k, c] } }
        }
        return r
    }

    /// Symmetric eigendecomposition of `sym(A)` with a choice of implementation (Docs/Optimizers.md K2).
    ///
    /// LAPACK `ssyevd`/`dsyevd` (divide and conquer, one OpenBLAS thread, workspace query) when `T` is
    /// Float or Double and `method` allows it; cyclic Jacobi (`symmetricEigen(maxSweeps:)`) otherwise.
    /// Both are backward stable (`Q̂ diag(d̂) Q̂ᵀ = A + E`, `‖E‖ ≤ p(n)·u·‖A‖`), return ascending values and
    /// canonically signed vectors. A non-finite input is a `.failure` on both paths (never passed to
    /// LAPACK, whose behaviour on NaN is unspecified; Jacobi would stop at once and return the finite
    /// diagonal, which hides the problem). LAPACK non-convergence (`info > 0`) is a `.failure` too.
    @inlinable
    public func symmetricEigen(method: FactorizationMethod, maxSweeps: Int = 60) throws(ShapeError) -> Result<SymmetricEigen<T>, EigenFailure> {
        let s = try symmetrized()
        guard s.isFinite else { return .failure(EigenFailure(info: 0, nonFiniteInput: true)) }
        guard method.usesLAPACK(for: T.self), rows > 0 else { return .success(try s.symmetricEigen(maxSweeps: maxSweeps)) }
        let n = rows
        let values: [T], vectors: [T], info: Int
        if T.self == Double.self {
            let r = LAPACK.symmetricEigen(s.storage as! [Double], n: n); values = r.values as! [T]; vectors = r.vectors as! [T]; info = r.info
        } else {
            let r = LAPACK.symmetricEigen(s.storage as! [Float], n: n); values = r.values as! [T]; vectors = r.vectors as! [T]; info = r.info
        }
        guard info == 0 else { return .failure(EigenFailure(info: info)) }
        let q = try! Matrix(rows: n, columns: n, elements: vectors)
        return .success(SymmetricEigen(values: values, vectors: q.withCanonicalColumnSigns(), sweeps: 0, method: .lapack))
    }
}
