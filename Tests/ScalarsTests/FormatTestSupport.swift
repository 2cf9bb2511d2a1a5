import Scalars
import TestSupport

/// Custom formats declared the way a user would, to check that arbitrary parameters work.
enum CustomP6Format: FloatFormat {
    static var name: String { "custom-p6" }
    static var precision: Int { 6 }
    static var maximumExponent: Int { 20 }
    static var minimumNormalExponent: Int { -18 }
}

/// A format without subnormals (flush to the grid {0, 2^emin} below 2^emin) and saturating overflow.
enum CustomNoSubnormalsFormat: FloatFormat {
    static var name: String { "custom-p5-nosub" }
    static var precision: Int { 5 }
    static var maximumExponent: Int { 10 }
    static var hasSubnormals: Bool { false }
    static var hasInfinities: Bool { false }
    static var overflow: OverflowBehaviour { .saturate }
}

enum EdgeInputs {
    /// Float inputs dense at the edges of a format: members, midpoints between neighbours and the binary32
    /// numbers next to them, both sides of the subnormal boundary and of the overflow threshold, ±0, ±∞,
    /// NaNs, binary32 subnormals. Large binades are sampled (first, last and random members).
    static func floats(for spec: FormatSpec, seed: UInt64 = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let members = spec.allFiniteMembers().filter { $0 > 0 }
        var kept: [Double] = []
        // group by binade and sample
        var i = 0
        while i < members.count {
            var j = i
            let e = members[i].exponent
            while j < members.count && members[j].exponent == e { j += 1 }
            let n = j - i
            if n <= 64 {
                kept.append(contentsOf: members[i..<j])
            } else {
                kept.append(contentsOf: members[i..<(i + 12)])
                kept.append(contentsOf: members[(j - 12)..<j])
                for _ in 0..<12 { kept.append(members[Int.random(in: i..<j, using: &rng)]) }
            }
            i = j
        }
        var out: [Float] = []
        func addNear(_ d: Double) {
            let f = Float(d)
            guard f.isFinite else { return }
            out.append(f); out.append(f.nextUp); out.append(f.nextDown)
        }
        let members32 = kept.filter { Float(exactly: $0) != nil }
        for m in members32 {
            addNear(m)
            let q = spec.quantum(m)
            addNear(m + q / 2)          // midpoint above
            addNear(m - spec.quantum(m.nextDown) / 2)   // midpoint below
            addNear(m + q / 4)
            addNear(m + 3 * q / 4)
        }
        let minNormal = Double(sign: .plus, exponent: spec.minimumNormalExponent, significand: 1)
        let maxF = spec.greatestFiniteMagnitude
        let qMax = spec.quantum(maxF)
        for d in [minNormal, minNormal / 2, minNormal / 4, minNormal * 3 / 4, spec.quantum(0), spec.quantum(0) / 2,
                  spec.quantum(0) / 4, spec.quantum(0) * 3 / 2, maxF, maxF + qMax / 2, maxF + qMax, maxF + 3 * qMax / 2,
                  2 * maxF, Double(sign: .plus, exponent: spec.maximumExponent + 1, significand: 1), 1, 1.5, 3] {
            addNear(d)
        }
        out += [0, Float.leastNonzeroMagnitude, Float.leastNormalMagnitude, Float.leastNormalMagnitude.nextDown,
                Float.greatestFiniteMagnitude, .infinity, .nan, Float(bitPattern: 0x7FA0_0001),
                Float(bitPattern: 0x7FC1_2345)]
        for _ in 0..<2000 { out.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng) & 0x7FFF_FFFF)) }
        let positive = out.filter { !$0.isNaN && $0 >= 0 }
        return positive + positive.map { -$0 } + out.filter { $0.isNaN } + [-Float.nan]
    }

    /// Operands for arithmetic tests: all members of a small format, or a sample of edge members plus
    /// random members of a large one.
    static func operands(for spec: FormatSpec, count: Int, seed: UInt64) -> [Double] {
        let members = spec.allFiniteMembers()
        var special: [Double] = [0, -0.0, Double.nan]
        if spec.hasInfinities { special += [.infinity, -.infinity] }
        if members.count <= 600 { return members + special }
        var rng = SplitMix64(seed: seed)
        let positive = members.filter { $0 > 0 }
        var out = Array(positive.prefix(40)) + Array(positive.suffix(40))
        for k in [0, 1, 2, 3] { out.append(Double(sign: .plus, exponent: k, significand: 1)) }
        while out.count < count / 2 { out.append(positive[Int.random(in: 0..<positive.count, using: &rng)]) }
        return out + out.map { -$0 } + special
    }
}
