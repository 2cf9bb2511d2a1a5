import Testing
import Scalars
import TestSupport

/// The fast stochastic loop (RoundingKernels+Stochastic.swift) against MPFR, on inputs inside the
/// format's range, so whole blocks take the ordinary (unchecked) loop, and with specials planted in some
/// blocks; and formats at the edges of the binary32-kernel range (p = 23, p = 24).
@Suite struct StochasticKernelFastPathTests {
    /// A binary32 twin: every binary32 is a member, so each mode must return its input (NaN quieted).
    enum Binary32TwinFormat: FloatFormat {
        static var name: String { "custom-p24" }
        static var precision: Int { 24 }
        static var maximumExponent: Int { 127 }
    }

    enum CustomP23Format: FloatFormat {
        static var name: String { "custom-p23" }
        static var precision: Int { 23 }
        static var maximumExponent: Int { 127 }
    }

    /// `n` finite values with magnitudes from below the smallest subnormal to the largest finite member,
    /// random signs and significands.
    static func inRange(_ spec: FormatSpec, _ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let lowest = spec.minimumNormalExponent - spec.precision - 1, highest = spec.maximumExponent - 1
        return (0..<n).map { _ in
            let e = lowest + Int(rng.next() % UInt64(highest - lowest + 1))
            let u = Float(bitPattern: 0x3F80_0000 | UInt32(truncatingIfNeeded: rng.next() >> 41))   // [1, 2)
            let x = u * Float(sign: .plus, exponent: e, significand: 1)
            return rng.next() & 1 == 0 ? x : -x
        }
    }

    func mismatches<F: FloatFormat>(_: F.Type, _ xs: [Float], start: UInt64) throws -> Int {
        let oracle = MPFRFormatOracle(F.self)
        let (seed, stream): (UInt64, UInt64) = (11, 4)
        let out = try RoundingKernels.roundToFormatStochastic(xs, format: F.self, seed: seed, stream: stream, startIndex: start)
        var bad = 0
        for (i, (x, r)) in zip(xs, out).enumerated() {
            let w = StochasticRounding.bits(seed: seed, stream: stream, index: start &+ UInt64(i))
            if !sameResult(Double(r), oracle.round(Double(x), mode: .stochastic, random: w)) {
                bad += 1
                if bad < 4 { Issue.record("\(F.name) \(x) w=\(w): kernel \(r)") }
            }
        }
        return bad
    }

    func checkFastLoop<F: FloatFormat>(_: F.Type) throws {
        // the format must take the fast loop, or this test would exercise the general one
        #expect(_StochasticKernelConstants(try _FormatKernelConstants(F.self)) != nil, "\(F.name)")
        let spec = FormatSpec(F.self)
        let ordinary = Self.inRange(spec, 3_000, seed: 31)
        var planted = ordinary
        let big = Float(spec.greatestFiniteMagnitude) * 1.75
        for (i, v) in [(3, Float.nan), (700, .infinity), (701, -.infinity), (1500, big), (1501, -big), (2999, -.nan)] {
            planted[i] = v
        }
        for start: UInt64 in [0, 0xFFFF_FC00] {     // the second run crosses index 2^32
            #expect(try mismatches(F.self, ordinary, start: start) == 0)
            #expect(try mismatches(F.self, planted, start: start) == 0)
        }
    }

    @Test func fastLoopMatchesMPFRInOrdinaryAndSpecialBlocks() throws {
        try checkFastLoop(FP8E4M3Format.self)
        try checkFastLoop(FP8E4M3SaturatingFormat.self)
        try checkFastLoop(FP8E5M2Format.self)
        try checkFastLoop(Float16Format.self)
        try checkFastLoop(CustomP6Format.self)
        try checkFastLoop(CustomNoSubnormalsFormat.self)
        // bfloat16 and tf32 (qe < −103) keep the general loop
        #expect(_StochasticKernelConstants(try _FormatKernelConstants(BFloat16Format.self)) == nil)
        #expect(_StochasticKernelConstants(try _FormatKernelConstants(TF32Format.self)) == nil)
    }

