import Scalars
import LinearAlgebra
import COpenBLAS
import CMPFR

/// Issue 3: matrix products under the accumulation models, against OpenBLAS and direct MPFR.
enum LinearAlgebraBenchmarks {
    static var groups: [BenchmarkGroup] {
        [BenchmarkGroup(name: "gemm-bf16-wide", run: bf16Wide),
         BenchmarkGroup(name: "gemm-bf16-perop", run: bf16PerOp),
         BenchmarkGroup(name: "gemm-float-wide", run: floatWide),
         BenchmarkGroup(name: "gemm-mpfr", run: mpfrGEMM)]
    }

    static func randomMatrix(_ n: Int, seed: UInt64) -> [Float] {
        var gen = DataGenerator(seed: seed)
        return (0..<n * n).map { _ in Float(gen.uniform()) }
    }

    /// `cblas_sgemm` on `n × n` Float arrays (the baseline every GEMM row is compared with).
    static func sgemmBody(_ a: [Float], _ b: [Float], _ n: Int) -> () -> Void {
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        c.initialize(repeating: 0, count: n * n)
        return {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n),
                        b, Int32(n), 0, c, Int32(n))
            blackHole(c[n * n / 2])
        }
    }

    static func gflops(_ n: Int, _ seconds: Double) -> Double { 2 * Double(n) * Double(n) * Double(n) / seconds / 1e9 }

    static func bf16Wide(_ settings: Settings) -> [Row] {
        let n = settings.quick ? 256 : 512
        let af = randomMatrix(n, seed: 31), bf = randomMatrix(n, seed: 32)
        let a = try! Matrix(rows: n, columns: n, elements: af.map { BFloat16($0) })
        let b = try! Matrix(rows: n, columns: n, elements: bf.map { BFloat16($0) })
        let r = measure(settings, [sgemmBody(af, bf, n), {
            let c = try! Matrix.product(a, .none, b, .none, accumulation: .wide(.float))
            blackHole(c[n / 2, n / 2].bitPattern)
        }])
        let g = gflops(n, r[1].best), gs = gflops(n, r[0].best)
        return [Row(issue: "3", name: "bf16 GEMM `.wide(.float)` (storage-only), n = \(n)",
                    measured: fmt(g) + " GFLOP/s", baseline: "cblas_sgemm " + fmt(gs) + " GFLOP/s",
                    ratio: fmt(r[1].best / r[0].best) + "× sgemm time", target: "≥ 50 GFLOP/s",
                    verdict: g >= 50 ? .pass : .miss)]
    }

    /// Bit-for-bit check that `Matrix.product(…, .perOperation)` (i-k-j loops, the bf16 row kernel, the
    /// BigFloat kernel) equals `Reduction.dot` entry by entry, for every transpose combination.
    static func verifyPerOperationProduct<T: Scalar>(_: T.Type, same: (T, T) -> Bool) {
        var gen = DataGenerator(seed: 71)
        let (m, k, n) = (7, 33, 5)
        for (ta, tb) in [(Transpose.none, Transpose.none), (.transposed, .none), (.none, .transposed), (.transposed, .transposed)] {
            let a = Matrix<T>(rows: ta == .none ? m : k, columns: ta == .none ? k : m) { _, _ in T(gen.uniform() * 3) }
            let b = Matrix<T>(rows: tb == .none ? k : n, columns: tb == .none ? n : k) { _, _ in T(gen.uniform() * 3) }
            let c = try! Matrix.product(a, ta, b, tb, accumulation: .perOperation)
            for i in 0..<m {
                for j in 0..<n {
                    let d = Reduction.dot(k, { ta == .none ? a[i, $0] : a[$0, i] }, { tb == .none ? b[$0, j] : b[j, $0] },
                                          accumulation: .perOperation)
                    precondition(same(c[i, j], d), "per-op product ≠ dot for \(T.formatName) at (\(i), \(j)), \(ta)/\(tb)")
                }
            }
        }
    }

    static func bf16PerOp(_ settings: Settings) -> [Row] {
        verifyPerOperationProduct(Float.self) { $0.bitPattern == $1.bitPattern }
        verifyPerOperationProduct(BFloat16.self) { $0.bitPattern == $1.bitPattern }
        verifyPerOperationProduct(BigFloat256.self) { $0 == $1 }
        let n = settings.quick ? 128 : 256
        let af = randomMatrix(n, seed: 41), bf = randomMatrix(n, seed: 42)
        let a = try! Matrix(rows: n, columns: n, elements: af.map { BFloat16($0) })
        let b = try! Matrix(rows: n, columns: n, elements: bf.map { BFloat16($0) })
        let r = measure(settings, [sgemmBody(af, bf, n), {
            let c = try! Matrix.product(a, .none, b, .none, accumulation: .perOperation)
            blackHole(c[n / 2, n / 2].bitPattern)
        }])
        let g = gflops(n, r[1].best), gs = gflops(n, r[0].best)
        return [Row(issue: "3", name: "bf16 GEMM `.perOperation` (emulated bf16 accumulator), n = \(n)",
                    measured: fmt(g) + " GFLOP/s", baseline: "cblas_sgemm " + fmt(gs) + " GFLOP/s",
                    ratio: fmt(r[1].best / r[0].best) + "× sgemm time", target: "≥ 1 GFLOP/s",
                    verdict: g >= 1 ? .pass : .miss), fp16PerOp(settings, n: n, af, bf)]
    }

    /// The binary16 per-operation product: the row kernel on bit patterns (B as stored) against the same
    /// product with B given transposed, which takes the strided loop of native `Float16` arithmetic (one
    /// library call per conversion on this target). Same values, same operations per entry.
    static func fp16PerOp(_ settings: Settings, n: Int, _ af: [Float], _ bf: [Float]) -> Row {
        verifyPerOperationProduct(Float16.self) { $0.bitPattern == $1.bitPattern }
        let a = try! Matrix(rows: n, columns: n, elements: af.map { Float16($0) })
        let b = try! Matrix(rows: n, columns: n, elements: bf.map { Float16($0) })
        let bT = b.transposed
        let r = measure(settings, [{
            let c = try! Matrix.product(a, .none, bT, .transposed, accumulation: .perOperation)
            blackHole(c[n / 2, n / 2].bitPattern)
        }, {
            let c = try! Matrix.product(a, .none, b, .none, accumulation: .perOperation)
            blackHole(c[n / 2, n / 2].bitPattern)
        }])
        let g = gflops(n, r[1].best), gs = gflops(n, r[0].best)
        return Row(issue: "3", name: "fp16 GEMM `.perOperation`, n = \(n): row kernel on bit patterns",
                   measured: fmt(g) + " GFLOP/s", baseline: "native Float16 loop (strided B) " + fmt(gs) + " GFLOP/s",
                   ratio: fmt(r[1].best / r[0].best) + "× native time", target: "report", verdict: .info)
    }

    static func floatWide(_ settings: Settings) -> [Row] {
        var rows = [Row]()
        for n in settings.quick ? [256] : [256, 512] {
            let af = randomMatrix(n, seed: 51), bf = randomMatrix(n, seed: 52)
            let a = try! Matrix(rows: n, columns: n, elements: af), b = try! Matrix(rows: n, columns: n, elements: bf)
            let r = measure(settings, [sgemmBody(af, bf, n), {
                let c = try! Matrix.product(a, .none, b, .none, accumulation: .wide(.float))
                blackHole(c[n / 2, n / 2])
            }])
            let ratio = r[1].best / r[0].best
            rows.append(Row(issue: "3", name: "generic `Matrix<Float>.product` `.wide(.float)` (BLAS fast path), n = \(n)",
                            measured: fmt(gflops(n, r[1].best)) + " GFLOP/s",
                            baseline: "cblas_sgemm " + fmt(gflops(n, r[0].best)) + " GFLOP/s",
                            ratio: fmt(ratio) + "×", target: "≤ 1.10× sgemm time", verdict: ratio <= 1.10 ? .pass : .miss))
        }
        return rows
    }

    /// The reference loop: `c_ij = Σ_k a_ik b_kj` per operation (multiply rounded, add rounded, k in
    /// order), calling MPFR directly on pre-initialised `mpfr_t`s.
    static func directMPFRGEMM(_ a: UnsafeMutablePointer<__mpfr_struct>, _ b: UnsafeMutablePointer<__mpfr_struct>,
                               _ c: UnsafeMutablePointer<__mpfr_struct>, _ s: UnsafeMutablePointer<__mpfr_struct>,
                               _ t: UnsafeMutablePointer<__mpfr_struct>, _ n: Int) {
        for i in 0..<n {
            for j in 0..<n {
                mpfr_set_zero(s, 1)
                for k in 0..<n {
                    mpfr_mul(t, a + i * n + k, b + k * n + j, MPFR_RNDN)
                    mpfr_add(s, s, t, MPFR_RNDN)
                }
                mpfr_set(c + i * n + j, s, MPFR_RNDN)
            }
        }
    }

    static func mpfrGEMM(_ settings: Settings) -> [Row] {
        typealias B = BigFloat256
        let n = settings.quick ? 32 : 64
        let bits = 256
        var gen = DataGenerator(seed: 61)
        let av = (0..<n * n).map { _ in gen.uniform() }, bv = (0..<n * n).map { _ in gen.uniform() }
        let ra = ScalarBenchmarks.RawMPFRArray(precision: bits, values: av)
        let rb = ScalarBenchmarks.RawMPFRArray(precision: bits, values: bv)
        let rc = ScalarBenchmarks.RawMPFRArray(precision: bits, values: [Double](repeating: 0, count: n * n))
        let tmp = ScalarBenchmarks.RawMPFRArray(precision: bits, values: [0, 0])
        let a = try! Matrix(rows: n, columns: n, elements: av.map { B($0) })
        let b = try! Matrix(rows: n, columns: n, elements: bv.map { B($0) })
        // same numbers: the library's per-op product equals the direct loop bit for bit
        directMPFRGEMM(ra.pointer, rb.pointer, rc.pointer, tmp.pointer, tmp.pointer + 1, n)
        let check = try! Matrix.product(a, .none, b, .none, accumulation: .perOperation)
        for i in 0..<n * n {
            // 79 significant digits identify a 256-bit value uniquely (⌈1 + 256·log10 2⌉ = 79)
            var buffer = [CChar](repeating: 0, count: 128)
            _ = mantissa_mpfr_snprint_g(&buffer, buffer.count, 79, rc.pointer + i)
            let direct = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            precondition(check.elements[i].formatted(significantDigits: 79) == direct, "MPFR GEMM mismatch at \(i)")
        }
        let r = measure(settings, [{
            directMPFRGEMM(ra.pointer, rb.pointer, rc.pointer, tmp.pointer, tmp.pointer + 1, n)
            blackHole(mpfr_get_d(rc.pointer + n * n / 2, MPFR_RNDN))
        }, {
            let c = try! Matrix.product(a, .none, b, .none, accumulation: .perOperation)
            blackHole(c.elements[n * n / 2].doubleValue)
        }])
        withExtendedLifetime((ra, rb, rc, tmp)) {}
        let ratio = r[1].best / r[0].best
        return [Row(issue: "3", name: "MPFR-256 GEMM `Matrix<BigFloat256>` `.perOperation`, n = \(n)",
                    measured: fmtTime(r[1].best), baseline: "direct mpfr_mul/mpfr_add loop " + fmtTime(r[0].best),
                    ratio: fmt(ratio) + "×", target: "≤ 1.20× direct", verdict: ratio <= 1.20 ? .pass : .miss)]
    }
}
