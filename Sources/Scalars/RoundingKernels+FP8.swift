/// Loop-invariant constants for writing the fp8 pattern of a binary32 member (see `FP8Format`).
@frozen
public struct _FP8EncodingConstants {
    /// Bits of a binary32 significand dropped for the fp8 significand field, `23 − m`.
    public let shift: UInt32
    /// `(127 − bias) << m`: subtracted from `|x| >> shift` to rebias the exponent field.
    public let rebias: UInt32
    /// Binary32 pattern of 2^emin.
    public let minNormalBits: UInt32
    /// `2^(m − emin)`: a subnormal member times this is its significand field, an integer < 2^m.
    public let subnormalScale: Float
    public let nanPattern: UInt32
    /// The +∞ pattern, or the NaN pattern for formats without infinities (no member rounds to ∞ there).
    public let infinityPattern: UInt32

    @inlinable
    public init<F: FP8Format>(_: F.Type) {
        let m = F.significandFieldBits
        shift = UInt32(23 - m)
        rebias = UInt32(127 - F.exponentBias) << UInt32(m)
        minNormalBits = UInt32(F.minimumNormalExponent + 127) << 23
        subnormalScale = Float(sign: .plus, exponent: m - F.minimumNormalExponent, significand: 1)
        nanPattern = UInt32(F.nanPattern)
        infinityPattern = UInt32(F.infinityPattern ?? F.nanPattern)
    }

    @inlinable @inline(__always)
    public init(copying c: _FP8EncodingConstants) {
        shift = c.shift; rebias = c.rebias; minNormalBits = c.minNormalBits; subnormalScale = c.subnormalScale
        nanPattern = c.nanPattern; infinityPattern = c.infinityPattern
    }
}

extension RoundingKernels {
    /// The fp8 pattern of a binary32 pattern `r` that is a member of the format, ±∞ or NaN, branch-free:
    /// normal members shift the significand into place and rebias the exponent; subnormal members scale
    /// to their significand field (an exact product, converted exactly).
    @inlinable @inline(__always)
    public static func _fp8Bits(_ r: UInt32, _ c: _FP8EncodingConstants) -> UInt8 {
        let sign = (r &>> 24) & 0x80
        let a = r & 0x7FFF_FFFF
        let normal = (a &>> c.shift) &- c.rebias
        let small = a < c.minNormalBits ? a : 0                     // keeps the conversion below in range
        let sub = UInt32(Int32(Float(bitPattern: small) * c.subnormalScale))
        var v = a < c.minNormalBits ? sub : normal
        v = a == 0x7F80_0000 ? c.infinityPattern : v
        v = a > 0x7F80_0000 ? c.nanPattern : v
        return UInt8(truncatingIfNeeded: v | sign)
    }

    /// Rounds each binary32 into the fp8 format `F` in `mode` (default nearest even) and stores the OCP
    /// bit patterns: element for element `F.encode(Double(x), mode:)`, and for `FP8E4M3Format` and
    /// `FP8E5M2Format` in nearest even the encoding of ml_dtypes' float8_e4m3fn and float8_e5m2 (tests).
    ///
    /// - Throws: `RoundingKernelError.countMismatch` if the buffers differ in length (the only failure: the
    ///   fp8 formats fit in binary32).
    @inlinable
    public static func roundToFP8Bits<F: FP8Format>(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<UInt8>,
                                                    format: F.Type, mode: DeterministicRounding = .nearestEven) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFP8Bits(\(F.name))", source: src.count, destination: dst.count)
        }
        let c = try! _FormatKernelConstants(F.self)
        switch mode {
        case .nearestEven: _fp8Loop(src, dst, c, _FP8EncodingConstants(F.self), NearestEven.self)
        case .towardZero: _fp8Loop(src, dst, c, _FP8EncodingConstants(F.self), TowardZero.self)
        case .up: _fp8Loop(src, dst, c, _FP8EncodingConstants(F.self), Upward.self)
        case .down: _fp8Loop(src, dst, c, _FP8EncodingConstants(F.self), Downward.self)
        case .odd: _fp8Loop(src, dst, c, _FP8EncodingConstants(F.self), ToOdd.self)
        }
    }

    @inlinable
    public static func _fp8Loop<M: RoundingModeTag>(_ src: UnsafeBufferPointer<Float>, _ dst: UnsafeMutableBufferPointer<UInt8>,
                                                    _ c: _FormatKernelConstants, _ e: _FP8EncodingConstants, _: M.Type) {
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            let k = _FormatKernelConstants(copying: c), ek = _FP8EncodingConstants(copying: e)
            for i in 0..<n { d[i] = _fp8Bits(_roundFloatBits(bits[i], k, M.self, random: 0), ek) }
        }
    }

    /// `[Float]` convenience for `roundToFP8Bits(_:into:format:mode:)` (cannot fail).
    @inlinable
    public static func roundToFP8Bits<F: FP8Format>(_ src: [Float], format: F.Type,
                                                    mode: DeterministicRounding = .nearestEven) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: src.count) { buffer, count in
            src.withUnsafeBufferPointer { s in try! roundToFP8Bits(s, into: buffer, format: F.self, mode: mode) }
            count = src.count
        }
    }

    /// Stochastic rounding into the fp8 format `F`, stored as OCP bit patterns: element `i` uses the bits of
    /// index `startIndex + i` of `(seed, stream)`, and equals `F.encodeStochastic(Double(x), random:)` with
    /// them (the fast stochastic loop, then the exact pattern of the member).
    ///
    /// - Throws: `RoundingKernelError.countMismatch` if the buffers differ in length (the only failure).
    @inlinable
    public static func roundToFP8BitsStochastic<F: FP8Format>(_ src: UnsafeBufferPointer<Float>,
                                                              into dst: UnsafeMutableBufferPointer<UInt8>, format: F.Type,
                                                              seed: UInt64, stream: UInt64,
                                                              startIndex: UInt64 = 0) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFP8BitsStochastic(\(F.name))", source: src.count, destination: dst.count)
        }
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let fast = _StochasticKernelConstants(try! _FormatKernelConstants(F.self))!     // fp8: qe ≥ −17
        let e = _FP8EncodingConstants(F.self)
        s.withMemoryRebound(to: UInt32.self, capacity: src.count) { bits in
            _stochasticBlocks(bits, src.count, fast, seed: seed, stream: stream, startIndex: startIndex) { lo, count, r in
                let ek = _FP8EncodingConstants(copying: e), out = d + lo
                for j in 0..<count { out[j] = _fp8Bits(r[j], ek) }
            }
        }
    }

    /// `[Float]` convenience for `roundToFP8BitsStochastic(_:into:format:seed:stream:startIndex:)` (cannot fail).
    @inlinable
    public static func roundToFP8BitsStochastic<F: FP8Format>(_ src: [Float], format: F.Type, seed: UInt64, stream: UInt64,
                                                              startIndex: UInt64 = 0) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: src.count) { buffer, count in
            src.withUnsafeBufferPointer { s in
                try! roundToFP8BitsStochastic(s, into: buffer, format: F.self, seed: seed, stream: stream, startIndex: startIndex)
            }
            count = src.count
        }
    }

    /// The binary32 values of fp8 patterns (exact), through a 256-entry table of `F.decode`.
    @inlinable
    public static func floatsFromFP8Bits<F: FP8Format>(_ bits: [UInt8], format: F.Type) -> [Float] {
        let table = (0...255).map { Float(F.decode(UInt8($0))) }
        return table.withUnsafeBufferPointer { t in bits.map { t[Int($0)] } }
    }
}
