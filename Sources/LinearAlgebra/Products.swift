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
        // op(A)(i, k) = a[i·aRow + k·aK], op(B)(k, j) = b[k·bK + j·bCol]: strides instead of closures
        // chosen at run time, so the accessors inline into plain loads.
        let lda = a.columns, ldb = b.columns
        let (aRow, aK) = ta == .none ? (lda, 1) : (1, lda)
        let (bK, bCol) = tb == .none ? (ldb, 1) : (1, ldb)
        if case .perOperation = accumulation, m > 0, n > 0 {
            if let kernel = T.self as? any _PerOperationProductKernel.Type {
                c = _perOperationProduct(kernel, a, b, m: m, n: n, k: ka, aRow: aRow, aK: aK, bK: bK, bCol: bCol)
                return c
            }
            // i-k-j order: entry (i, j) still sees exactly `s ← s + a_ik·b_kj` for k = 0, 1, …, K−1
            // starting from zero (the per-operation `dot`), but the j loop is contiguous in C.
            a.storage.withUnsafeBufferPointer { ab in
                b.storage.withUnsafeBufferPointer { bb in
                    c.storage.withUnsafeMutableBufferPointer { cb in
                        for i in 0..<m {
                            let row = i * n
                            for kk in 0..<ka {
                                let aik = ab[i * aRow + kk * aK]
                                let bBase = kk * bK
                                if bCol == 1, T.self == BFloat16.self {
                                    _bf16MultiplyAddRow(cb.baseAddress! + row, bb.baseAddress! + bBase, aik, n)
                                } else if bCol == 1, T.self == Float16.self {
                                    _fp16MultiplyAddRow(cb.baseAddress! + row, bb.baseAddress! + bBase, aik, n)
                                } else if bCol == 1 {
                                    for j in 0..<n { cb[row + j] = cb[row + j] + aik * bb[bBase + j] }
                                } else {
                                    for j in 0..<n { cb[row + j] = cb[row + j] + aik * bb[bBase + j * bCol] }
                                }
                            }
                        }
                    }
                }
            }
            return c
        }
        a.storage.withUnsafeBufferPointer { ab in
            b.storage.withUnsafeBufferPointer { bb in
                c.storage.withUnsafeMutableBufferPointer { cb in
                    for i in 0..<m {
                        for j in 0..<n {
                            cb[i * n + j] = Reduction.dot(ka, { ab[i * aRow + $0 * aK] }, { bb[$0 * bK + j * bCol] },
                                                          accumulation: accumulation)
                        }
                    }
                }
            }
        }
        return c
    }

    /// `c[j] ← c[j] + a·b[j]` for `j < n` in binary16, each product and sum rounded once to nearest even:
    /// the same bits as `Float16`'s `*` and `+` where the target has no binary16 arithmetic (baseline
    /// x86-64), which compute in binary32 and round once (exact for products and sums of binary16 values:
    /// 24 ≥ 2·11 + 2 bits, so the double rounding is innocuous). There each conversion is a library call
    /// (`__extendhfsf2`, `__truncsfhf2`), 70% of an fp16 training run; here the conversions are the
    /// branch-free `RoundingKernels._float16ToFloatBits` and `_float16Bits`, and the loop vectorises.
    /// The patterns are read and written through raw memory (binary16 and UInt16 are not related types).
    @inlinable
    internal static func _fp16MultiplyAddRow(_ c: UnsafeMutablePointer<T>, _ b: UnsafePointer<T>, _ a: T, _ n: Int) {
        let af = Float(unsafeBitCast(a, to: Float16.self))
        let cRaw = UnsafeMutableRawPointer(c), bRaw = UnsafeRawPointer(b)
        for j in 0..<n {
            let bj = Float(bitPattern: RoundingKernels._float16ToFloatBits(bRaw.load(fromByteOffset: 2 * j, as: UInt16.self)))
            let p = RoundingKernels._float16Bits((af * bj).bitPattern)
            let cj = Float(bitPattern: RoundingKernels._float16ToFloatBits(cRaw.load(fromByteOffset: 2 * j, as: UInt16.self)))
            let s = cj + Float(bitPattern: RoundingKernels._float16ToFloatBits(p))
            cRaw.storeBytes(of: RoundingKernels._float16Bits(s.bitPattern), toByteOffset: 2 * j, as: UInt16.self)
        }
    }

    /// `c[j] ← c[j] + a·b[j]` for `j < n` in bfloat16, each product and sum rounded once to nearest even:
    /// exactly `BFloat16`'s `+` and `*` (computed in Float, rounded by `BFloat16._roundedBits`), written on
    /// the bit patterns so that the loop vectorises.
    @inlinable
    internal static func _bf16MultiplyAddRow(_ c: UnsafeMutablePointer<T>, _ b: UnsafePointer<T>, _ a: T, _ n: Int) {
        let af = Float(unsafeBitCast(a, to: BFloat16.self))
        // BFloat16 is a frozen struct whose only stored property is its UInt16 pattern, so the two types
        // are layout compatible and may alias (a struct and its field's type are related for aliasing).
        // (`withMemoryRebound` closures are not specialised here and lose the vectorisation.)
        let cBits = UnsafeMutableRawPointer(c).assumingMemoryBound(to: UInt16.self)
        let bBits = UnsafeRawPointer(b).assumingMemoryBound(to: UInt16.self)
        for j in 0..<n {
            let p = af * Float(bitPattern: UInt32(bBits[j]) &<< 16)
            let pr = UInt32(BFloat16._roundedBits(fromFloatBits: p.bitPattern)) &<< 16
            let s = Float(bitPattern: UInt32(cBits[j]) &<< 16) + Float(bitPattern: pr)
            cBits[j] = BFloat16._roundedBits(fromFloatBits: s.bitPattern)
        }
    }

    /// The per-operation product through a scalar's own kernel (`_PerOperationProductKernel`).
    @inlinable
    internal static func _perOperationProduct(
        _ kernel: any _PerOperationProductKernel.Type, _ a: Matrix, _ b: Matrix,
        m: Int, n: Int, k: Int, aRow: Int, aK: Int, bK: Int, bCol: Int
    ) -> Matrix {
        func run<K: _PerOperationProductKernel>(_: K.Type) -> [T] {
            precondition(K.self == T.self)
            // K is T (checked above): reinterpret the arrays without an element-by-element cast
            let c = K._perOperationProduct(m: m, n: n, k: k, a: unsafeBitCast(a.storage, to: [K].self), aRow: aRow, aK: aK,
                                           b: unsafeBitCast(b.storage, to: [K].self), bK: bK, bCol: bCol)
            return unsafeBitCast(c, to: [T].self)
        }
        return try! Matrix(rows: m, columns: n, elements: run(kernel))
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
            // T is Double (checked): reinterpret the storage instead of casting element by element
            let ad = unsafeBitCast(a.storage, to: [Double].self), bd = unsafeBitCast(b.storage, to: [Double].self)
            let cd = [Double](unsafeUninitializedCapacity: m * n) { buffer, count in
                // beta = 0: C is written, never read
                cblas_dgemm(CblasRowMajor, transA, transB, Int32(m), Int32(n), Int32(k), 1, ad, Int32(a.columns),
                            bd, Int32(b.columns), 0, buffer.baseAddress, Int32(n))
                count = m * n
            }
            return try! Matrix(rows: m, columns: n, elements: unsafeBitCast(cd, to: [T].self))
        case .float:
            guard T.self == Float.self || T.significandPrecision <= 12 else { return nil }
            guard T.maximumExponent <= 127 else { return nil }
            let af = floatElements(a.storage), bf = floatElements(b.storage)
            let cf = [Float](unsafeUninitializedCapacity: m * n) { buffer, count in
                // beta = 0: C is written, never read
                cblas_sgemm(CblasRowMajor, transA, transB, Int32(m), Int32(n), Int32(k), 1, af, Int32(a.columns),
                            bf, Int32(b.columns), 0, buffer.baseAddress, Int32(n))
                count = m * n
            }
            if T.self == Float.self { return try! Matrix(rows: m, columns: n, elements: unsafeBitCast(cf, to: [T].self)) }
            if T.self == BFloat16.self {
                // BFloat16(Float) is the same single round-to-nearest-even as BFloat16(Double(x)) (x is exact
                // in Double), done with the array kernel instead of per-element through Double
                let ct = [T](unsafeUninitializedCapacity: m * n) { buffer, count in
                    // BFloat16 is a frozen struct over its UInt16 pattern: write the patterns in place
                    let dst = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt16.self)
                    cf.withUnsafeBufferPointer { src in
                        for i in 0..<src.count { dst[i] = BFloat16._roundedBits(fromFloatBits: src[i].bitPattern) }
                    }
                    count = m * n
                }
                return try! Matrix(rows: m, columns: n, elements: ct)
            }
            return try! Matrix(rows: m, columns: n, elements: cf.map { T(Double($0)) })
        }
    }

    /// The elements as Floats: exact for every `T` the `.float` BLAS path admits (Float itself, or
    /// formats with ≤ 12-bit significands inside binary32's range). Float and BFloat16 are converted
    /// without going through Double.
    @inlinable
    internal static func floatElements(_ x: [T]) -> [Float] {
        if T.self == Float.self { return unsafeBitCast(x, to: [Float].self) }
        if T.self == BFloat16.self {
            // a bfloat16 pattern is the top half of its binary32 pattern
            // (pointer casts, not `withMemoryRebound`: see `_bf16MultiplyAddRow`)
            return [Float](unsafeUninitializedCapacity: x.count) { buffer, count in
                x.withUnsafeBufferPointer { xb in
                    guard let base = xb.baseAddress else { return }
                    let src = UnsafeRawPointer(base).assumingMemoryBound(to: UInt16.self)
                    for i in 0..<xb.count { buffer[i] = Float(bitPattern: UInt32(src[i]) &<< 16) }
                }
                count = x.count
            }
        }
        return x.map { Float($0.doubleValue) }
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
    ///
    /// Read once per process: with `DYNAMIC_ARCH`, OpenBLAS 0.3.21 appends the core name to a
    /// static buffer on every call, so a second call returns "…Zen MAX_THREADS=64Zen MAX_THREADS=64"
    /// and a provenance check in the same process would see a machine change that never happened.
    public static var configuration: String { cachedConfiguration }

    private static let cachedConfiguration: String = {
        ensureSingleThreaded()
        let config = String(cString: openblas_get_config())
        let core = String(cString: openblas_get_corename())
        return "\(config); core \(core); threads \(openblas_get_num_threads())"
    }()
}