    /// p = 24 and p = 23 with binary32's range, every mode, binary32 subnormals included (the general
    /// loop's subnormal path once clamped its scaled input at 2^22, which broke p = 24 for |x| ≥ 2^−127).
    @Test func widestFormatsMatchMPFRInEveryMode() throws {
        func check<F: FloatFormat>(_: F.Type) throws {
            let oracle = MPFRFormatOracle(F.self)
            var rng = SplitMix64(seed: 41)
            let subnormals = (0..<4_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x807F_FFFF) }
            let xs = subnormals + Self.inRange(FormatSpec(F.self), 4_000, seed: 43)
            var bad = 0
            for mode in DeterministicRounding.allCases {
                let out = try RoundingKernels.roundToFormat(xs, format: F.self, mode: mode)
                bad += zip(xs, out).filter { !sameResult(Double($1), oracle.round(Double($0), mode: mode.mode)) }.count
            }
            let sr = try RoundingKernels.roundToFormatStochastic(xs, format: F.self, seed: 5, stream: 6)
            for (i, (x, r)) in zip(xs, sr).enumerated() {
                let w = StochasticRounding.bits(seed: 5, stream: 6, index: UInt64(i))
                if !sameResult(Double(r), oracle.round(Double(x), mode: .stochastic, random: w)) { bad += 1 }
            }
            #expect(bad == 0, "\(F.name)")
        }
        try check(Binary32TwinFormat.self)
        try check(CustomP23Format.self)
        // the twin really is binary32: rounding is the identity on finite inputs
        let xs = Self.inRange(FormatSpec(Binary32TwinFormat.self), 1_000, seed: 47)
        #expect(try RoundingKernels.roundToFormatStochastic(xs, format: Binary32TwinFormat.self, seed: 1, stream: 1) == xs)
    }

    /// The block fill of the kernels (`StochasticRounding.fill`, one SplitMix64 output per index pair) gives,
    /// index for index, the scalar `bits(seed:stream:index:)`: runs of every length up to 17 starting at even
    /// and odd indices, at index 0, at the top of the index range (runs that wrap to index 0), and at random
    /// places; and the pair words are SplitMix64's outputs, computed here from the published algorithm
    /// (state += γ, then the finaliser) independently of the library's pair function.
    @Test func blockFillEqualsTheScalarBitsAndSplitMix64() {
        var rng = SplitMix64(seed: 61)
        var starts: [UInt64] = [0, 1, 2, 3, UInt64.max - 20, UInt64.max - 19, UInt64.max - 6, UInt64.max - 5, 1 << 32, (1 << 32) - 7]
        for _ in 0..<100 { starts.append(rng.next()) }
        var bad = 0
        for start in starts {
            let seed = rng.next(), stream = rng.next() % 4
            for n in 0...17 {
                let fill = StochasticRounding.bits(count: n, seed: seed, stream: stream, startIndex: start)
                for j in 0..<n where fill[j] != StochasticRounding.bits(seed: seed, stream: stream, index: start &+ UInt64(j)) {
                    bad += 1
                    if bad < 4 { Issue.record("start \(start) n \(n) j \(j)") }
                }
            }
        }
        #expect(bad == 0)
        // SplitMix64 (Steele, Lea & Flood 2014): state starts at the key, each output adds γ first, then mixes
        func splitMix(_ state: inout UInt64) -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var state = StochasticRounding.key(seed: 3, stream: 4)
        let words = StochasticRounding.bits(count: 64, seed: 3, stream: 4)
        for c in 0..<32 {
            let w = splitMix(&state)
            #expect(words[2 * c] == UInt32(truncatingIfNeeded: w) && words[2 * c + 1] == UInt32(truncatingIfNeeded: w >> 32))
        }
    }

    /// The fast loop against the general loop's element function (`_roundFloatBits`, which the MPFR tests
    /// cover), bit for bit, over edge-dense inputs: arrays of every length around the block size, starting at
    /// even and odd indices (the first element taking the high half of a pair word), just below multiples of
    /// 256, 2^32 and 2^64 (the index wraps); with and without specials.
    @Test func fastLoopIsBitIdenticalToTheGeneralElementFunction() throws {
        func check<F: FloatFormat>(_: F.Type) throws -> Int {
            let c = try _FormatKernelConstants(F.self)
            guard let fast = _StochasticKernelConstants(c) else { Issue.record("\(F.name): not on the fast loop"); return 1 }
            let edges = EdgeInputs.floats(for: FormatSpec(F.self))
            let ordinary = edges.filter { $0.bitPattern & 0x7FFF_FFFF <= fast.ordinaryLimit }
            var rng = SplitMix64(seed: 67)
            var bad = 0
            for (seed, stream): (UInt64, UInt64) in [(42, 7), (0, 0), (UInt64.max, 3)] {
                var starts: [UInt64] = [0, 1, 0x5000, 0x5003, 0xF3, 0xFFFF_FF00, 0xFFFF_FFFD, UInt64.max - 300, UInt64.max - 2]
                starts += (0..<4).map { _ in rng.next() }
                for start in starts {
                    for (inputs, lengths) in [(ordinary, [0, 1, 7, 8, 9, 255, 256, 257, 700]), (edges, [300, edges.count])] {
                        for n in lengths where n <= inputs.count {
                            let offset = Int(rng.next() % UInt64(inputs.count - n + 1))
                            let xs = Array(inputs[offset..<(offset + n)])
                            let out = try RoundingKernels.roundToFormatStochastic(xs, format: F.self, seed: seed,
                                                                                 stream: stream, startIndex: start)
                            for (i, (x, r)) in zip(xs, out).enumerated() {
                                let w = StochasticRounding.bits(seed: seed, stream: stream, index: start &+ UInt64(i))
                                let expected = RoundingKernels._roundFloatBits(x.bitPattern, c, Stochastic.self, random: w)
                                if r.bitPattern != expected {
                                    bad += 1
                                    if bad < 4 { Issue.record("\(F.name) x=\(x) index \(start &+ UInt64(i)): \(r) ≠ \(Float(bitPattern: expected))") }
                                }
                            }
                        }
                    }
                }
            }
            return bad
        }
        #expect(try check(FP8E4M3Format.self) == 0)
        #expect(try check(FP8E4M3SaturatingFormat.self) == 0)
        #expect(try check(FP8E5M2Format.self) == 0)
        #expect(try check(Float16Format.self) == 0)
        #expect(try check(CustomP6Format.self) == 0)
        #expect(try check(CustomNoSubnormalsFormat.self) == 0)
    }
}
