import Testing
import PropertyBased
import Scalars
import TestSupport

/// Properties of rounding that hold for every input: monotonicity, sign symmetry, idempotence,
/// bit-pattern round trips.
@Suite struct RoundingProperties {
    static let deterministic: [RoundingMode] = [.nearestEven, .towardZero, .up, .down, .odd]

    @Test func roundingIsMonotone() async {
        await propertyCheck(count: 3000, input: Gen.uint32(), Gen.uint32()) { a, b in
            let x = Double(Float(bitPattern: a)), y = Double(Float(bitPattern: b))
            guard !x.isNaN, !y.isNaN else { return }
            let (lo, hi) = x <= y ? (x, y) : (y, x)
            for mode in Self.deterministic {
                for (rl, rh) in [(FP8E4M3Format.round(lo, mode: mode), FP8E4M3Format.round(hi, mode: mode)),
                                 (TF32Format.round(lo, mode: mode), TF32Format.round(hi, mode: mode)),
                                 (CustomNoSubnormalsFormat.round(lo, mode: mode), CustomNoSubnormalsFormat.round(hi, mode: mode))]
                where !rl.isNaN && !rh.isNaN {
                    #expect(rl <= rh, "\(mode): \(lo) ↦ \(rl), \(hi) ↦ \(rh)")
                }
            }
            #expect(Double(BFloat16(Float(lo))) <= Double(BFloat16(Float(hi))))
        }
    }

    @Test func roundingIsSignSymmetric() async {
        await propertyCheck(count: 3000, input: Gen.uint32(), Gen.uint32()) { a, w in
            let x = Double(Float(bitPattern: a))
            guard !x.isNaN else { return }
            for mode: RoundingMode in [.nearestEven, .towardZero, .odd] {
                #expect(sameResult(FP8E5M2Format.round(-x, mode: mode), -FP8E5M2Format.round(x, mode: mode)))
                #expect(sameResult(CustomP6Format.round(-x, mode: mode), -CustomP6Format.round(x, mode: mode)))
            }
            #expect(sameResult(CustomP6Format.round(-x, mode: .up), -CustomP6Format.round(x, mode: .down)))
            // stochastic rounding acts on the magnitude: same draw, mirrored result
            #expect(sameResult(TF32Format.round(-x, mode: .stochastic, random: w),
                               -TF32Format.round(x, mode: .stochastic, random: w)))
            #expect((-BFloat16(Float(x))).bitPattern == BFloat16(Float(-x)).bitPattern)
        }
    }

    @Test func roundingIsIdempotentAndBracketsTheInput() async {
        await propertyCheck(count: 3000, input: Gen.uint32(), Gen.uint32()) { a, w in
            let x = Double(Float(bitPattern: a))
            guard x.isFinite else { return }
            for mode in RoundingMode.allCases {
                let r = FP8E4M3SaturatingFormat.round(x, mode: mode, random: w)
                #expect(FP8E4M3SaturatingFormat.round(r, mode: mode, random: w) == r)
                // within the range, the result is one of the two neighbours
                if abs(x) <= 448 {
                    let down = FP8E4M3SaturatingFormat.round(x, mode: .down)
                    let up = FP8E4M3SaturatingFormat.round(x, mode: .up)
                    #expect(r == down || r == up)
                }
            }
        }
    }

    @Test func bitPatternsRoundTrip() async {
        await propertyCheck(count: 3000, input: Gen.uint16()) { bits in
            let b = BFloat16(bitPattern: bits)
            #expect(BFloat16(bitPattern: b.bitPattern).bitPattern == bits)
            if !b.isNaN {
                #expect(BFloat16(Float(b)).bitPattern == bits)
                #expect(BFloat16(Double(b)).bitPattern == bits)
                #expect(BFloat16(sign: b.sign, exponentBitPattern: b.exponentBitPattern,
                                 significandBitPattern: b.significandBitPattern).bitPattern == bits)
                let h = Float16(bitPattern: bits)
                if !h.isNaN { #expect(RoundingKernels.roundToFloat16Bits([Float(h)]) == [bits]) }
                #expect(RoundingKernels.roundToBFloat16Bits([Float(b)]) == [bits])
            }
        }
    }

    /// `BFloat16.random(in: 0..<1)` never returns 1 (rounding a random Float could: a Float within half a bf16 ulp of 1 rounds up to 1.0).
    @Test func randomStaysInsideTheRange() {
        var rng = SplitMix64(seed: 4)
        var largest = BFloat16(0)
        for _ in 0..<20_000 { largest = max(largest, BFloat16.random(in: 0..<1, using: &rng)) }
        #expect(largest < 1)
        #expect(largest == BFloat16(1).nextDown)
    }
}
