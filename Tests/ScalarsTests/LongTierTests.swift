import Testing
import Dispatch
import Scalars
import TestSupport

/// Long tier (off by default; `MANTISSA_LONG_TESTS=1 swift test -c release --filter LongTier`): every one
/// of the 2^32 binary32 inputs through every kernel, compared with an independent scalar implementation
/// (`FloatFormat.round`, binary64 arithmetic; `Float16(x)` of the standard library for binary16), and
/// every 4099th input also against MPFR. The scalar implementation is itself checked against MPFR on the
/// edge-dense sets of the default tier. Runs on all cores in chunks of 2^20; about 10–20 minutes on 2 cores.
@Suite(.enabled(if: longTestsEnabled)) struct LongTier {
    static let chunk: UInt64 = 1 << 20

    /// Runs `body(firstPattern, inputs)` over all chunks of binary32 patterns, in parallel; returns the
    /// total of the mismatch counts it reports.
    func sweep(_ body: @Sendable (UInt64, [Float]) -> Int) -> Int {
        let chunks = Int((longTestsLimit + Self.chunk - 1) / Self.chunk)
        nonisolated(unsafe) var counts = [Int](repeating: 0, count: chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { k in
            let first = UInt64(k) * Self.chunk
            let xs = (0..<Self.chunk).map { Float(bitPattern: UInt32(truncatingIfNeeded: first + $0)) }
            counts[k] = body(first, xs)
        }
        return counts.reduce(0, +)
    }

    func formatSweep<F: FloatFormat>(_ format: F.Type) {
        let spec = FormatSpec(F.self)
        let bad = sweep { first, xs in
            let oracle = MPFRFormatOracle(spec)
            var mismatches = 0
            for mode in DeterministicRounding.allCases {
                let out = try! RoundingKernels.roundToFormat(xs, format: F.self, mode: mode)
                for (i, (x, r)) in zip(xs, out).enumerated() {
                    let want = F.round(Double(x), mode: mode.mode)
                    if !sameResult(Double(r), want) { mismatches += 1 }
                    if (first + UInt64(i)) % 4099 == 0 && !sameResult(want, oracle.round(Double(x), mode: mode.mode)) {
                        mismatches += 1
                    }
                }
            }
            let sr = try! RoundingKernels.roundToFormatStochastic(xs, format: F.self, seed: 5, stream: 6, startIndex: first)
            for (i, (x, r)) in zip(xs, sr).enumerated() {
                let w = StochasticRounding.bits(seed: 5, stream: 6, index: first + UInt64(i))
                if !sameResult(Double(r), F.round(Double(x), mode: .stochastic, random: w)) { mismatches += 1 }
            }
            return mismatches
        }
        #expect(bad == 0, "\(F.name)")
    }

    @Test func bfloat16AllFloat32Inputs() {
        let bad = sweep { first, xs in
            let oracle = MPFRFormatOracle(.bfloat16)
            var mismatches = 0
            let rne = RoundingKernels.roundToBFloat16Bits(xs)
            let sr = RoundingKernels.roundToBFloat16BitsStochastic(xs, seed: 1, stream: 2, startIndex: first)
            for (i, x) in xs.enumerated() {
                let want = BFloat16Format.round(Double(x), mode: .nearestEven)
                if !sameResult(Double(BFloat16(bitPattern: rne[i])), want) { mismatches += 1 }
                let w = StochasticRounding.bits(seed: 1, stream: 2, index: first + UInt64(i))
                if !sameResult(Double(BFloat16(bitPattern: sr[i])), BFloat16Format.round(Double(x), mode: .stochastic, random: w)) {
                    mismatches += 1
                }
                if (first + UInt64(i)) % 4099 == 0 && !sameResult(want, oracle.round(Double(x), mode: .nearestEven)) {
                    mismatches += 1
                }
            }
            return mismatches
        }
        #expect(bad == 0)
    }

    @Test func float16AllFloat32Inputs() {
        let bad = sweep { _, xs in
            let out = RoundingKernels.roundToFloat16Bits(xs)
            var mismatches = 0
            for (x, b) in zip(xs, out) {
                let h = Float16(bitPattern: b), want = Float16(x)
                if want.isNaN ? !(h.isNaN && !h.isSignalingNaN) : h.bitPattern != want.bitPattern { mismatches += 1 }
                if !want.isNaN && !sameResult(Double(want), Float16Format.round(Double(x), mode: .nearestEven)) { mismatches += 1 }
            }
            return mismatches
        }
        #expect(bad == 0)
    }

    @Test func fp8E4M3AllFloat32Inputs() { formatSweep(FP8E4M3Format.self) }
    @Test func fp8E4M3SaturatingAllFloat32Inputs() { formatSweep(FP8E4M3SaturatingFormat.self) }
    @Test func fp8E5M2AllFloat32Inputs() { formatSweep(FP8E5M2Format.self) }
    @Test func tf32AllFloat32Inputs() { formatSweep(TF32Format.self) }
    @Test func customAllFloat32Inputs() { formatSweep(CustomP6Format.self) }
    @Test func customWithoutSubnormalsAllFloat32Inputs() { formatSweep(CustomNoSubnormalsFormat.self) }
}

/// Long tier for the binary16 and bfloat16 bit kernels in every deterministic mode: all 2^32 binary32
/// inputs against `FloatFormat.round` (binary64 arithmetic), every 4099th also against MPFR.
@Suite(.enabled(if: longTestsEnabled)) struct LongTierDirectedBits {
    @Test func float16AndBFloat16BitsInEveryModeAllFloat32Inputs() {
        let bad = LongTier().sweep { first, xs in
            let half = MPFRFormatOracle(.binary16), bf = MPFRFormatOracle(.bfloat16)
            var mismatches = 0
            for mode in DeterministicRounding.allCases {
                let h = RoundingKernels.roundToFloat16Bits(xs, mode: mode)
                let b = RoundingKernels.roundToBFloat16Bits(xs, mode: mode)
                for (i, x) in xs.enumerated() where !x.isNaN {
                    let wantH = Float16Format.round(Double(x), mode: mode.mode)
                    let wantB = BFloat16Format.round(Double(x), mode: mode.mode)
                    if !sameResult(Double(Float16(bitPattern: h[i])), wantH) { mismatches += 1 }
                    if !sameResult(Double(Float(BFloat16(bitPattern: b[i]))), wantB) { mismatches += 1 }
                    if (first + UInt64(i)) % 4099 == 0 {
                        if !sameResult(wantH, half.round(Double(x), mode: mode.mode)) { mismatches += 1 }
                        if !sameResult(wantB, bf.round(Double(x), mode: mode.mode)) { mismatches += 1 }
                    }
                }
            }
            return mismatches
        }
        #expect(bad == 0)
    }
}
