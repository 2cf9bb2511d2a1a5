/// Array rounding kernels: binary32 arrays rounded to narrower formats, written as branch-free integer
/// arithmetic on the bit patterns (selects, no branches in the loop) so that they vectorise.
///
/// Every kernel gives, element by element, exactly what the scalar types give: `BFloat16(x)`,
/// `Float16(x)`, `F.round(Double(x), mode:random:)`; the stochastic kernels use the counter-based bits
/// of `StochasticRounding` with index `startIndex + i` for element `i`, so an array split across threads
/// (each part with its own `startIndex`) gives the same bits as one pass.
///
/// Performance is measured in the `Benchmarks` executable, not in tests.
public enum RoundingKernels {}

/// Misuse of a rounding kernel.
public enum RoundingKernelError: Error, Equatable, Sendable, CustomStringConvertible {
    case countMismatch(operation: String, source: Int, destination: Int)
    case unsupportedFormat(format: String, reason: String)

    public var description: String {
        switch self {
        case let .countMismatch(operation, source, destination):
            "\(operation): source has \(source) elements but destination has \(destination)"
        case let .unsupportedFormat(format, reason):
            "format '\(format)' cannot be produced from binary32 by the array kernels: \(reason)"
        }
    }
}

extension RoundingKernels {
    // MARK: bfloat16

