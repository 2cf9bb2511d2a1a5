import Testing
import Scalars
import TestSupport

/// + − × ÷ √ fma of simulated formats against MPFR at the format's precision and exponent range, in
/// every rounding mode: zero mismatches. fp8 operands are enumerated exhaustively (all pairs).
@Suite struct SimulatedFloatArithmetic {
    typealias Op = MPFRFormatOracle.Operation

    /// Runs every operation on `pairs` (and `triples` for fma) in `SimulatedFloat<F>` and in MPFR.
    /// Stochastic rounding runs inside a context; the k-th rounding used index k, so the oracle gets the
    /// same random bits.
    func check<F: FloatFormat>(_ format: F.Type, operands: [Double], triples: Int, seed: UInt64) -> Int {
        let oracle = MPFRFormatOracle(F.self)
        typealias S = SimulatedFloat<F>
        let mode = F.rounding
        var mismatches = 0
        var index: UInt64 = 0
        let (streamSeed, stream): (UInt64, UInt64) = (seed, 3)
        func w() -> UInt32 {
            defer { index += 1 }
            return mode == .stochastic ? StochasticRounding.bits(seed: streamSeed, stream: stream, index: index) : 0
        }
        func compare(_ got: S, _ op: Op, _ x: Double, _ y: Double, _ z: Double, _ r: UInt32) {
            let want = oracle.compute(op, x, y, z, mode: mode, random: r)
            if !sameResult(got.value, want) {
                mismatches += 1
                if mismatches <= 8 {
                    Issue.record("\(F.name) \(op) (\(x), \(y), \(z)) r=\(r): got \(got.value), MPFR \(want)")
                }
            }
        }
        // members, made outside the context (a conversion is a rounding and would take an index)
        let members = operands.map { S($0) }
        for (m, x) in zip(members, operands) { #expect(sameResult(m.value, x), "operand \(x) must be a member") }
        StochasticRounding.withContext(seed: streamSeed, stream: stream) {
            for (sx, x) in zip(members, operands) {
                for (sy, y) in zip(members, operands) {
                    var r = w(); compare(sx + sy, .add, x, y, 0, r)
                    r = w(); compare(sx - sy, .subtract, x, y, 0, r)
                    r = w(); compare(sx * sy, .multiply, x, y, 0, r)
                    r = w(); compare(sx / sy, .divide, x, y, 0, r)
                }
                let r = w(); compare(sx.squareRoot(), .squareRoot, x, 0, 0, r)
            }
            var rng = SplitMix64(seed: seed)
            for _ in 0..<triples {
                let i = Int.random(in: 0..<operands.count, using: &rng), j = Int.random(in: 0..<operands.count, using: &rng)
                let k = Int.random(in: 0..<operands.count, using: &rng)
                let r = w()
                compare(S.fusedMultiplyAdd(members[i], members[j], members[k]), .fusedMultiplyAdd,
                        operands[i], operands[j], operands[k], r)
            }
        }
        return mismatches
    }

    func allModes<F: FloatFormat>(_ f: F.Type, count: Int, triples: Int) {
        let ops = EdgeInputs.operands(for: FormatSpec(F.self), count: count, seed: 11)
        #expect(check(Rounded<F, NearestEven>.self, operands: ops, triples: triples, seed: 1) == 0)
        #expect(check(Rounded<F, TowardZero>.self, operands: ops, triples: triples, seed: 2) == 0)
        #expect(check(Rounded<F, Upward>.self, operands: ops, triples: triples, seed: 3) == 0)
        #expect(check(Rounded<F, Downward>.self, operands: ops, triples: triples, seed: 4) == 0)
        #expect(check(Rounded<F, ToOdd>.self, operands: ops, triples: triples, seed: 5) == 0)
        #expect(check(Rounded<F, Stochastic>.self, operands: ops, triples: triples, seed: 6) == 0)
    }

    @Test func fp8E4M3AllPairs() { allModes(FP8E4M3Format.self, count: 0, triples: 30_000) }
    @Test func fp8E4M3SaturatingAllPairs() { allModes(FP8E4M3SaturatingFormat.self, count: 0, triples: 10_000) }
    @Test func fp8E5M2AllPairs() { allModes(FP8E5M2Format.self, count: 0, triples: 30_000) }
    @Test func customWithoutSubnormals() { allModes(CustomNoSubnormalsFormat.self, count: 0, triples: 10_000) }
    @Test func customP6() { allModes(CustomP6Format.self, count: 300, triples: 10_000) }
    @Test func bf16Shaped() { allModes(BFloat16Format.self, count: 300, triples: 10_000) }
    @Test func fp16Shaped() { allModes(Float16Format.self, count: 300, triples: 10_000) }
    @Test func tf32() { allModes(TF32Format.self, count: 200, triples: 10_000) }
}

/// The emulated BFloat16 (and Float16's fused multiply-add) against MPFR, round to nearest even.
@Suite struct BFloat16Arithmetic {
    @Test func basicOperationsAndFMAAreCorrectlyRounded() {
        let oracle = MPFRFormatOracle(.bfloat16)
        let ops = EdgeInputs.operands(for: .bfloat16, count: 500, seed: 5)
        var mismatches = 0
        func compare(_ got: BFloat16, _ op: MPFRFormatOracle.Operation, _ x: Double, _ y: Double, _ z: Double = 0) {
            let want = oracle.compute(op, x, y, z, mode: .nearestEven)
            if !sameResult(Double(got), want) {
                mismatches += 1
                if mismatches <= 8 { Issue.record("bf16 \(op) (\(x), \(y), \(z)): got \(Double(got)), MPFR \(want)") }
            }
        }
        for x in ops {
            let bx = BFloat16(x)
            for y in ops {
                let by = BFloat16(y)
                compare(bx + by, .add, x, y)
                compare(bx - by, .subtract, x, y)
                compare(bx * by, .multiply, x, y)
                compare(bx / by, .divide, x, y)
            }
            compare(bx.squareRoot(), .squareRoot, x, 0)
        }
        var rng = SplitMix64(seed: 9)
        for _ in 0..<200_000 {
            // random bit patterns, with products near the addend so that cancellation and ties occur
            let a = BFloat16(bitPattern: UInt16.random(in: 0...UInt16.max, using: &rng))
            let b = BFloat16(bitPattern: UInt16.random(in: 0...UInt16.max, using: &rng))
            var c = BFloat16(bitPattern: UInt16.random(in: 0...UInt16.max, using: &rng))
            if Bool.random(using: &rng) { c = -(a * b) + BFloat16(bitPattern: UInt16.random(in: 0...0x00FF, using: &rng)) }
            compare(BFloat16.fusedMultiplyAdd(a, b, c), .fusedMultiplyAdd, Double(a), Double(b), Double(c))
            var acc = c; acc.addProduct(a, b)
            compare(acc, .fusedMultiplyAdd, Double(a), Double(b), Double(c))
        }
        #expect(mismatches == 0)
    }

    @Test func float16FusedMultiplyAddIsCorrectlyRounded() {
        let oracle = MPFRFormatOracle(.binary16)
        var rng = SplitMix64(seed: 10)
        var mismatches = 0
        for _ in 0..<200_000 {
            let a = Float16(bitPattern: UInt16.random(in: 0...UInt16.max, using: &rng))
            let b = Float16(bitPattern: UInt16.random(in: 0...UInt16.max, using: &rng))
            var c = Float16(bitPattern: UInt16.random(in: 0...UInt16.max, using: &rng))
            if Bool.random(using: &rng) { c = -(a * b) + Float16(bitPattern: UInt16.random(in: 0...0x00FF, using: &rng)) }
            let want = oracle.compute(.fusedMultiplyAdd, Double(a), Double(b), Double(c), mode: .nearestEven)
            if !sameResult(Double(Float16.fusedMultiplyAdd(a, b, c)), want) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
}
