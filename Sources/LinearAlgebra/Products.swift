import Scalars
import COpenBLAS

/// Whether an operand enters a product as stored or transposed (without materialising the transpose).
public enum Transpose: Sendable, Hashable {
    case none
    case transposed
}

extension Matrix {
    /// `op(A)·op(B)` under an accumulation model.
    ///
    /// Entry `(i, j)` is the dot product of row `i` of `op(A)` and column `j` of `op(B)` with exactly
    /// the semantics of `Reduction.dot` (order `k = 0…K−1`), except for `.wide`, whose order is
    /// unspecified: for `Float` and for formats whose significands fit 12 bits (bf16, fp16, fp8, tf32)
    /// with a Float accumulator, and for `Double` with a Double accumulator, it calls
    /// `cblas_sgemm`/`cblas_dgemm` on one thread. For 12-bit-or-narrower significands every product is
    /// exact in Float, so the sgemm path and the generic wide path differ only by summation order:
    /// both satisfy `|ĉ − c| ≤ (γ_K(fp32) · Σ|aᵢₖ bₖⱼ|) + u_T |c|`.
    @inlinable
    public static func product(
        _ a: Matrix, _ ta: Transpose = .none, _ b: Matrix, _ tb: Transpose = .none,
        accumulation: AccumulationModel
    ) throws(ShapeError) -> Matrix {
        let m = ta == .none ? a.rows : a.columns
        let ka = ta == .none ? a.columns : a.rows
        let kb = tb == .none ? b.rows : b.columns
        let n = tb == .none ? b.columns : b.rows
        guard ka == kb else {
            throw ShapeError(operation: "product",
                             detail: "op(A) is \(m)×\(ka), op(B) is \(kb)×\(n)")
        }
        if case .wide(let w) = accumulation, let fast = blasProduct(a, ta, b, tb, m: m, k: ka, n: n, accumulator: w) {
            return fast
        }
        var c = Matrix(rows: m, columns: n)
        a.storage.withUnsafeBufferPointer { ab in
            b.storage.withUnsafeBufferPointer { bb in
                c.storage.withUnsafeMutableBufferPointer { cb in
                    let lda = a.columns, ldb = b.columns
                    for i in 0..<m {
                        for j in 0..<n {
                            let aAt: (Int) -> T = ta == .none ? { ab[i * lda + $0] } : { ab[$0 * lda + i] }
                            let bAt: (Int) -> T = tb == .none ? { bb[$0 * ldb + j] } : { bb[j * ldb + $0] }
                            cb[i * n + j] = Reduction.dot(ka, aAt, bAt, accumulation: accumulation)
                        }
                    }
                }
            }
        }
        return c
    }

    /// OpenBLAS path for the wide model, or nil when the model/type do not allow it.
    @inlinable
    internal static func blasProduct(
        _ a: Matrix, _ ta: Transpose, _ b: Matrix, _ tb: Transpose, m: Int, k: Int, n: Int,
        accumulator: AccumulationModel.WideAccumulator
    ) -> Matrix? {
        guard m > 0, n > 0, k > 0 else { return nil }
        BLAS.ensureSingleThreaded()
        let transA = ta == .none ? CblasNoTrans : CblasTrans
        let transB = tb == .none ? CblasNoTrans : CblasTrans
        switch accumulator {
        case .double:
            guard T.self == Double.self else { return nil }
            let ad = a.storage as! [Double], bd = b.storage as! [Double]
            var cd = [Double](repeating: 0, count: m * n)
            cblas_dgemm(CblasRowMajor, transA, transB, Int32(m), Int32(n), Int32(k), 1, ad, Int32(a.columns),
                        bd, Int32(b.columns), 0, &cd, Int32(n))
            return try! Matrix(rows: m, columns: n, elements: cd as! [T])
        case .float:
            guard T.self == Float.self || T.significandPrecision <= 12 else { return nil }
            guard T.maximumExponent <= 127 else { return nil }
            let af: [Float] = T.self == Float.self ? a.storage as! [Float] : a.storage.map { Float($0.doubleValue) }
            let bf: [Float] = T.self == Float.self ? b.storage as! [Float] : b.storage.map { Float($0.doubleValue) }
            var cf = [Float](repeating: 0, count: m * n)
            cblas_sgemm(CblasRowMajor, transA, transB, Int32(m), Int32(n), Int32(k), 1, af, Int32(a.columns),
                        bf, Int32(b.columns), 0, &cf, Int32(n))
            if T.self == Float.self { return try! Matrix(rows: m, columns: n, elements: cf as! [T]) }
            return try! Matrix(rows: m, columns: n, elements: cf.map { T(Double($0)) })
        }
    }

    /// Matrix–vector product `op(A)·x` under the model.
    @inlinable
    public func times(_ x: [T], _ t: Transpose = .none, accumulation: AccumulationModel) throws(ShapeError) -> [T] {
        let v = try Matrix(rows: x.count, columns: 1, elements: x)
        return try Matrix.product(self, t, v, .none, accumulation: accumulation).storage
    }
}

/// `A·B` under an accumulation model; throws with both shapes on mismatch.
@inlinable
public func matmul<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>, accumulation: AccumulationModel) throws(ShapeError) -> Matrix<T> {
    try Matrix.product(a, .none, b, .none, accumulation: accumulation)
}

/// One-time OpenBLAS configuration: a single thread, so results are bit-reproducible and cells can
/// run in parallel without oversubscription.
public enum BLAS {
    @usableFromInline static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    @inlinable
    public static func ensureSingleThreaded() { _ = configured }

    /// `openblas_get_config()` and core name, for manifests.
    public static var configuration: String {
        ensureSingleThreaded()
        let config = String(cString: openblas_get_config())
        let core = String(cString: openblas_get_corename())
        return "\(config); core \(core); threads \(openblas_get_num_threads())"
    }
}