    /// Rounds each binary32 to the nearest bfloat16 (ties to even) and stores its bit pattern; NaN
    /// becomes a quiet NaN with its sign and top payload bits.
    @inlinable
    public static func roundToBFloat16Bits(_ src: UnsafeBufferPointer<Float>,
                                           into dst: UnsafeMutableBufferPointer<UInt16>) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToBFloat16Bits", source: src.count, destination: dst.count)
        }
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            for i in 0..<n {
                d[i] = BFloat16._roundedBits(fromFloatBits: bits[i])
            }
        }
    }

    /// `[Float]` convenience for `roundToBFloat16Bits(_:into:)`.
    @inlinable
    public static func roundToBFloat16Bits(_ src: [Float]) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: src.count) { buffer, count in
            src.withUnsafeBufferPointer { s in try! roundToBFloat16Bits(s, into: buffer) }
            count = src.count
        }
    }

    /// Stochastic rounding to bfloat16: element `i` rounds away from zero iff its 16 discarded bits,
    /// read as an integer, exceed the top 16 bits of `StochasticRounding.bits(seed:stream:index:)` with
    /// index `startIndex + i` (probability = discarded fraction, exactly). Same result as
    /// `BFloat16Format.round(_, mode: .stochastic, random:)` with those bits. Overflow gives ±∞.
    @inlinable
    public static func roundToBFloat16BitsStochastic(_ src: UnsafeBufferPointer<Float>,
                                                     into dst: UnsafeMutableBufferPointer<UInt16>,
                                                     seed: UInt64, stream: UInt64,
                                                     startIndex: UInt64 = 0) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToBFloat16BitsStochastic", source: src.count, destination: dst.count)
        }
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        s.withMemoryRebound(to: UInt32.self, capacity: src.count) { bits in
            _forEachIndexBlock(count: src.count, startIndex: startIndex, seed: seed, stream: stream) { lo, hi, key, firstLow in
                let keyHigh = UInt32(truncatingIfNeeded: key &>> 32)
                var z = firstLow &+ UInt32(truncatingIfNeeded: key)     // a 32-bit induction variable (no 64-bit lanes)
                for i in lo..<hi {
                    let w = StochasticRounding.bits(keyed: z, keyHigh: keyHigh)
                    z &+= 1
                    let b = bits[i]
                    let rounded = (b &+ (0xFFFF &- (w &>> 16))) &>> 16
                    let isNaN = (b & 0x7FFF_FFFF) > 0x7F80_0000
                    d[i] = UInt16(truncatingIfNeeded: isNaN ? ((b &>> 16) | 0x0040) : rounded)
                }
            }
        }
    }

    /// `[Float]` convenience for `roundToBFloat16BitsStochastic(_:into:seed:stream:startIndex:)`.
    @inlinable
    public static func roundToBFloat16BitsStochastic(_ src: [Float], seed: UInt64, stream: UInt64,
                                                     startIndex: UInt64 = 0) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: src.count) { buffer, count in
            src.withUnsafeBufferPointer { s in
                try! roundToBFloat16BitsStochastic(s, into: buffer, seed: seed, stream: stream, startIndex: startIndex)
            }
            count = src.count
        }
    }

    /// Splits `0..<count` into runs whose indices `startIndex + i` share the high 32 bits, and calls
    /// `body(lo, hi, key, low32(startIndex + lo))` for each (the key changes every 2^32 indices).
    @inlinable @inline(__always)
    public static func _forEachIndexBlock(count: Int, startIndex: UInt64, seed: UInt64, stream: UInt64,
                                          _ body: (Int, Int, UInt64, UInt32) -> Void) {
        var lo = 0
        while lo < count {
            let index = startIndex &+ UInt64(lo)
            let block = index &>> 32
            let remainingInBlock = (UInt64(1) << 32) &- (index & 0xFFFF_FFFF)
            let hi = UInt64(count - lo) <= remainingInBlock ? count : lo + Int(remainingInBlock)
            body(lo, hi, StochasticRounding.key(seed: seed, stream: stream, block: block),
                 UInt32(truncatingIfNeeded: index))
            lo = hi
        }
    }

    // MARK: binary16

    /// Rounds each binary32 to the nearest binary16 (ties to even) and stores its bit pattern, like
    /// `Float16(x).bitPattern` without a libcall per element. NaN stays a quiet NaN (sign, top payload).
    ///
    /// Normal results: round the pattern at bit 13 and rebias (a carry moves to the next binade or to
    /// ∞). Subnormal results: add 0.5 in binary32, whose ulp is 2^−24, the binary16 subnormal spacing,
    /// so the hardware's round-to-nearest-even does the rounding (F. Giesen's float_to_half_fast3_rtne).
    @inlinable
    public static func roundToFloat16Bits(_ src: UnsafeBufferPointer<Float>,
                                          into dst: UnsafeMutableBufferPointer<UInt16>) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFloat16Bits", source: src.count, destination: dst.count)
        }
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            for i in 0..<n { d[i] = _float16Bits(bits[i]) }
        }
    }

    /// One element of `roundToFloat16Bits`.
    @inlinable @inline(__always)
    public static func _float16Bits(_ b: UInt32) -> UInt16 {
        let sign = (b &>> 16) & 0x8000
        let a = b & 0x7FFF_FFFF
        let mantOdd = (a &>> 13) & 1
        let normal = (a &+ 0xC800_0FFF &+ mantOdd) &>> 13          // rebias by (15 − 127) << 23
        let magic: UInt32 = 126 << 23                               // 0.5
        let sub = (Float(bitPattern: a) + Float(bitPattern: magic)).bitPattern &- magic
        var r = a < (113 << 23) ? sub : normal
        r = a >= (143 << 23) ? 0x7C00 : r                           // ≥ 2^16: ∞
        r = a > 0x7F80_0000 ? (0x7E00 | ((a &>> 13) & 0x3FF)) : r   // NaN, quiet
        return UInt16(truncatingIfNeeded: r | sign)
    }

    /// The binary32 pattern of the binary16 value with pattern `h`: exact (every binary16 value is a
    /// binary32 value); a NaN keeps its sign and payload and comes out quiet, as `Float(Float16)` does.
    /// Branch-free, so loops over it vectorise; on targets without F16C, `Float(Float16)` is a library
    /// call per element. Normal numbers and ∞/NaN move their exponent field by (127 − 15) and, for
    /// ∞/NaN, by (128 − 16) more; subnormals and zeros are renormalised by one binary32 subtraction
    /// (exact: `2^−14 · (1 + m/1024) − 2^−14 = 2^−24 m`). F. Giesen's half_to_float_fast5.
    @inlinable @inline(__always)
    public static func _float16ToFloatBits(_ h: UInt16) -> UInt32 {
        let x = UInt32(h)
        let shifted = (x & 0x7FFF) &<< 13                          // exponent and significand in place
        let exponent = shifted & (0x1F << 23)
        let rebiased = shifted &+ ((127 - 15) << 23)
        let quiet: UInt32 = x & 0x3FF != 0 ? 0x0040_0000 : 0       // NaN (not ∞): set the quiet bit
        let special = (rebiased &+ ((128 - 16) << 23)) | quiet      // ∞ and NaN: exponent field 255
        let magic: UInt32 = 113 << 23                               // 2^−14
        let tiny = (Float(bitPattern: rebiased &+ (1 << 23)) - Float(bitPattern: magic)).bitPattern
        var r = exponent == (0x1F << 23) ? special : rebiased
        r = exponent == 0 ? tiny : r
        return r | ((x & 0x8000) &<< 16)
    }

    /// `[Float]` convenience for `roundToFloat16Bits(_:into:)`.
    @inlinable
    public static func roundToFloat16Bits(_ src: [Float]) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: src.count) { buffer, count in
            src.withUnsafeBufferPointer { s in try! roundToFloat16Bits(s, into: buffer) }
            count = src.count
        }
    }
}
