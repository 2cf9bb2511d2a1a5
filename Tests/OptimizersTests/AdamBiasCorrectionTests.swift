import Testing
import Scalars
import Optimizers

/// Adam's bias corrections held in the Moments type (Docs/Optimizers.md §3.2 step 4, §3.4, §1.3 item 4):
/// `c = 1 − β_M^t` with the power one operation of `M` — the exact `β_M^t` rounded into `M` once — and
/// the subtraction rounded in `M`. Not `t − 1` roundings of repeated multiplication in `M`.
@Suite struct AdamBiasCorrection {
    /// `β_M^t` by repeated multiplication in Double is exact while `t·p ≤ 53` (each product of a `p`-bit
    /// number with a `(k·p)`-bit one has at most `(k+1)·p` bits), so `M(exact)` is one rounding.
    static func check<M: Scalar>(_: M.Type, steps: ClosedRange<Int>) {
        let (beta1, beta2) = (0.9, 0.99)
        let adam = Adam<Uniform<M>>(.init(beta1: beta1, beta2: beta2, biasCorrection: .moments))
        var differsFromRepeatedProduct = false
        for t in steps {
            precondition(t * M.significandPrecision <= 53)
            let (c1, c2) = adam.biasCorrections(step: t)
            for (beta, c) in [(beta1, c1), (beta2, c2)] {
                let b = M(beta)
                var exact = 1.0
                for _ in 0..<t { exact *= b.doubleValue }
                let expected = (M(1) - M(exact)).doubleValue
                #expect(c == expected, "\(M.formatName): 1 − β^\(t) for β = \(beta): \(c), expected \(expected)")
                var repeated = b
                for _ in 1..<t { repeated = repeated * b }
                if (M(1) - repeated).doubleValue != expected { differsFromRepeatedProduct = true }
            }
        }
        // the two readings differ on these steps, so the test tells them apart
        #expect(differsFromRepeatedProduct, "\(M.formatName): choose steps where the readings differ")
    }

    @Test func momentsBiasCorrectionRoundsThePowerOnce() {
        Self.check(BFloat16.self, steps: 1...6)
        Self.check(Float16.self, steps: 1...4)
    }

    /// `.double` is PyTorch's, from the unrounded β: bf16 rounds β2 = 0.999 to 1 (§1.3 item 1), so
    /// `.moments` gives `c2 = 1 − 1^t = 0` while `.double` gives `1 − 0.999^t > 0`.
    @Test func doubleBiasCorrectionUsesTheUnroundedBeta() {
        let double = Adam<Uniform<BFloat16>>(.init(beta1: 0.9, beta2: 0.999, biasCorrection: .double))
        let moments = Adam<Uniform<BFloat16>>(.init(beta1: 0.9, beta2: 0.999, biasCorrection: .moments))
        #expect(double.biasCorrections(step: 3).c2 > 0)
        #expect(moments.biasCorrections(step: 3).c2 == 0)
    }
}
