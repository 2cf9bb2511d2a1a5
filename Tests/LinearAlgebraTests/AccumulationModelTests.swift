import Testing
import Scalars
import LinearAlgebra
import TestSupport

@Suite struct AccumulationModels {
    /// In bf16 (p = 8) 256 + 1 is a tie between 256 and 258 and rounds to even (256): a recursive
    /// per-operation sum of ones stagnates at 2^8 = 256 exactly.
    @Test func perOperationBF16SumOfOnesStagnatesAt256() {
        let ones = [BFloat16](repeating: 1, count: 10_000)
        #expect(Reduction.sum(ones, accumulation: .perOperation) == 256)
    }

    /// A Float accumulator represents every integer up to 2^24: the sum is 10^4, then rounded once to
    /// bf16 (10^4 rounds to 9984 or 10048; RNE gives the nearest, 10048 is 48 away, 9984 is 16 away).
    @Test func wideAccumulationDoesNotStagnate() {
        let ones = [BFloat16](repeating: 1, count: 10_000)
        #expect(Reduction.sum(ones, accumulation: .wide(.float)) == BFloat16(Float(10_000)))
        #expect(Reduction.sum(ones, accumulation: .wide(.float)) == 9984)
    }

    /// Kahan summation in bf16 recovers the correctly rounded sum (error ≤ 2u·Σ|x| + O(nu²)).
    @Test func compensatedSummationRecovers() {
        let ones = [BFloat16](repeating: 1, count: 10_000)
        let s = Reduction.sum(ones, accumulation: .compensated).doubleValue
        #expect(abs(s - 10_000) <= 2 * BFloat16.unitRoundoff * 10_000 + 10_000 * BFloat16.unitRoundoff * BFloat16.unitRoundoff * 10_000)
    }

