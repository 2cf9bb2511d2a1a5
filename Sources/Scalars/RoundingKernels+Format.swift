/// Loop-invariant constants for rounding binary32 to a format inside binary32's range.
@frozen
public struct _FormatKernelConstants {
    /// Bits of the binary32 significand dropped for normal results, 24 − p.
    public let drop: UInt32
    public let mask: UInt32
    public let half: UInt32
    /// `half − 1` (0 when nothing is dropped), added with the kept lsb for ties-to-even.
    public let nearestBias: UInt32
    /// 1, or 0 when nothing is dropped (the kept lsb is then irrelevant).
    public let lsbMask: UInt32
    /// `32 − drop` (31 when nothing is dropped, masked out by `mask` = 0): the top `drop` random bits.
    public let randomShift: UInt32
    /// Binary32 pattern of 2^emin (below it the fixed subnormal grid applies).
    public let minNormalBits: UInt32
    /// Binary32 pattern of the largest finite member.
    public let maxBits: UInt32
    /// Scale to the subnormal grid, `2^−qe = scale1 · scale2` (each factor a binary32 power of two).
    public let scale1: Float
    public let scale2: Float
    /// Subnormal spacing `2^qe` (2^emin without subnormals).
    public let quantum: Float
    /// `2^(qe + 23)`: adding it to |x| < 2^emin rounds |x| to the subnormal grid (its ulp is 2^qe) in the
    /// hardware's round-to-nearest-even, and subtracting it again is exact.
    public let nearestMagic: Float
    /// Result of an overflow that rounds away from zero, and of a ±∞ input (magnitudes).
    public let overflowAwayBits: UInt32
    public let infinityBits: UInt32

    /// A field-by-field copy. The loops work on such a local copy: its fields then live in registers,
    /// and the compiler need not fear that stores to the output alias the constants (which would stop
    /// vectorisation).
    @inlinable @inline(__always)
    public init(copying c: _FormatKernelConstants) {
        drop = c.drop; mask = c.mask; half = c.half; nearestBias = c.nearestBias; lsbMask = c.lsbMask
        randomShift = c.randomShift; minNormalBits = c.minNormalBits; maxBits = c.maxBits
        scale1 = c.scale1; scale2 = c.scale2; quantum = c.quantum; nearestMagic = c.nearestMagic
        overflowAwayBits = c.overflowAwayBits; infinityBits = c.infinityBits
    }

    @inlinable
    public init<F: FloatFormat>(_ format: F.Type) throws(RoundingKernelError) {
        let p = F.precision, emin = F.minimumNormalExponent, emax = F.maximumExponent
        do { try F.validate() } catch {
            throw .unsupportedFormat(format: F.name, reason: error.description)
        }
        guard p <= 24, emax <= 127, emin >= -126 else {
            throw .unsupportedFormat(format: F.name, reason: "needs p ≤ 24 and binary32's exponent range (p = \(p), emin = \(emin), emax = \(emax))")
        }
        drop = UInt32(24 - p)
        mask = (1 << drop) - 1
        half = drop == 0 ? 0 : 1 << (drop - 1)
        nearestBias = drop == 0 ? 0 : half - 1
        lsbMask = drop == 0 ? 0 : 1
        randomShift = drop == 0 ? 31 : 32 - drop
        minNormalBits = UInt32(emin + 127) << 23
        maxBits = Float(F.greatestFiniteMagnitude).bitPattern
        let qe = F.hasSubnormals ? emin - p + 1 : emin
        let k1 = -qe / 2, k2 = -qe - k1
        scale1 = Float(sign: .plus, exponent: k1, significand: 1)
        scale2 = Float(sign: .plus, exponent: k2, significand: 1)
        quantum = Float(sign: .plus, exponent: qe, significand: 1)
        nearestMagic = Float(sign: .plus, exponent: qe + 23, significand: 1)
        let nanBits: UInt32 = 0x7FC0_0000
        switch F.overflow {
        case .saturate: overflowAwayBits = maxBits
        case .infinity: overflowAwayBits = 0x7F80_0000
        case .nan: overflowAwayBits = nanBits
        }
        infinityBits = F.hasInfinities ? 0x7F80_0000 : (F.overflow == .saturate ? maxBits : nanBits)
    }
}

