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

    /// Rounds each binary32 to bfloat16 in `mode` and stores its bit pattern; NaN becomes a quiet NaN with
    /// its sign and top payload bits. Element for element equal to `BFloat16(x)` (nearest even) and to
    /// `BFloat16Format.round(Double(x), mode:)` (every mode).
    ///
    /// bfloat16 has binary32's exponent range, so every rounding is an integer operation on the pattern
    /// at bit 16, subnormals included (the bfloat16 subnormal spacing 2^−133 is bit 16 of a binary32
    /// subnormal): toward zero clears the 16 low bits; away from zero adds 0xFFFF first (a carry moves to
    /// the next binade, and from the largest finite value to ∞, as IEEE overflow away from zero does);
    /// up and down are away or toward zero by the sign; odd sets bit 16 when a low bit is set (the largest
    /// finite pattern 0x7F7F has bit 16 set, so odd never overflows).
    ///
    /// - Throws: `RoundingKernelError.countMismatch` if the buffers differ in length (the only failure).
    @inlinable
    public static func roundToBFloat16Bits(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<UInt16>,
                                           mode: DeterministicRounding = .nearestEven) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToBFloat16Bits", source: src.count, destination: dst.count)
        }
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            switch mode {
            case .nearestEven: for i in 0..<n { d[i] = BFloat16._roundedBits(fromFloatBits: bits[i]) }
            case .towardZero: for i in 0..<n { d[i] = _bfloat16Bits(bits[i], TowardZero.self) }
            case .up: for i in 0..<n { d[i] = _bfloat16Bits(bits[i], Upward.self) }
            case .down: for i in 0..<n { d[i] = _bfloat16Bits(bits[i], Downward.self) }
            case .odd: for i in 0..<n { d[i] = _bfloat16Bits(bits[i], ToOdd.self) }
            }
        }
    }

    /// One element of `roundToBFloat16Bits` in a directed mode or to odd (see there).
    @inlinable @inline(__always)
    public static func _bfloat16Bits<M: RoundingModeTag>(_ b: UInt32, _: M.Type) -> UInt16 {
        let a = b & 0x7FFF_FFFF
        let neg = b &>> 31
        let truncated = a & 0xFFFF_0000
        let away = (a &+ 0xFFFF) & 0xFFFF_0000
        let r: UInt32
        switch M.mode {
        case .towardZero: r = truncated
        case .up: r = neg == 0 ? away : truncated
        case .down: r = neg != 0 ? away : truncated
        case .odd: r = truncated | (a & 0xFFFF != 0 ? 0x1_0000 : 0)
        case .nearestEven: r = (a &+ 0x7FFF &+ ((a &>> 16) & 1)) & 0xFFFF_0000
        case .stochastic: r = truncated          // not used: stochastic rounding has its own kernel
        }
        let quietNaN = (b &>> 16) | 0x0040
        let result = (r &>> 16) | ((b &>> 16) & 0x8000)
        return UInt16(truncatingIfNeeded: a > 0x7F80_0000 ? quietNaN : result)
    }

    /// `[Float]` convenience for `roundToBFloat16Bits(_:into:mode:)` (cannot fail).
    @inlinable
    public static func roundToBFloat16Bits(_ src: [Float], mode: DeterministicRounding = .nearestEven) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: src.count) { buffer, count in
            src.withUnsafeBufferPointer { s in try! roundToBFloat16Bits(s, into: buffer, mode: mode) }
            count = src.count
        }
    }

    /// Stochastic rounding to bfloat16: element `i` rounds away from zero iff its 16 discarded bits,
    /// read as an integer, exceed the top 16 bits of `StochasticRounding.bits(seed:stream:index:)` with
    /// index `startIndex + i` (probability = discarded fraction, exactly). Same result as
    /// `BFloat16Format.round(_, mode: .stochastic, random:)` with those bits. Overflow gives ±∞.
    ///
    /// - Throws: `RoundingKernelError.countMismatch` if the buffers differ in length (the only failure).
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
            _forEachRandomBlock(count: src.count, seed: seed, stream: stream, startIndex: startIndex) { lo, hi, random in
                let x = bits + lo, r = d + lo
                for j in 0..<(hi - lo) {
                    let b = x[j], w = random[j]
                    let rounded = (b &+ (0xFFFF &- (w &>> 16))) &>> 16
                    // all ones iff |b| > ∞ (NaN), by an arithmetic shift: a select on a compare here was
                    // compiled to a branch around the load of `w`, and the loop did not vectorise
                    let nanMask = UInt32(bitPattern: Int32(bitPattern: 0x7F80_0000 &- (b & 0x7FFF_FFFF)) &>> 31)
                    r[j] = UInt16(truncatingIfNeeded: (rounded & ~nanMask) | (((b &>> 16) | 0x0040) & nanMask))
                }
            }
        }
    }

    /// `[Float]` convenience for `roundToBFloat16BitsStochastic(_:into:seed:stream:startIndex:)` (cannot fail).
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

    /// Elements per block of random bits in the stochastic kernels (a 1 KiB stack buffer).
    @inlinable
    public static var _randomBlockSize: Int { 256 }

    /// Calls `body(lo, hi, random)` for consecutive blocks `lo ..< hi` of `0 ..< count`, at most
    /// `_randomBlockSize` long, with `random[j]` = `StochasticRounding.bits(seed:stream:index:)` of index
    /// `startIndex + lo + j` (filled by `StochasticRounding._fill`, one SplitMix64 output per two elements).
    /// The key is computed once per call.
    @inlinable @inline(__always)
    public static func _forEachRandomBlock(count: Int, seed: UInt64, stream: UInt64, startIndex: UInt64,
                                           _ body: (Int, Int, UnsafePointer<UInt32>) -> Void) {
        let key = StochasticRounding.key(seed: seed, stream: stream)
        let blockSize = _randomBlockSize
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: blockSize) { buffer in
            guard let random = buffer.baseAddress else { return }
            var lo = 0
            while lo < count {
                let hi = count - lo > blockSize ? lo + blockSize : count
                StochasticRounding._fill(random, count: hi - lo, key: key, startIndex: startIndex &+ UInt64(lo))
                body(lo, hi, UnsafePointer(random))
                lo = hi
            }
        }
    }

    // MARK: binary16

    /// Rounds each binary32 to binary16 in `mode` and stores its bit pattern. Nearest even is
    /// `Float16(x).bitPattern` without a libcall per element; every mode equals
    /// `Float16Format.round(Double(x), mode:)`. NaN stays a quiet NaN (sign, top payload).
    ///
    /// Nearest even, normal results: round the pattern at bit 13 and rebias (a carry moves to the next
    /// binade or to ∞). Subnormal results: add 0.5 in binary32, whose ulp is 2^−24, the binary16 subnormal
    /// spacing, so the hardware's round-to-nearest-even does the rounding (F. Giesen's
    /// float_to_half_fast3_rtne). The other modes round to the binary16 grid in binary32 with the generic
    /// element function (`_roundFloatBits` with `Float16Format`'s constants), whose result, a binary16
    /// member, converts to its pattern exactly.
    ///
    /// - Throws: `RoundingKernelError.countMismatch` if the buffers differ in length (the only failure).
    @inlinable
    public static func roundToFloat16Bits(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<UInt16>,
                                          mode: DeterministicRounding = .nearestEven) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFloat16Bits", source: src.count, destination: dst.count)
        }
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        let c0 = _FormatKernelConstants._float16
        s.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            let c = _FormatKernelConstants(copying: c0)
            switch mode {
            case .nearestEven: for i in 0..<n { d[i] = _float16Bits(bits[i]) }
            case .towardZero: for i in 0..<n { d[i] = _float16Bits(_roundFloatBits(bits[i], c, TowardZero.self, random: 0)) }
            case .up: for i in 0..<n { d[i] = _float16Bits(_roundFloatBits(bits[i], c, Upward.self, random: 0)) }
            case .down: for i in 0..<n { d[i] = _float16Bits(_roundFloatBits(bits[i], c, Downward.self, random: 0)) }
            case .odd: for i in 0..<n { d[i] = _float16Bits(_roundFloatBits(bits[i], c, ToOdd.self, random: 0)) }
            }
        }
    }

    /// Stochastic rounding to binary16, stored as bit patterns: element `i` uses the bits of index
    /// `startIndex + i` of `(seed, stream)`, and equals `Float16Format.round(Double(x), mode: .stochastic,
    /// random:)` with them (the fast stochastic loop, then the exact conversion of the member to its pattern).
    ///
    /// - Throws: `RoundingKernelError.countMismatch` if the buffers differ in length (the only failure).
    @inlinable
    public static func roundToFloat16BitsStochastic(_ src: UnsafeBufferPointer<Float>,
                                                    into dst: UnsafeMutableBufferPointer<UInt16>,
                                                    seed: UInt64, stream: UInt64,
                                                    startIndex: UInt64 = 0) throws(RoundingKernelError) {
        guard src.count == dst.count else {
            throw .countMismatch(operation: "roundToFloat16BitsStochastic", source: src.count, destination: dst.count)
        }
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let fast = _StochasticKernelConstants(_FormatKernelConstants._float16)!
        s.withMemoryRebound(to: UInt32.self, capacity: src.count) { bits in
            _stochasticBlocks(bits, src.count, fast, seed: seed, stream: stream, startIndex: startIndex) { lo, count, r in
                let out = d + lo
                for j in 0..<count { out[j] = _float16Bits(r[j]) }
            }
        }
    }

    /// `[Float]` convenience for `roundToFloat16BitsStochastic(_:into:seed:stream:startIndex:)` (cannot fail).
    @inlinable
    public static func roundToFloat16BitsStochastic(_ src: [Float], seed: UInt64, stream: UInt64,
                                                    startIndex: UInt64 = 0) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: src.count) { buffer, count in
            src.withUnsafeBufferPointer { s in
                try! roundToFloat16BitsStochastic(s, into: buffer, seed: seed, stream: stream, startIndex: startIndex)
            }
            count = src.count
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

    /// `[Float]` convenience for `roundToFloat16Bits(_:into:mode:)` (cannot fail).
    @inlinable
    public static func roundToFloat16Bits(_ src: [Float], mode: DeterministicRounding = .nearestEven) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: src.count) { buffer, count in
            src.withUnsafeBufferPointer { s in try! roundToFloat16Bits(s, into: buffer, mode: mode) }
            count = src.count
        }
    }
}
