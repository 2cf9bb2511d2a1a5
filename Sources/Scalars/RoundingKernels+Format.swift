/// Loop-invariant constants for rounding binary32 to a format inside binary32's range.
@frozen
public struct _FormatKernelConstants {
    /// Bits of the binary32 significand dropped for normal results, 24 − p.
    public let drop: UInt32
    public let mask: UInt32
    public let half: UInt32
    /// Binary32 pattern of 2^emin (below it the fixed subnormal grid applies).
    public let minNormalBits: UInt32
    /// Binary32 pattern of the largest finite member.
    public let maxBits: UInt32
    /// Scale to the subnormal grid, `2^−qe = scale1 · scale2` (each factor a binary32 power of two).
    public let scale1: Float
    public let scale2: Float
    /// Subnormal spacing `2^qe` (2^emin without subnormals).
    public let quantum: Float
    /// Result of an overflow that rounds away from zero, and of a ±∞ input (magnitudes).
    public let overflowAwayBits: UInt32
    public let infinityBits: UInt32

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
        minNormalBits = UInt32(emin + 127) << 23
        maxBits = Float(F.greatestFiniteMagnitude).bitPattern
        let qe = F.hasSubnormals ? emin - p + 1 : emin
        let k1 = -qe / 2, k2 = -qe - k1
        scale1 = Float(sign: .plus, exponent: k1, significand: 1)
        scale2 = Float(sign: .plus, exponent: k2, significand: 1)
        quantum = Float(sign: .plus, exponent: qe, significand: 1)
        let nanBits: UInt32 = 0x7FC0_0000
        switch F.overflow {
        case .saturate: overflowAwayBits = maxBits
        case .infinity: overflowAwayBits = 0x7F80_0000
        case .nan: overflowAwayBits = nanBits
        }
        infinityBits = F.hasInfinities ? 0x7F80_0000 : (F.overflow == .saturate ? maxBits : nanBits)
    }
}

