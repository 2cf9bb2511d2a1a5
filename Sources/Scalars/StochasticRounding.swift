import Synchronization

/// Random bits for stochastic rounding, from a counter-based generator: the bits for a rounding are a
/// pure function of `(seed, stream, index)`.
///
/// ## Determinism guarantee
/// A result computed with stochastic rounding depends only on the seed, the stream and the index of
/// each rounding, never on thread count, scheduling or call order elsewhere:
/// - array kernels (`RoundingKernels.*Stochastic`) use index `i` for element `i`, so any split of an
///   array across threads gives the same bits as one pass;
/// - scalar `SimulatedFloat` arithmetic takes the index from the current `Context`, a counter that
///   each stochastic rounding increments. A study cell installs its own context with
///   `withContext(seed:stream:) { … }` and runs its (sequential) computation inside it; the sequence
///   of roundings, hence the bits, is then fixed by the program. Code that runs outside any context
///   uses a process-wide default context (seed 0, stream 0), deterministic only if used from one thread.
///   Do not share one context between concurrently running tasks: the counter is atomic (no data race)
///   but the order in which tasks take indices is not deterministic.
///
/// ## The generator
/// `key = mix64(mix64(seed) ^ mix64(stream ⊕ c1) ^ (index >> 32)·c2)` (`mix64` = the SplitMix64
/// finaliser), then with `lo` the low 32 bits of the index, `bits` = Wellons' "lowbias32" integer hash of
/// `lo + key.lo` with `key.hi` XORed in between its two multiply rounds (`bits(key:low:)`). The per-element
/// cost is two 32-bit multiplies, so the array kernels vectorise; the key is computed once per 2^32
/// indices.
public enum StochasticRounding {
    /// SplitMix64's output function (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
    @inlinable @inline(__always)
    public static func mix64(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }

    /// Wellons' lowbias32: a bijective 32-bit hash with low bias.
    @inlinable @inline(__always)
    public static func hash32(_ x: UInt32) -> UInt32 {
        var z = x
        z ^= z &>> 16
        z &*= 0x7FEB_352D
        z ^= z &>> 15
        z &*= 0x846C_A68B
        z ^= z &>> 16
        return z
    }

    /// The per-block key for indices `block·2^32 ..< (block+1)·2^32`.
    @inlinable
    public static func key(seed: UInt64, stream: UInt64, block: UInt64) -> UInt64 {
        mix64(mix64(seed) ^ mix64(stream ^ 0x6A09_E667_F3BC_C909) ^ (block &* 0x9E37_79B9_7F4A_7C15))
    }

    /// The 32 random bits for one rounding, given its block key and the low 32 bits of its index:
    /// a keyed lowbias32, with the key's low half added to the index before the first round and its high
    /// half XORed in between the two multiply rounds. For a fixed key it is a bijection of the index (full
    /// period 2^32); two keys are not related by an index shift plus a constant (as they would be with the
    /// key applied only outside the hash), so different streams give unrelated bit sequences.
    @inlinable @inline(__always)
    public static func bits(key: UInt64, low index: UInt32) -> UInt32 {
        bits(keyed: index &+ UInt32(truncatingIfNeeded: key), keyHigh: UInt32(truncatingIfNeeded: key &>> 32))
    }

    /// `bits(key:low:)` with the key's low half already added to the index (`keyed = low + key.lo`) and
    /// its high half passed separately: array kernels step `keyed` by one per element, which saves an
    /// addition and a register per vector.
    @inlinable @inline(__always)
    public static func bits(keyed z0: UInt32, keyHigh: UInt32) -> UInt32 {
        var z = z0
        z ^= z &>> 16
        z &*= 0x7FEB_352D
        z ^= keyHigh
        z ^= z &>> 15
        z &*= 0x846C_A68B
        z ^= z &>> 16
        return z
    }

