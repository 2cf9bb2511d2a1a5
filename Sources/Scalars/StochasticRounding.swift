import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random bits for stochastic rounding, from a counter-based generator: the bits for a rounding are a
/// pure function of `(seed, stream, index)`.
///
/// ## Determinism guarantee
/// A result computed with stochastic rounding depends only on the seed, the stream and the index of
/// each rounding, never on thread count, scheduling or call order elsewhere:
/// - array kernels (`RoundingKernels.*Stochastic`) use index `startIndex + i` for element `i`, so any
///   split of an array across threads (each part with its own `startIndex`) gives the same bits as one
///   pass, and the same bits as `bits(seed:stream:index:)`;
/// - scalar `SimulatedFloat` arithmetic takes the index from the current `Context`, a counter that
///   each stochastic rounding increments. A study cell installs its own context with
///   `withContext(seed:stream:) { … }` and runs its (sequential) computation inside it; the sequence
///   of roundings, hence the bits, is then fixed by the program.
///   Do not share one context between concurrently running tasks: the counter is atomic (no data race)
///   but the order in which tasks take indices is not deterministic.
///
/// ## Rounding outside a context
/// Scalar stochastic rounding outside every `withContext` draws from `defaultContext` (seed 0,
/// stream 0), a process-wide counter: deterministic only in a single-threaded program, and the same
/// bits in every run, which is rarely what a study wants. The first such rounding in a process writes a
/// one-time warning to standard error (`defaultContextWarningHandler`), and every one is counted
/// (`defaultContextUseCount`), so that silently unseeded rounding is visible.
///
/// ## The generator
/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014) in
/// counter form. The key of a `(seed, stream)` pair is
/// `key = mix64(mix64(seed ⊕ c₁) ⊕ stream ⊕ c₂)` (`mix64` = SplitMix64's finaliser, a bijection of
/// 64-bit words; for a fixed seed, distinct streams have distinct keys). Indices are taken in pairs:
/// `W(c) = mix64(key + (c + 1)·γ)` (γ = 0x9E37_79B9_7F4A_7C15, the golden gamma) is SplitMix64's output
/// number `c` from state `key`, and index `i` gets the low 32 bits of `W(i >> 1)` when `i` is even and
/// the high 32 bits when it is odd. So the bits of consecutive indices are consecutive outputs of
/// SplitMix64 (which passes BigCrush), cut into 32-bit halves. Two keys start two windows of one
/// sequence of period 2^64 at pseudo-random places: windows of length L overlap with probability about
/// 2L/2^64.
///
/// Until issue 18 the bits were a keyed two-round 32-bit hash (lowbias32) of the index plus a key. A
/// run of consecutive counters entered that hash as an arithmetic progression, and two multiply rounds
/// left it close to a lattice: round-up counts over 10^6 consecutive indices had 0.93× the binomial
/// standard deviation, falling further for longer runs (StochasticBitQualityTests). Every stochastic
/// rounding result changed with the new generator.
public enum StochasticRounding {
    /// SplitMix64's output function (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
    @inlinable @inline(__always)
    public static func mix64(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }

    /// SplitMix64's increment, the golden gamma ⌊2^64/φ⌋ made odd.
    @inlinable
    public static var gamma: UInt64 { 0x9E37_79B9_7F4A_7C15 }

    /// The key of `(seed, stream)`: the SplitMix64 state that index 0 starts from.
    @inlinable
    public static func key(seed: UInt64, stream: UInt64) -> UInt64 {
        mix64(mix64(seed ^ 0x6A09_E667_F3BC_C909) ^ stream ^ 0xBB67_AE85_84CA_A73B)
    }

    /// The 64 random bits of the index pair `2c, 2c + 1` (SplitMix64's output number `c` from `key`).
    @inlinable @inline(__always)
    public static func pairBits(key: UInt64, pair c: UInt64) -> UInt64 {
        mix64(key &+ (c &+ 1) &* gamma)
    }

