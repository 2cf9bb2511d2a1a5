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
        for start: UInt64 in [0, 0xFFFF_FC00] {     // the second run crosses a 2^32 index block
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
            for mode: RoundingMode in [.nearestEven, .towardZero, .up, .down, .odd] {
                let out = try RoundingKernels.roundToFormat(xs, format: F.self, mode: mode)
                bad += zip(xs, out).filter { !sameResult(Double($1), oracle.round(Double($0), mode: mode)) }.count
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

    /// The batched hash of the fast loop gives, value for value, the scalar `bits(keyed:keyHigh:)`: ranges
    /// at the start and end of a 2^16 run of `z` (up to a whole run), at the 2^32 wrap, and at random places.
    @Test func batchedBitsEqualTheScalarHash() {
        var rng = SplitMix64(seed: 61)
        var cases: [(zBase: UInt32, groups: Int)] = [(0, 1), (0, 32), (0xFFF8, 1), (0xFF00, 32), (0x0001_0000, 8192),
                                                     (0xFFFF_FFF8, 1), (0xFFFF_FF00, 32), (0xABCD_0000, 8192)]
        for _ in 0..<200 {
            let zBase = UInt32(truncatingIfNeeded: rng.next()) & ~7
            let room = Int((0x1_0000 - (zBase & 0xFFFF)) / 8)               // groups left in the 2^16 run
            cases.append((zBase, 1 + Int(rng.next() % UInt64(min(room, 40)))))
        }
        var buffer = [UInt32](repeating: 0, count: 0x1_0000)
        var bad = 0
        for (zBase, groups) in cases {
            let keyHigh = UInt32(truncatingIfNeeded: rng.next())
            buffer.withUnsafeMutableBufferPointer { b in
                StochasticRounding._bits(keyedFrom: zBase, groups: groups, keyHigh: keyHigh, into: b.baseAddress!)
            }
            for j in 0..<(8 * groups)
            where buffer[j] != StochasticRounding.bits(keyed: zBase &+ UInt32(j), keyHigh: keyHigh) {
                bad += 1
                if bad < 4 { Issue.record("zBase \(zBase) j \(j) keyHigh \(keyHigh)") }
            }
        }
        #expect(bad == 0)
    }

    /// The fast loop against the general loop's element function (`_roundFloatBits`, which the MPFR tests
    /// cover), bit for bit, over edge-dense inputs: arrays of every length around the block and group sizes,
    /// placed so that the hashed counter `z` starts at every residue mod 8 and crosses multiples of 256,
    /// 2^16 and 2^32, and so that the index crosses a 2^32 block (a new key); with and without specials.
    @Test func fastLoopIsBitIdenticalToTheGeneralElementFunction() throws {
        func check<F: FloatFormat>(_: F.Type) throws -> Int {
            let c = try _FormatKernelConstants(F.self)
            guard let fast = _StochasticKernelConstants(c) else { Issue.record("\(F.name): not on the fast loop"); return 1 }
            let edges = EdgeInputs.floats(for: FormatSpec(F.self))
            let ordinary = edges.filter { $0.bitPattern & 0x7FFF_FFFF <= fast.ordinaryLimit }
            var rng = SplitMix64(seed: 67)
            var bad = 0
            for (seed, stream): (UInt64, UInt64) in [(42, 7), (0, 0), (UInt64.max, 3)] {
                let keyLow = UInt32(truncatingIfNeeded: StochasticRounding.key(seed: seed, stream: stream, block: 0))
                // first z of each run: every residue mod 8, just below 256, 2^16 and 2^32, and random
                var firstZ: [UInt32] = (0..<8 as Range<UInt32>).map { 0x5000 + $0 } + [0xF3, 0xFFF5, 0xFFFF_FFF3, 0xFFFF_FFFF]
                firstZ += (0..<4).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
                var starts = firstZ.map { UInt64($0 &- keyLow) }              // index with that z, in block 0
                starts += [0xFFFF_FF00, 0xFFFF_FFFD]                          // crosses into index block 1
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