    /// `bits(keyed: z, keyHigh:)` for the `8·groups` consecutive values `z = zBase, zBase + 1, …`, stored in
    /// that order at `buffer[0 ..< 8·groups]`. Requires `zBase` ≡ 0 (mod 8) and all the `z` in one aligned run
    /// of 2^16 (same `z >> 16`); array kernels call it on blocks that end where `z` is a multiple of 256.
    ///
    /// Same bits as the scalar hash, computed with fewer vector instructions on the baseline x86-64 target,
    /// where a 32-bit lane multiply (no SSE4.1 `pmulld`) costs six instructions:
    /// - First round. With `s = z >> 16` (one value for the whole range) and `z = g + j` (`g` ≡ 0 mod 8,
    ///   `j < 8`), the hash's first step gives `u = z ^ s = (g ^ s) ^ j = ((g ^ s) & ~7) + ((s & 7) ^ j)`, so
    ///   `u·c1 = ((g ^ s) & ~7)·c1 + ((s & 7) ^ j)·c1` (mod 2^32): one scalar multiply per 8 values, broadcast,
    ///   plus a per-lane constant computed once per call.
    /// - Second round. A 32×32-bit multiply instruction (`pmuludq`) takes lanes 0 and 2 of each operand;
    ///   the odd lanes are shifted down into them. The low halves of the four products of two vectors are
    ///   then gathered by one shuffle (`shufps`) where the lane-by-lane form needs three per vector. That
    ///   shuffle returns lanes in the order (0, 2 of the first vector, 0, 2 of the second), so the first
    ///   round puts `j` = 0, 4, 1, 5 in one vector and 2, 6, 3, 7 in the other: the outputs come out in
    ///   order `j` = 0…3 and 4…7.
    @inlinable
    public static func _bits(keyedFrom zBase: UInt32, groups: Int, keyHigh: UInt32,
                             into buffer: UnsafeMutablePointer<UInt32>) {
        #if _endian(big)
        // the 64-bit views below take lanes 0 and 2 as the low halves only on little-endian targets
        for j in 0..<(8 * groups) { buffer[j] = bits(keyed: zBase &+ UInt32(truncatingIfNeeded: j), keyHigh: keyHigh) }
        #else
        let s = zBase &>> 16
        let sLow = SIMD4<UInt32>(repeating: s & 7), sHigh = s & ~7
        let c1 = SIMD4<UInt32>(repeating: 0x7FEB_352D)
        let laneA = (SIMD4<UInt32>(0, 4, 1, 5) ^ sLow) &* c1      // ((s & 7) ^ j)·c1 for the two vectors
        let laneB = (SIMD4<UInt32>(2, 6, 3, 7) ^ sLow) &* c1
        let kh = SIMD4<UInt32>(repeating: keyHigh)
        let low32 = SIMD2<UInt64>(repeating: 0xFFFF_FFFF), c2 = SIMD2<UInt64>(repeating: 0x846C_A68B)
        let out = UnsafeMutableRawPointer(buffer)
        var g = zBase
        for k in 0..<groups {
            let m = SIMD4<UInt32>(repeating: (g ^ sHigh) &* 0x7FEB_352D)
            var a = (m &+ laneA) ^ kh, b = (m &+ laneB) ^ kh
            a ^= a &>> 15
            b ^= b &>> 15
            // 64-bit views: the even lanes are the low halves (masked, so the multiplies are 32×32 → 64)
            let a64 = unsafeBitCast(a, to: SIMD2<UInt64>.self), b64 = unsafeBitCast(b, to: SIMD2<UInt64>.self)
            let aEven = (a64 & low32) &* c2, aOdd = (a64 &>> 32) &* c2     // j = 0, 1 and j = 4, 5
            let bEven = (b64 & low32) &* c2, bOdd = (b64 &>> 32) &* c2     // j = 2, 3 and j = 6, 7
            var w0 = SIMD4<UInt32>(lowHalf: SIMD2<UInt32>(truncatingIfNeeded: aEven),
                                   highHalf: SIMD2<UInt32>(truncatingIfNeeded: bEven))
            var w1 = SIMD4<UInt32>(lowHalf: SIMD2<UInt32>(truncatingIfNeeded: aOdd),
                                   highHalf: SIMD2<UInt32>(truncatingIfNeeded: bOdd))
            w0 ^= w0 &>> 16
            w1 ^= w1 &>> 16
            out.storeBytes(of: w0, toByteOffset: 32 * k, as: SIMD4<UInt32>.self)
            out.storeBytes(of: w1, toByteOffset: 32 * k + 16, as: SIMD4<UInt32>.self)
            g &+= 8
        }
        #endif
    }

    /// The 32 random bits for rounding number `index` of `(seed, stream)`.
    @inlinable
    public static func bits(seed: UInt64, stream: UInt64, index: UInt64) -> UInt32 {
        bits(key: key(seed: seed, stream: stream, block: index &>> 32), low: UInt32(truncatingIfNeeded: index))
    }

    /// A scalar stochastic-rounding context: a `(seed, stream)` pair and the index of the next rounding.
    public final class Context: Sendable {
        public let seed: UInt64
        public let stream: UInt64
        @usableFromInline let counter: Atomic<UInt64>

        public init(seed: UInt64, stream: UInt64, startIndex: UInt64 = 0) {
            self.seed = seed
            self.stream = stream
            self.counter = Atomic(startIndex)
        }

        /// The index the next rounding will use (= number of roundings done, plus the start index).
        public var nextIndex: UInt64 { counter.load(ordering: .relaxed) }

        /// Takes the next index and returns its random bits.
        @inlinable
        public func nextBits() -> UInt32 {
            let index = counter.add(1, ordering: .relaxed).oldValue
            return StochasticRounding.bits(seed: seed, stream: stream, index: index)
        }
    }

    /// The context used by code that runs outside `withContext` (seed 0, stream 0).
    public static let defaultContext = Context(seed: 0, stream: 0)

    /// The context of the current task (or thread, for synchronous code).
    @TaskLocal public static var current: Context = defaultContext

    /// Runs `body` with a fresh context `(seed, stream)`: the k-th stochastic rounding performed inside
    /// uses index `startIndex + k`.
    public static func withContext<R>(seed: UInt64, stream: UInt64, startIndex: UInt64 = 0,
                                      _ body: () throws -> R) rethrows -> R {
        try $current.withValue(Context(seed: seed, stream: stream, startIndex: startIndex), operation: body)
    }

    /// Async variant of `withContext`.
    public static func withContext<R>(seed: UInt64, stream: UInt64, startIndex: UInt64 = 0,
                                      _ body: () async throws -> R) async rethrows -> R {
        try await $current.withValue(Context(seed: seed, stream: stream, startIndex: startIndex), operation: body)
    }

    /// Random bits for the next scalar stochastic rounding of the current context.
    public static func nextBits() -> UInt32 { current.nextBits() }
}
