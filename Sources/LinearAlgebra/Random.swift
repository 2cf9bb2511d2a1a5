import Scalars
/// SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): a tiny, fast, seedable generator whose output is
/// fully determined by the seed, on every machine. The project's own generator for data splits,
/// initialisation, minibatch order and test matrices: Swift's stdlib has no seedable RNG, and
/// `SystemRandomNumberGenerator` would make studies irreproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    @usableFromInline var state: UInt64
    public var currentState: UInt64 { state }

    public init(seed: UInt64) { state = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1) from the top 53 bits (every value a multiple of 2⁻⁵³).
    @inlinable
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A standard normal deviate by the Marsaglia polar method (deterministic: uses only `next()` and
    /// correctly rounded `log`/`sqrt` from libm of this machine).
    @inlinable
    public mutating func nextGaussian() -> Double {
        while true {
            let u = 2 * nextUniform() - 1, v = 2 * nextUniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 { return u * (-2 * _log(s) / s).squareRoot() }
        }
    }

    /// A uniform integer in `0..<n` by rejection (no modulo bias).
    @inlinable
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n > 0, "nextInt(below:) needs a positive bound, got \(n)")
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true { let r = next(); if r < limit { return Int(r % bound) } }
    }

    /// Fisher–Yates shuffle driven only by this generator (the stdlib's `shuffle(using:)` algorithm
    /// is not specified to be stable across releases).
    @inlinable
    public mutating func shuffle<E>(_ a: inout [E]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, nextInt(below: i + 1)) }
    }

    /// An independent generator for a labelled sub-stream (e.g. "init", "batches"), so adding draws to
    /// one purpose never shifts another's.
    @inlinable
    public static func stream(seed: UInt64, _ label: String) -> SplitMix64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325        // FNV-1a of the label, then mixed with the seed
        for b in label.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        var g = SplitMix64(seed: seed ^ h)
        _ = g.next()
        return SplitMix64(seed: g.next())
    }
}

@usableFromInline
func _log(_ x: Double) -> Double {
    // log via the Real protocol of Double (swift-numerics' RealModule is re-exported by Scalars users).
    Double.log(x)
}
