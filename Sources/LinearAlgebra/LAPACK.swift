import Scalars
import COpenBLAS

/// Which implementation a factorization uses.
///
/// The generic path runs the same algorithm in every format (Float, Double, bf16, MPFR), which is what
/// a precision comparison needs: differences are then rounding, not algorithm. The LAPACK path
/// (OpenBLAS `?potrf`/`?syevd`, one thread) is much faster but exists only for Float and Double.
public enum FactorizationMethod: String, Sendable, Hashable, CaseIterable, Codable {
    /// The generic Swift implementation in `T` (Cholesky "jik", cyclic Jacobi).
    case generic
    /// LAPACK when `T` is Float or Double; other types fall back to `generic` (the result names the
    /// method actually used).
    case lapack
    /// Same as `lapack`: pick the fast path whenever the type allows it.
    case automatic

    /// Whether this request resolves to LAPACK for the scalar type `T`.
    @inlinable
    public func usesLAPACK<T: Scalar>(for _: T.Type) -> Bool {
        self != .generic && (T.self == Float.self || T.self == Double.self)
    }
}

/// Thin, checked wrappers over OpenBLAS's LAPACK (Debian's OpenBLAS is built without LAPACKE and ships no LAPACK header, so the
/// prototypes live in `COpenBLAS/shim.h`, with gfortran's hidden CHARACTER lengths).
///
/// Storage convention: a row-major `n × n` array read as column-major is the transpose, so for a
/// symmetric input the column-major upper triangle is the row-major lower triangle. Every call sets
/// OpenBLAS to one thread first (`BLAS.ensureSingleThreaded()`), so results are bit-reproducible.
@usableFromInline
enum LAPACK {
    /// `?potrf('U')` on the column-major view: returns the row-major lower factor `L` (`A = L Lᵀ`) and
    /// LAPACK's `info` (> 0: the leading minor of that order is not positive definite).
    @usableFromInline
    static func cholesky(_ a: [Double], n: Int) -> (factor: [Double], info: Int) {
        BLAS.ensureSingleThreaded()
        var f = a, nn = Int32(n), lda = Int32(max(1, n)), info: Int32 = 0
        var uplo = CChar(UInt8(ascii: "U"))
        f.withUnsafeMutableBufferPointer { dpotrf_(&uplo, &nn, $0.baseAddress, &lda, &info, 1) }
        return (lowerOnly(f, n: n), Int(info))
    }

    @usableFromInline
    static func cholesky(_ a: [Float], n: Int) -> (factor: [Float], info: Int) {
        BLAS.ensureSingleThreaded()
        var f = a, nn = Int32(n), lda = Int32(max(1, n)), info: Int32 = 0
        var uplo = CChar(UInt8(ascii: "U"))
        f.withUnsafeMutableBufferPointer { spotrf_(&uplo, &nn, $0.baseAddress, &lda, &info, 1) }
        return (lowerOnly(f, n: n), Int(info))
    }

    /// Zeroes the strict upper triangle (row-major), which `?potrf` leaves holding the input.
    /// On failure the diagonal entry at the failing pivot is kept: OpenBLAS stores the non-positive
    /// Schur complement there, which the caller reports.
    @inlinable
    static func lowerOnly<E: Numeric>(_ f: [E], n: Int) -> [E] {
        var r = f
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { r[i * n + j] = 0 } }
        return r
    }

    /// `?syevd('V', 'U')` with a workspace query. Returns ascending eigenvalues, the eigenvectors as
    /// row-major columns, and `info` (> 0: the divide-and-conquer failed to converge).
    @usableFromInline
    static func symmetricEigen(_ a: [Double], n: Int) -> (values: [Double], vectors: [Double], info: Int) {
        BLAS.ensureSingleThreaded()
        var z = a, w = [Double](repeating: 0, count: n)
        var nn = Int32(n), lda = Int32(max(1, n)), info: Int32 = 0
        var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "U"))
        var lwork: Int32 = -1, liwork: Int32 = -1, wq = [Double](repeating: 0, count: 1), iwq: [Int32] = [0]
        dsyevd_(&jobz, &uplo, &nn, &z, &lda, &w, &wq, &lwork, &iwq, &liwork, &info, 1, 1)
        guard info == 0 else { return (w, z, Int(info)) }
        lwork = Int32(wq[0]); liwork = iwq[0]
        var work = [Double](repeating: 0, count: Int(max(1, lwork))), iwork = [Int32](repeating: 0, count: Int(max(1, liwork)))
        dsyevd_(&jobz, &uplo, &nn, &z, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        return (w, transposed(z, n: n), Int(info))
    }

    @usableFromInline
    static func symmetricEigen(_ a: [Float], n: Int) -> (values: [Float], vectors: [Float], info: Int) {
        BLAS.ensureSingleThreaded()
        var z = a, w = [Float](repeating: 0, count: n)
        var nn = Int32(n), lda = Int32(max(1, n)), info: Int32 = 0
        var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "U"))
        var lwork: Int32 = -1, liwork: Int32 = -1, wq = [Float](repeating: 0, count: 1), iwq: [Int32] = [0]
        ssyevd_(&jobz, &uplo, &nn, &z, &lda, &w, &wq, &lwork, &iwq, &liwork, &info, 1, 1)
        guard info == 0 else { return (w, z, Int(info)) }
        lwork = Int32(wq[0]); liwork = iwq[0]
        var work = [Float](repeating: 0, count: Int(max(1, lwork))), iwork = [Int32](repeating: 0, count: Int(max(1, liwork)))
        ssyevd_(&jobz, &uplo, &nn, &z, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        return (w, transposed(z, n: n), Int(info))
    }

    /// Column-major `z` (eigenvector k in column k) to row-major storage of the same matrix.
    @inlinable
    static func transposed<E>(_ z: [E], n: Int) -> [E] {
        var r = z
        for i in 0..<n { for k in 0..<n { r[i * n + k] = z[i + k * n] } }
        return r
    }
}