extension _FormatKernelConstants {
    /// The constants of `Float16Format` (binary16), which the binary16 kernels use.
    @inlinable
    public static var _float16: _FormatKernelConstants { try! _FormatKernelConstants(Float16Format.self) }
}

extension RoundingKernels {
    /// Rounds each binary32 into the format `F` in `mode` and stores the results as binary32 (every member
    /// of a format with p ≤ 24 and binary32's range is a binary32). Element for element equal to
    /// `F.round(Double(x), mode: mode.mode)`.
    ///
    /// The kernels take the rounding as an argument and never read `F.rounding`: a deterministic mode here
    /// (default nearest even), a seed and a stream in `roundToFormatStochastic`. So
    /// `Rounded<F, Stochastic>` rounds stochastically only through the stochastic kernel, where the bits are
    /// named.
    ///
    /// - Throws: `RoundingKernelError` if the counts differ, or the format does not fit in binary32
    ///   (p > 24 or an exponent range beyond binary32's).
    @inlinable
    public static func roundToFormat<F: FloatFormat>(_ src: UnsafeBufferPointer<Float>,
                                                     into dst: UnsafeMutableBufferPointer<Float>,
                                                     format: F.Type,
                                                     mode: DeterministicRounding = .nearestEven) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFormat(\(F.name))", source: src.count, destination: dst.count)
        }
        let c = try _FormatKernelConstants(F.self)
        switch mode {
        case .nearestEven: _formatLoop(src, dst, c, NearestEven.self)
        case .towardZero: _formatLoop(src, dst, c, TowardZero.self)
        case .up: _formatLoop(src, dst, c, Upward.self)
        case .down: _formatLoop(src, dst, c, Downward.self)
        case .odd: _formatLoop(src, dst, c, ToOdd.self)
        }
    }

    /// Stochastic rounding into `F`: element `i` uses the bits of index `startIndex + i` of
    /// `(seed, stream)`; equal to `F.round(Double(x), mode: .stochastic, random: bits)`.
    ///
    /// - Throws: `RoundingKernelError` if the counts differ, or the format does not fit in binary32.
    @inlinable
    public static func roundToFormatStochastic<F: FloatFormat>(_ src: UnsafeBufferPointer<Float>,
                                                               into dst: UnsafeMutableBufferPointer<Float>,
                                                               format: F.Type, seed: UInt64, stream: UInt64,
                                                               startIndex: UInt64 = 0) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFormatStochastic(\(F.name))", source: src.count, destination: dst.count)
        }
        let c = try _FormatKernelConstants(F.self)
        _formatLoopStochastic(src, dst, c, seed: seed, stream: stream, startIndex: startIndex)
    }

    /// `[Float]` convenience for `roundToFormat(_:into:format:mode:)`.
    ///
    /// - Throws: `RoundingKernelError.unsupportedFormat` if `F` does not fit in binary32 (the only failure).
    @inlinable
    public static func roundToFormat<F: FloatFormat>(_ src: [Float], format: F.Type,
                                                     mode: DeterministicRounding = .nearestEven) throws(RoundingKernelError) -> [Float] {
        var out = [Float](repeating: 0, count: src.count)
        try src.withUnsafeBufferPointer { (s) throws(RoundingKernelError) in
            try out.withUnsafeMutableBufferPointer { (d) throws(RoundingKernelError) in
                try roundToFormat(s, into: d, format: F.self, mode: mode)
            }
        }
        return out
    }

    /// `[Float]` convenience for `roundToFormatStochastic`.
    ///
    /// - Throws: `RoundingKernelError.unsupportedFormat` if `F` does not fit in binary32 (the only failure).
    @inlinable
    public static func roundToFormatStochastic<F: FloatFormat>(_ src: [Float], format: F.Type, seed: UInt64,
                                                               stream: UInt64, startIndex: UInt64 = 0) throws(RoundingKernelError) -> [Float] {
        var out = [Float](repeating: 0, count: src.count)
        try src.withUnsafeBufferPointer { (s) throws(RoundingKernelError) in
            try out.withUnsafeMutableBufferPointer { (d) throws(RoundingKernelError) in
                try roundToFormatStochastic(s, into: d, format: F.self, seed: seed, stream: stream, startIndex: startIndex)
            }
        }
        return out
    }

    /// The deterministic loop, specialised per mode (`M.mode` is a constant after specialisation, so the
    /// mode switch in `_roundFloatBits` folds away).
    @inlinable
    public static func _formatLoop<M: RoundingModeTag>(_ src: UnsafeBufferPointer<Float>,
                                                       _ dst: UnsafeMutableBufferPointer<Float>,
                                                       _ c: _FormatKernelConstants, _: M.Type) {
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            d.withMemoryRebound(to: UInt32.self, capacity: n) { out in
                // a copy local to the innermost closure, so that the fields live in registers (read through
                // the captured context, they could alias the stores to `out`: the loop did not vectorise,
                // 6× slower)
                let k = _FormatKernelConstants(copying: c)
                for i in 0..<n { out[i] = _roundFloatBits(bits[i], k, M.self, random: 0) }
            }
        }
    }

    /// The stochastic loop. Formats with p ≤ 23 and qe ≥ −103 (fp8, binary16, most custom formats) take
    /// the fast loop of RoundingKernels+Stochastic.swift; the others (bf16, tf32, p = 24) the general
    /// element function here, on a block of random bits at a time. (The dispatch stays out of the loops'
    /// closures: with it inside, a loop stopped vectorising, 8× slower.)
    @inlinable
    public static func _formatLoopStochastic(_ src: UnsafeBufferPointer<Float>, _ dst: UnsafeMutableBufferPointer<Float>,
                                             _ c: _FormatKernelConstants, seed: UInt64, stream: UInt64, startIndex: UInt64) {
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        if let fast = _StochasticKernelConstants(c) {
            s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
                d.withMemoryRebound(to: UInt32.self, capacity: n) { out in
                    _stochasticLoop(bits, out, n, fast, seed: seed, stream: stream, startIndex: startIndex)
                }
            }
            return
        }
        s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            d.withMemoryRebound(to: UInt32.self, capacity: n) { out in
                _forEachRandomBlock(count: n, seed: seed, stream: stream, startIndex: startIndex) { lo, hi, random in
                    // a copy local to the closure: the captured `c` is read through the closure context,
                    // which the compiler cannot prove is not aliased by the stores to `out` (the loop
                    // then reloads the fields every element and does not vectorise: 4.5× slower)
                    let k = _FormatKernelConstants(copying: c)
                    let x = bits + lo, r = out + lo
                    for j in 0..<(hi - lo) { r[j] = _roundFloatBits(x[j], k, Stochastic.self, random: random[j]) }
                }
            }
        }
    }

    /// One element: binary32 pattern in, binary32 pattern of the rounded member out. Two paths computed
    /// without branches and selected: normal results round the pattern at bit `drop` with integer
    /// arithmetic only (a carry moves to the next binade); results below 2^emin are scaled to the fixed
    /// subnormal grid in binary32 (exact power-of-two scalings), split into integer and fraction with the
    /// 2^23 trick, rounded and scaled back. Conditions are 0/1 integers combined with `&`, `|` (no
    /// short-circuit operators, which would become branches).
    @inlinable @inline(__always)
    public static func _roundFloatBits<M: RoundingModeTag>(_ b: UInt32, _ c: _FormatKernelConstants,
                                                           _: M.Type, random w: UInt32) -> UInt32 {
        let sign = b & 0x8000_0000
        let neg = sign &>> 31                       // 1 for negative
        let a = b & 0x7FFF_FFFF
        let keep = ~c.mask
        if M.mode == .nearestEven {
            // short form: integer rounding at bit `drop`, or the magic addition below 2^emin
            let rn = (a &+ c.nearestBias &+ ((a &>> c.drop) & c.lsbMask)) & keep
            let rs = ((Float(bitPattern: a) + c.nearestMagic) - c.nearestMagic).bitPattern
            var r = a < c.minNormalBits ? rs : rn
            r = r > c.maxBits ? c.overflowAwayBits : r
            r = a == 0x7F80_0000 ? c.infinityBits : r
            r = a > 0x7F80_0000 ? (a | 0x0040_0000) : r
            return r | sign
        }
        // normal path
        let rn: UInt32
        switch M.mode {
        case .nearestEven: rn = (a &+ c.nearestBias &+ ((a &>> c.drop) & c.lsbMask)) & keep
        case .towardZero: rn = a & keep
        case .up: rn = (a &+ (c.mask & (0 &- (neg ^ 1)))) & keep
        case .down: rn = (a &+ (c.mask & (0 &- neg))) & keep
        case .odd: rn = (a & keep) | ((((a & c.mask) &+ c.mask) &>> c.drop) &<< c.drop)
        case .stochastic: rn = (a &+ (c.mask &- ((w &>> c.randomShift) & c.mask))) & keep
        }
        // subnormal path (values below 2^emin), scaled < 2^(p−1) ≤ 2^23 there; clamped at 2^23
        // elsewhere (the largest value for which the 2^23 trick below is exact; a clamp at 2^22 broke p = 24)
        let scaled0 = Float(bitPattern: a) * c.scale1 * c.scale2
        let scaled = scaled0 < 0x1p23 ? scaled0 : 0x1p23
        let t = (scaled + 0x1p23) - 0x1p23           // nearest integer, ties to even
        let nFloor = t > scaled ? t - 1 : t
        let frac = scaled - nFloor
        let nOdd = ((nFloor + 0x1p23).bitPattern & 1)
        let inexact: UInt32 = frac != 0 ? 1 : 0
        let upS: UInt32
        switch M.mode {
        case .nearestEven: upS = t > nFloor ? 1 : 0          // t is the ties-to-even neighbour
        case .towardZero: upS = 0
        case .up: upS = inexact & (neg ^ 1)
        case .down: upS = inexact & neg
        case .odd: upS = inexact & (nOdd ^ 1)
        case .stochastic:
            // the 24-bit draw as a binary32, exactly: 2·⌊r/2⌋ + (r mod 2), each part by the 2^23 trick
            let r = w &>> 8
            let hi = Float(bitPattern: (r &>> 1) | 0x4B00_0000) - 0x1p23
            let lo = Float(bitPattern: (r & 1) | 0x4B00_0000) - 0x1p23
            upS = (hi * 2 + lo) < frac * 0x1p24 ? 1 : 0
        }
        let rs = ((upS != 0 ? nFloor + 1 : nFloor) * c.quantum).bitPattern
        var r = a < c.minNormalBits ? rs : rn
        // overflow and specials
        let overflowBits: UInt32
        switch M.mode {
        case .nearestEven, .stochastic: overflowBits = c.overflowAwayBits
        case .towardZero, .odd: overflowBits = c.maxBits
        case .up: overflowBits = neg == 0 ? c.overflowAwayBits : c.maxBits
        case .down: overflowBits = neg != 0 ? c.overflowAwayBits : c.maxBits
        }
        r = r > c.maxBits ? overflowBits : r
        r = a == 0x7F80_0000 ? c.infinityBits : r
        r = a > 0x7F80_0000 ? (a | 0x0040_0000) : r
        return r | sign
    }
}