    @Test func modelNamesRoundTrip() throws {
        let models: [AccumulationModel] = [.perOperation, .wide(.float), .wide(.double), .compensated,
                                           .blockFMA(blockSize: 4, accumulator: .scalar),
                                           .blockFMA(blockSize: 32, accumulator: .float)]
        for m in models { #expect(try AccumulationModel(name: m.name) == m) }
        #expect(throws: AccumulationModelError.self) { try AccumulationModel(name: "wide-fp8") }
    }
}

@Suite struct Products {
    static func pseudoRandom(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix<Double> {
        var state = seed
        return Matrix(rows: rows, columns: cols) { _, _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(Int64(bitPattern: state >> 11) % 2001 - 1000) / 997
        }
    }

    /// Every entry of a per-operation product satisfies the forward bound |ĉ − c| ≤ γ_K Σ|a||b|
    /// against the exact (Double, here exact enough: 53 ≫ 8 bits) product of the same rounded inputs.
    @Test(arguments: [AccumulationModel.perOperation, .compensated, .wide(.float), .wide(.double),
                      .blockFMA(blockSize: 8, accumulator: .scalar), .blockFMA(blockSize: 8, accumulator: .float)])
    func bf16ProductWithinForwardBound(model: AccumulationModel) throws {
        let a = Self.pseudoRandom(7, 33, seed: 1).converted(to: BFloat16.self)
        let b = Self.pseudoRandom(33, 5, seed: 2).converted(to: BFloat16.self)
        let c = try matmul(a, b, accumulation: model)
        let exact = try matmul(a.converted(to: Double.self), b.converted(to: Double.self), accumulation: .perOperation)
        let absA = a.converted(to: Double.self).map { abs($0) }, absB = b.converted(to: Double.self).map { abs($0) }
        let magnitude = try matmul(absA, absB, accumulation: .perOperation)
        // Per-op: γ_K; the others are tighter, but all satisfy γ_K + u (final rounding) in bf16.
        let bound = BFloat16.gammaBound(33) + BFloat16.unitRoundoff
        for i in 0..<c.rows { for j in 0..<c.columns {
            #expect(abs(c[i, j].doubleValue - exact[i, j]) <= bound * magnitude[i, j] * (1 + 0x1p-40))
        } }
    }

    /// The binary16 per-operation product (its row kernel computes on bit patterns) gives exactly the
    /// bits of the textbook loop `s ← 0; s ← s + a_ik·b_kj` in `Float16` arithmetic, over entries from
    /// subnormal to near-overflow (so sums overflow to ∞ and ∞ − ∞ makes NaN), with ±0, ±∞ and NaNs
    /// of both signs and several payloads planted, for every operand layout. NaN results only need to
    /// be NaN: which operand's payload an operation passes on is not specified (IEEE 754 §6.2.3), and
    /// the compiler may commute the operands of `+` and `*`, so two native loops can differ there too.
    @Test func float16PerOperationProductEqualsTheScalarLoopBitForBit() throws {
        typealias H = Float16
        var rng = SplitMix64(seed: 0xF16)
        let planted: [H] = [0, -0, .infinity, -.infinity, H(bitPattern: 0x7E00), H(bitPattern: 0xFE01),
                            H(bitPattern: 0x7D55), .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude]
        func entry() -> H {
            if rng.next() % 16 == 0 { return planted[Int(rng.next() % UInt64(planted.count))] }
            let e = Int(rng.next() % 36) - 25                          // 2^−25 … 2^10: subnormal to large
            return H(rng.nextGaussian() * Double(sign: .plus, exponent: e, significand: 1))
        }
        func same(_ x: Matrix<H>, _ y: Matrix<H>) -> Bool {
            x.rows == y.rows && x.columns == y.columns
                && zip(x.elements, y.elements).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
        }
        for (m, k, n) in [(7, 13, 9), (1, 40, 33), (16, 5, 1)] {
            let a = Matrix<H>(rows: m, columns: k) { _, _ in entry() }, b = Matrix<H>(rows: k, columns: n) { _, _ in entry() }
            let oracle = DenseOracle.product(a, b)
            #expect(oracle.elements.contains { $0.isNaN } && oracle.elements.contains { $0.isInfinite } || m * n < 20)
            #expect(same(try Matrix.product(a, .none, b, .none, accumulation: .perOperation), oracle))
            #expect(same(try Matrix.product(a.transposed, .transposed, b, .none, accumulation: .perOperation), oracle))
            #expect(same(try Matrix.product(a, .none, b.transposed, .transposed, accumulation: .perOperation), oracle))
        }
    }

    @Test func transposedOperandsMatchExplicitTranspose() throws {
        let a = Self.pseudoRandom(6, 4, seed: 3), b = Self.pseudoRandom(5, 4, seed: 4)
        let abT = try Matrix.product(a, .none, b, .transposed, accumulation: .perOperation)
        #expect(abT == (try matmul(a, b.transposed, accumulation: .perOperation)))
        let aTa = try Matrix.product(a, .transposed, a, .none, accumulation: .perOperation)
        #expect(aTa == (try matmul(a.transposed, a, accumulation: .perOperation)))
    }

    /// dgemm (wide-fp64 on Double) agrees with the generic per-op product within γ_K of Σ|a||b|, and is
    /// bit-identical across repeated calls (one BLAS thread).
    @Test func blasPathAgreesWithGenericAndIsReproducible() throws {
        let a = Self.pseudoRandom(40, 70, seed: 5), b = Self.pseudoRandom(70, 30, seed: 6)
        let blas = try matmul(a, b, accumulation: .wide(.double))
        let generic = try matmul(a, b, accumulation: .perOperation)
        let magnitude = try matmul(a.map { abs($0) }, b.map { abs($0) }, accumulation: .perOperation)
        for i in 0..<blas.count {
            #expect(abs(blas.elements[i] - generic.elements[i]) <= 2 * Double.gammaBound(70) * magnitude.elements[i])
        }
        for _ in 0..<3 { #expect(try matmul(a, b, accumulation: .wide(.double)) == blas) }
        let af = a.converted(to: Float.self), bf = b.converted(to: Float.self)
        let sg = try matmul(af, bf, accumulation: .wide(.float))
        let gf = try matmul(af, bf, accumulation: .perOperation)
        let magnitudeF = try matmul(af.converted(to: Double.self).map { abs($0) }, bf.converted(to: Double.self).map { abs($0) },
                                    accumulation: .perOperation)
        for i in 0..<sg.count {
            // both within γ_70(fp32)·Σ|a||b| of the exact product of the Float inputs
            #expect(abs(Double(sg.elements[i]) - Double(gf.elements[i])) <= 2 * Float.gammaBound(70) * magnitudeF.elements[i])
        }
    }

    @Test func shapeMismatchNamesBothShapes() {
        let a = Matrix<Float>(rows: 2, columns: 3), b = Matrix<Float>(rows: 4, columns: 2)
        #expect(throws: ShapeError.self) { try matmul(a, b, accumulation: .perOperation) }
        do { _ = try matmul(a, b, accumulation: .perOperation) } catch {
            #expect(error.description.contains("2×3") && error.description.contains("4×2"))
        }
    }
}
