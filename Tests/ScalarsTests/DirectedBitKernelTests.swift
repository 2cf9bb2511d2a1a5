import Testing
import Scalars
import TestSupport

/// The binary16 and bfloat16 bit kernels in every deterministic mode (issue 18), against MPFR at each
/// format's precision and range (`MPFRFormatOracle`, independent of the kernels) on a strided sweep of all
/// binary32 patterns and on the edge-dense inputs (members, midpoints and their neighbours, both sides of
/// the subnormal boundary and of overflow, ±0, ±∞, NaNs); and against the scalar rounding
/// (`FloatFormat.round`, binary64 arithmetic) on a finer sweep. The long tier runs all 2^32 patterns.
@Suite struct DirectedBitKernelTests {
    /// Every `stride`-th binary32 pattern (a stride prime to 2^32, so every exponent and sign is visited).
    static func sweep(stride: UInt32) -> [Float] {
        let count = Int(UInt64(1 << 32) / UInt64(stride))
        return (0..<count).map { Float(bitPattern: UInt32(truncatingIfNeeded: UInt64($0) * UInt64(stride))) }
    }

    static func value(bf16 b: UInt16) -> Double { Double(Float(BFloat16(bitPattern: b))) }
    static func value(fp16 b: UInt16) -> Double { Double(Float16(bitPattern: b)) }

    /// Mismatches of `kernel` against `want` on `xs`, NaN inputs checked to stay quiet NaNs with their sign.
    static func mismatches(_ xs: [Float], _ out: [UInt16], value: (UInt16) -> Double, want: (Float) -> Double,
                           label: String) -> Int {
        var bad = 0
        for (x, b) in zip(xs, out) {
            let got = value(b)
            let ok: Bool
            if x.isNaN {
                ok = got.isNaN && got.sign == x.sign && !(label.hasPrefix("fp16") ? Float16(bitPattern: b).isSignalingNaN
                                                                                   : BFloat16(bitPattern: b).isSignalingNaN)
            } else {
                ok = sameResult(got, want(x))
            }
            if !ok {
                bad += 1
                if bad < 5 { Issue.record("\(label) x = \(x) (\(String(x.bitPattern, radix: 16))): kernel \(got), expected \(want(x))") }
            }
        }
        return bad
    }

    @Test(arguments: DeterministicRounding.allCases)
    func kernelsMatchMPFROnAStridedSweepAndTheEdges(mode: DeterministicRounding) {
        let xs = Self.sweep(stride: 65_537) + EdgeInputs.floats(for: .binary16) + EdgeInputs.floats(for: .bfloat16)
        let half = MPFRFormatOracle(.binary16), bf = MPFRFormatOracle(.bfloat16)
        let h = RoundingKernels.roundToFloat16Bits(xs, mode: mode)
        let b = RoundingKernels.roundToBFloat16Bits(xs, mode: mode)
        #expect(Self.mismatches(xs, h, value: Self.value(fp16:), want: { half.round(Double($0), mode: mode.mode) },
                                label: "fp16 \(mode)") == 0)
        #expect(Self.mismatches(xs, b, value: Self.value(bf16:), want: { bf.round(Double($0), mode: mode.mode) },
                                label: "bf16 \(mode)") == 0)
    }

    @Test(arguments: DeterministicRounding.allCases)
    func kernelsMatchTheScalarRoundingOnAFineSweep(mode: DeterministicRounding) {
        let xs = Self.sweep(stride: 4_093)
        let h = RoundingKernels.roundToFloat16Bits(xs, mode: mode)
        let b = RoundingKernels.roundToBFloat16Bits(xs, mode: mode)
        #expect(Self.mismatches(xs, h, value: Self.value(fp16:), want: { Float16Format.round(Double($0), mode: mode.mode) },
                                label: "fp16 \(mode)") == 0)
        #expect(Self.mismatches(xs, b, value: Self.value(bf16:), want: { BFloat16Format.round(Double($0), mode: mode.mode) },
                                label: "bf16 \(mode)") == 0)
    }

    /// The directed modes' defining inequalities, checked on the values without any oracle: RZ ≤ |x|, RU ≥ x,
    /// RD ≤ x, and RU and RD are neighbours (or equal, exactly when x is a member); to-odd is one of RD, RU
    /// and its last significand bit is 1 when x is not a member.
    @Test func directedResultsBracketTheInput() {
        let xs = Self.sweep(stride: 104_729).filter { $0.isFinite && $0.magnitude < 65_504 }
        let up = RoundingKernels.roundToFloat16Bits(xs, mode: .up), down = RoundingKernels.roundToFloat16Bits(xs, mode: .down)
        let zero = RoundingKernels.roundToFloat16Bits(xs, mode: .towardZero), odd = RoundingKernels.roundToFloat16Bits(xs, mode: .odd)
        var bad = 0
        for i in xs.indices {
            let x = Double(xs[i]), u = Self.value(fp16: up[i]), d = Self.value(fp16: down[i])
            let z = Self.value(fp16: zero[i]), o = Self.value(fp16: odd[i])
            let exact = u == d
            if !(d <= x && x <= u) || z.magnitude > x.magnitude || (!exact && Float16(d).nextUp != Float16(u)) { bad += 1 }
            if !(o == u || o == d) || (!exact && odd[i] & 1 != 1) || (exact && o != x) { bad += 1 }
        }
        #expect(bad == 0)
    }
}
