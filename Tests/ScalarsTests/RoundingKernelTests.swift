import Testing
import Dispatch
import Scalars
import TestSupport

/// The array kernels against MPFR (edge-dense inputs, default tier) and against the scalar types.
@Suite struct RoundingKernelTests {

    /// Edge inputs of a spec plus random bit patterns.
    static func inputs(_ spec: FormatSpec, random: Int = 1 << 16) -> [Float] {
        var rng = SplitMix64(seed: 21)
        return EdgeInputs.floats(for: spec)
            + (0..<random).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }
    }

    @Test func bfloat16KernelMatchesMPFRAndTheScalarType() {
        let xs = Self.inputs(.bfloat16)
        let bits = RoundingKernels.roundToBFloat16Bits(xs)
        let oracle = MPFRFormatOracle(.bfloat16)
        var mismatches = 0
        for (x, b) in zip(xs, bits) {
            let got = BFloat16(bitPattern: b)
            if got.bitPattern != BFloat16(x).bitPattern && !(got.isNaN && BFloat16(x).isNaN) { mismatches += 1 }
            if !sameResult(Double(got), oracle.round(Double(x), mode: .nearestEven)) { mismatches += 1 }
            if x.isNaN { #expect(got.isNaN && !got.isSignalingNaN && got.sign == x.sign) }
        }
        #expect(mismatches == 0)
    }

    /// Exhaustive over all 65,536 binary16 patterns: the branch-free extension gives the bits of
    /// `Float(Float16)` (NaN payloads and signs included) and is exact (a round trip through the
    /// rounding kernel returns the pattern, every NaN kept quiet or signalling as it was).
    @Test func float16ExtensionIsExactForEveryPattern() {
        var mismatches = [UInt16]()
        for h in 0...UInt16.max {
            let bits = RoundingKernels._float16ToFloatBits(h)
            if bits != Float(Float16(bitPattern: h)).bitPattern { mismatches.append(h) }
            if Float16(bitPattern: h).isNaN { continue }
            if RoundingKernels._float16Bits(bits) != h { mismatches.append(h) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(8).map { String($0, radix: 16) })")
    }

    @Test func float16KernelMatchesMPFRAndFloat16() {
        let xs = Self.inputs(.binary16)
        let bits = RoundingKernels.roundToFloat16Bits(xs)
        let oracle = MPFRFormatOracle(.binary16)
        var mismatches = 0
        for (x, b) in zip(xs, bits) {
            let got = Float16(bitPattern: b)
            if x.isNaN {
                #expect(got.isNaN && !got.isSignalingNaN && got.sign == x.sign)
            } else if got.bitPattern != Float16(x).bitPattern
                        || !sameResult(Double(got), oracle.round(Double(x), mode: .nearestEven)) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    func checkFormat<F: FloatFormat>(_ format: F.Type) throws {
        let spec = FormatSpec(F.self)
        let oracle = MPFRFormatOracle(spec)
        let xs = Self.inputs(spec, random: 1 << 13)
        var mismatches = 0
        for mode in DeterministicRounding.allCases {
            let out = try RoundingKernels.roundToFormat(xs, format: F.self, mode: mode)
            for (x, r) in zip(xs, out) where !sameResult(Double(r), oracle.round(Double(x), mode: mode.mode)) {
                mismatches += 1
                if mismatches < 6 { Issue.record("\(F.name) \(mode) \(x): kernel \(r), MPFR \(oracle.round(Double(x), mode: mode.mode))") }
            }
        }
        let (seed, stream): (UInt64, UInt64) = (77, 5)
        let start: UInt64 = 0xFFFF_FF00            // crosses index 2^32
        let sr = try RoundingKernels.roundToFormatStochastic(xs, format: F.self, seed: seed, stream: stream, startIndex: start)
        for (i, (x, r)) in zip(xs, sr).enumerated() {
            let w = StochasticRounding.bits(seed: seed, stream: stream, index: start + UInt64(i))
            if !sameResult(Double(r), oracle.round(Double(x), mode: .stochastic, random: w)) {
                mismatches += 1
                if mismatches < 6 { Issue.record("\(F.name) sr \(x) w=\(w): kernel \(r)") }
            }
        }
        #expect(mismatches == 0, "\(F.name)")
    }

    @Test func formatKernelMatchesMPFRInEveryMode() throws {
        try checkFormat(FP8E4M3Format.self)
        try checkFormat(FP8E4M3SaturatingFormat.self)
        try checkFormat(FP8E5M2Format.self)
        try checkFormat(TF32Format.self)
        try checkFormat(BFloat16Format.self)
        try checkFormat(Float16Format.self)
        try checkFormat(CustomP6Format.self)
        try checkFormat(CustomNoSubnormalsFormat.self)
    }

    @Test func bfloat16StochasticKernelMatchesTheScalarRounding() {
        let xs = Self.inputs(.bfloat16)
        let (seed, stream): (UInt64, UInt64) = (3, 9)
        let bits = RoundingKernels.roundToBFloat16BitsStochastic(xs, seed: seed, stream: stream, startIndex: 12)
        var mismatches = 0
        for (i, (x, b)) in zip(xs, bits).enumerated() {
            let w = StochasticRounding.bits(seed: seed, stream: stream, index: 12 + UInt64(i))
            if !sameResult(Double(BFloat16(bitPattern: b)), BFloat16Format.round(Double(x), mode: .stochastic, random: w)) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test func kernelsRejectMismatchedBuffersAndUnsupportedFormats() throws {
        let src: [Float] = [1, 2, 3]
        var dst = [UInt16](repeating: 0, count: 2)
        _ = src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                #expect(throws: RoundingKernelError.countMismatch(operation: "roundToBFloat16Bits", source: 3, destination: 2)) {
                    try RoundingKernels.roundToBFloat16Bits(s, into: d)
                }
            }
        }
        enum Wide: FloatFormat {
            static var name: String { "wide-range" }
            static var precision: Int { 8 }
            static var maximumExponent: Int { 200 }
        }
        #expect(throws: RoundingKernelError.self) { _ = try RoundingKernels.roundToFormat(src, format: Wide.self) }
        // stochastic rounding cannot be asked of the deterministic kernels: `DeterministicRounding` has no
        // such case, and a format's own stochastic mode is not read (the kernel rounds to nearest here)
        #expect(DeterministicRounding(.stochastic) == nil)
        #expect(DeterministicRounding.allCases.map(\.mode) == RoundingMode.allCases.filter { $0 != .stochastic })
        let viaStochasticFormat = try RoundingKernels.roundToFormat(src, format: Rounded<FP8E4M3Format, Stochastic>.self)
        #expect(viaStochasticFormat == (try RoundingKernels.roundToFormat(src, format: FP8E4M3Format.self, mode: .nearestEven)))
    }

    /// Same seed → same bits whatever the split: four threads each rounding a quarter (with its start
    /// index) reproduce the single pass exactly.
    @Test func stochasticKernelsDoNotDependOnThreadCount() throws {
        var rng = SplitMix64(seed: 31)
        let n = 1 << 18
        let xs = (0..<n).map { _ in Float.random(in: -4...4, using: &rng) }
        let single16 = RoundingKernels.roundToBFloat16BitsStochastic(xs, seed: 1, stream: 2)
        let single8 = try RoundingKernels.roundToFormatStochastic(xs, format: FP8E4M3Format.self, seed: 1, stream: 2)
        let parts = 4, chunk = n / parts
        let split16 = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: n)
        let split8 = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { split16.deallocate(); split8.deallocate() }
        let srcBuffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { srcBuffer.deallocate() }
        _ = srcBuffer.initialize(from: xs)
        nonisolated(unsafe) let src = UnsafeBufferPointer(srcBuffer), d16 = split16, d8 = split8
        DispatchQueue.concurrentPerform(iterations: parts) { k in
            let range = (k * chunk)..<((k + 1) * chunk)
            let part = UnsafeBufferPointer(rebasing: src[range])
            try! RoundingKernels.roundToBFloat16BitsStochastic(part, into: UnsafeMutableBufferPointer(rebasing: d16[range]),
                                                               seed: 1, stream: 2, startIndex: UInt64(range.lowerBound))
            try! RoundingKernels.roundToFormatStochastic(part, into: UnsafeMutableBufferPointer(rebasing: d8[range]),
                                                         format: FP8E4M3Format.self, seed: 1, stream: 2,
                                                         startIndex: UInt64(range.lowerBound))
        }
        #expect(Array(split16) == single16)
        #expect(zip(split8, single8).allSatisfy { sameResult(Double($0), Double($1)) })
        // and a different stream gives different bits
        #expect(RoundingKernels.roundToBFloat16BitsStochastic(xs, seed: 1, stream: 3) != single16)
    }
}