    /// The 32 random bits of rounding number `index`, given the key.
    @inlinable @inline(__always)
    public static func bits(key: UInt64, index: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: pairBits(key: key, pair: index &>> 1) &>> ((index & 1) &<< 5))
    }

    /// The 32 random bits for rounding number `index` of `(seed, stream)`.
    @inlinable
    public static func bits(seed: UInt64, stream: UInt64, index: UInt64) -> UInt32 {
        bits(key: key(seed: seed, stream: stream), index: index)
    }

    /// `bits(key:index:)` for the `count` indices `startIndex, startIndex + 1, …`, stored in that order at
    /// `out[0 ..< count]`: one SplitMix64 output per pair, stored as two 32-bit words (low half first).
    ///
    /// A run that passes index 2^64 − 1 continues at index 0, whose pair is 0 (not the next pair counter):
    /// it is filled in two parts.
    @inlinable @inline(__always)
    public static func _fill(_ out: UnsafeMutablePointer<UInt32>, count n: Int, key: UInt64, startIndex: UInt64) {
        let beforeWrap = 0 &- startIndex              // indices left before the wrap (0: 2^64, no wrap)
        if beforeWrap != 0 && UInt64(n) > beforeWrap {
            _fillWithinRange(out, count: Int(beforeWrap), key: key, startIndex: startIndex)
            _fillWithinRange(out + Int(beforeWrap), count: n - Int(beforeWrap), key: key, startIndex: 0)
        } else {
            _fillWithinRange(out, count: n, key: key, startIndex: startIndex)
        }
    }

    /// `_fill` for a run that does not pass index 2^64 − 1.
    @inlinable @inline(__always)
    public static func _fillWithinRange(_ out: UnsafeMutablePointer<UInt32>, count n: Int, key: UInt64, startIndex: UInt64) {
        guard n > 0 else { return }
        var j = 0
        var c = startIndex &>> 1
        if startIndex & 1 == 1 {
            out[0] = UInt32(truncatingIfNeeded: pairBits(key: key, pair: c) &>> 32)
            j = 1
            c &+= 1
        }
        let raw = UnsafeMutableRawPointer(out)
        var state = key &+ (c &+ 1) &* gamma
        let g = gamma
        // four independent SplitMix64 chains per step, in scalar registers: on the baseline x86-64 target
        // (SSE2, no 64-bit lane multiply) this ran 1.3× faster than the loop below, which the compiler
        // vectorises with three `pmuludq` per 64-bit product
        while j + 7 < n {
            let w0 = mix64(state), w1 = mix64(state &+ g), w2 = mix64(state &+ 2 &* g), w3 = mix64(state &+ 3 &* g)
            raw.storeBytes(of: w0.littleEndian, toByteOffset: 4 &* j, as: UInt64.self)
            raw.storeBytes(of: w1.littleEndian, toByteOffset: 4 &* j &+ 8, as: UInt64.self)
            raw.storeBytes(of: w2.littleEndian, toByteOffset: 4 &* j &+ 16, as: UInt64.self)
            raw.storeBytes(of: w3.littleEndian, toByteOffset: 4 &* j &+ 24, as: UInt64.self)
            state &+= 4 &* g
            j &+= 8
        }
        while j + 1 < n {
            raw.storeBytes(of: mix64(state).littleEndian, toByteOffset: 4 &* j, as: UInt64.self)
            state &+= g
            j &+= 2
        }
        if j < n { out[j] = UInt32(truncatingIfNeeded: mix64(state)) }
    }

    /// Fills `buffer` with the bits of indices `startIndex ..< startIndex + buffer.count` of `(seed, stream)`,
    /// the same bits as `bits(seed:stream:index:)` index by index, and the bits the array kernels use.
    @inlinable
    public static func fill(_ buffer: UnsafeMutableBufferPointer<UInt32>, seed: UInt64, stream: UInt64,
                            startIndex: UInt64 = 0) {
        guard let base = buffer.baseAddress else { return }
        _fill(base, count: buffer.count, key: key(seed: seed, stream: stream), startIndex: startIndex)
    }

    /// `[UInt32]` convenience for `fill(_:seed:stream:startIndex:)`.
    @inlinable
    public static func bits(count: Int, seed: UInt64, stream: UInt64, startIndex: UInt64 = 0) -> [UInt32] {
        [UInt32](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer, seed: seed, stream: stream, startIndex: startIndex)
            initialized = count
        }
    }

    /// A scalar stochastic-rounding context: a `(seed, stream)` pair and the index of the next rounding.
    public final class Context: Sendable {
        public let seed: UInt64
        public let stream: UInt64
        /// `StochasticRounding.key(seed:stream:)`, computed once.
        public let key: UInt64
        /// Whether this is the process-wide `defaultContext` (roundings from it are counted and warned about).
        public let isProcessDefault: Bool
        @usableFromInline let counter: Atomic<UInt64>

        public convenience init(seed: UInt64, stream: UInt64, startIndex: UInt64 = 0) {
            self.init(seed: seed, stream: stream, startIndex: startIndex, isProcessDefault: false)
        }

        init(seed: UInt64, stream: UInt64, startIndex: UInt64, isProcessDefault: Bool) {
            self.seed = seed
            self.stream = stream
            self.key = StochasticRounding.key(seed: seed, stream: stream)
            self.isProcessDefault = isProcessDefault
            self.counter = Atomic(startIndex)
        }

        /// The index the next rounding will use (= number of roundings done, plus the start index).
        public var nextIndex: UInt64 { counter.load(ordering: .relaxed) }

        /// Takes the next index and returns its random bits.
        @inlinable
        public func nextBits() -> UInt32 {
            if isProcessDefault { StochasticRounding._noteDefaultContextUse() }
            let index = counter.add(1, ordering: .relaxed).oldValue
            return StochasticRounding.bits(key: key, index: index)
        }
    }

    /// The context used by scalar stochastic rounding outside every `withContext` (seed 0, stream 0): a
    /// documented default, deterministic only in single-threaded code. Using it warns once (see the type's
    /// documentation).
    public static let defaultContext = Context(seed: 0, stream: 0, startIndex: 0, isProcessDefault: true)

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

    // MARK: default-context use

    /// How many roundings have drawn from `defaultContext` in this process.
    public static var defaultContextUseCount: Int { _defaultUses.load(ordering: .relaxed) }

    /// The text of the one-time warning.
    public static let defaultContextWarning = """
        Mantissa warning: stochastic rounding outside StochasticRounding.withContext(seed:stream:) uses the \
        process-wide default context (seed 0, stream 0): the same bits in every run, and not deterministic \
        across threads. Wrap the computation in withContext to choose a seed and stream. (Shown once per process.)
        """

    /// What the first default-context rounding of a process calls with `defaultContextWarning`; by
    /// default it writes the text and a newline to standard error. Replaceable, e.g. by a test.
    public static var defaultContextWarningHandler: @Sendable (String) -> Void {
        get { _warningHandler.withLock { $0 } }
        set { _warningHandler.withLock { $0 = newValue } }
    }

    /// Re-arms the one-time warning (for tests of the warning path).
    public static func _rearmDefaultContextWarning() { _warned.store(false, ordering: .sequentiallyConsistent) }

    @usableFromInline static let _defaultUses = Atomic<Int>(0)
    static let _warned = Atomic<Bool>(false)
    static let _warningHandler = Mutex<@Sendable (String) -> Void>({ text in
        // file descriptor 2 directly: the C `stderr` global is not concurrency-safe to reference in Swift 6
        let line = Array((text + "\n").utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    })

    /// Counts a default-context rounding and, the first time in the process, calls the warning handler.
    @usableFromInline
    static func _noteDefaultContextUse() {
        _defaultUses.add(1, ordering: .relaxed)
        if !_warned.load(ordering: .relaxed),
           _warned.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            defaultContextWarningHandler(defaultContextWarning)
        }
    }
}