extension RoundingKernels {
    /// Rounds each binary32 into the format `F` in `mode` (default: the format's own mode; stochastic
    /// needs `roundToFormatStochastic`) and stores the results as binary32 (every member of a format with
    /// p ≤ 24 and binary32's range is a binary32). Element for element equal to
    /// `F.round(Double(x), mode: mode)`.
    ///
    /// - Throws: `RoundingKernelError` if the counts differ, the mode is `.stochastic`, or the format does
    ///   not fit in binary32.
    @inlinable
    public static func roundToFormat<F: FloatFormat>(_ src: UnsafeBufferPointer<Float>,
                                                     into dst: UnsafeMutableBufferPointer<Float>,
                                                     format: F.Type, mode: RoundingMode? = nil) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFormat(\(F.name))", source: src.count, destination: dst.count)
        }
        let c = try _FormatKernelConstants(F.self)
        switch mode ?? F.rounding {
        case .nearestEven: _formatLoop(src, dst, c, NearestEven.self, seed: 0, stream: 0, startIndex: 0)
        case .towardZero: _formatLoop(src, dst, c, TowardZero.self, seed: 0, stream: 0, startIndex: 0)
        case .up: _formatLoop(src, dst, c, Upward.self, seed: 0, stream: 0, startIndex: 0)
        case .down: _formatLoop(src, dst, c, Downward.self, seed: 0, stream: 0, startIndex: 0)
        case .odd: _formatLoop(src, dst, c, ToOdd.self, seed: 0, stream: 0, startIndex: 0)
        case .stochastic:
            throw .unsupportedFormat(format: F.name, reason: "stochastic rounding needs a seed: use roundToFormatStochastic")
        }
    }

    /// Stochastic rounding into `F`: element `i` uses the bits of index `startIndex + i` of
    /// `(seed, stream)`; equal to `F.round(Double(x), mode: .stochastic, random: bits)`.
    @inlinable
    public static func roundToFormatStochastic<F: FloatFormat>(_ src: UnsafeBufferPointer<Float>,
                                                               into dst: UnsafeMutableBufferPointer<Float>,
                                                               format: F.Type, seed: UInt64, stream: UInt64,
                                                               startIndex: UInt64 = 0) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFormatStochastic(\(F.name))", source: src.count, destination: dst.count)
        }
        let c = try _FormatKernelConstants(F.self)
        _formatLoop(src, dst, c, Stochastic.self, seed: seed, stream: stream, startIndex: startIndex)
    }

    /// `[Float]` convenience for `roundToFormat`.
    @inlinable
    public static func roundToFormat<F: FloatFormat>(_ src: [Float], format: F.Type,
                                                     mode: RoundingMode? = nil) throws(RoundingKernelError) -> [Float] {
        var out = [Float](repeating: 0, count: src.count)
        try src.withUnsafeBufferPointer { (s) throws(RoundingKernelError) in
            try out.withUnsafeMutableBufferPointer { (d) throws(RoundingKernelError) in
                try roundToFormat(s, into: d, format: F.self, mode: mode)
            }
        }
        return out
    }

    /// `[Float]` convenience for `roundToFormatStochastic`.
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

    /// The loop, specialised per mode (`M.mode` is a constant after specialisation, so the mode switch in
    /// `_roundFloatBits` folds away).
    @inlinable
    public static func _formatLoop<M: RoundingModeTag>(_ src: UnsafeBufferPointer<Float>,
                                                       _ dst: UnsafeMutableBufferPointer<Float>,
                                                       _ c: _FormatKernelConstants, _: M.Type,
                                                       seed: UInt64, stream: UInt64, startIndex: UInt64) {
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            d.withMemoryRebound(to: UInt32.self, capacity: n) { out in
                if M.mode == .stochastic {
                    _forEachIndexBlock(count: n, startIndex: startIndex, seed: seed, stream: stream) { lo, hi, key, firstLow in
                        for i in lo..<hi {
                            let w = StochasticRounding.bits(key: key, low: firstLow &+ UInt32(truncatingIfNeeded: i &- lo))
                            out[i] = _roundFloatBits(bits[i], c, M.self, random: w)
                        }
                    }
                } else {
                    for i in 0..<n { out[i] = _roundFloatBits(bits[i], c, M.self, random: 0) }
                }
            }
        }
    }

    /// One element: binary32 pattern in, binary32 pattern of the rounded member out. Two paths computed
    /// without branches and selected: normal results round the pattern at bit `drop` (a carry moves to the
    /// next binade); results below 2^emin are scaled to the fixed subnormal grid in binary32 (exact power-of-
    /// two scalings), split into integer and fraction with the 2^23 trick, rounded, and scaled back.
    @inlinable @inline(__always)
    public static func _roundFloatBits<M: RoundingModeTag>(_ b: UInt32, _ c: _FormatKernelConstants,
                                                           _: M.Type, random w: UInt32) -> UInt32 {
        let sign = b & 0x8000_0000
        let negative = sign != 0
        let a = b & 0x7FFF_FFFF
        // normal path
        let rem = a & c.mask
        let trunc = a & ~c.mask
        let lsbOdd = ((a &>> c.drop) & 1) != 0
        let inexactN = rem != 0
        let upN: Bool
        switch M.mode {
        case .nearestEven: upN = rem > c.half || (rem == c.half && inexactN && lsbOdd)
        case .towardZero: upN = false
        case .up: upN = inexactN && !negative
        case .down: upN = inexactN && negative
        case .odd: upN = inexactN && !lsbOdd
        case .stochastic: upN = (w &>> 8) < (rem &<< (24 &- c.drop))  // 24-bit draw vs fraction·2^24
        }
        let rn = trunc &+ (upN ? c.mask &+ 1 : 0)
        // subnormal path (values below 2^emin), scaled < 2^(p−1) ≤ 2^23 there; clamped elsewhere
        let scaled = min(Float(bitPattern: a) * c.scale1 * c.scale2, 0x1p22)
        var nFloor = (scaled + 0x1p23) - 0x1p23
        nFloor = nFloor > scaled ? nFloor - 1 : nFloor
        let frac = scaled - nFloor
        let nOdd = ((nFloor + 0x1p23).bitPattern & 1) != 0
        let inexactS = frac != 0
        let upS: Bool
        switch M.mode {
        case .nearestEven: upS = frac > 0.5 || (frac == 0.5 && nOdd)
        case .towardZero: upS = false
        case .up: upS = inexactS && !negative
        case .down: upS = inexactS && negative
        case .odd: upS = inexactS && !nOdd
        case .stochastic: upS = Float(Int32(bitPattern: w &>> 8)) < frac * 0x1p24
        }
        let rs = ((upS ? nFloor + 1 : nFloor) * c.quantum).bitPattern
        var r = a < c.minNormalBits ? rs : rn
        // overflow and specials
        let away: Bool
        switch M.mode {
        case .nearestEven, .stochastic: away = true
        case .towardZero, .odd: away = false
        case .up: away = !negative
        case .down: away = negative
        }
        let overflowBits = away ? c.overflowAwayBits : c.maxBits
        r = r > c.maxBits ? overflowBits : r
        r = a == 0x7F80_0000 ? c.infinityBits : r
        r = a > 0x7F80_0000 ? (a | 0x0040_0000) : r
        // a NaN result carries no meaningful sign from overflow, but keep the input's sign for symmetry
        return r | sign
    }
}
