/// bfloat16 ("brain float"): 1 sign bit, 8 exponent bits, 7 stored significand bits.
///
/// The format has binary32's exponent range (emax = 127, emin = −126, gradual underflow down to
/// 2^−133) and precision p = 8, so its unit roundoff is u = 2^−8. Every bfloat16 number is exactly a
/// `Float` (its bits are the top half of the binary32 pattern), which makes the emulation cheap:
///
/// - `+ − × ÷ √` are computed in `Float` and rounded once to bfloat16. This is the correctly rounded
///   result because 24 ≥ 2·8 + 2 (the double rounding of a basic operation through a format with at
///   least 2p + 2 bits is innocuous; Figueroa, "When is double rounding innocuous?", 1995).
/// - `fusedMultiplyAdd`/`addProduct` are *not* safe through `Float` (the product needs 16 bits, the
///   sum then rounds twice). The product is formed exactly in `Double`, the sum is rounded to odd in
///   `Double` (`ExactArithmetic`), and that is rounded once to bfloat16 (Boldo–Melquiond).
/// - Conversions from `Float`, `Double`, `Float16` and integers round to nearest, ties to even, with a
///   single rounding. NaN stays NaN: quiet, sign kept.
///
/// Equality follows IEEE 754 (`+0 == −0`, NaN is unequal to everything), hashing canonicalises zero,
/// and `negate()` flips the sign bit.
@frozen
public struct BFloat16: Sendable {
    /// The IEEE-style bit pattern: sign, 8 exponent bits (bias 127), 7 significand bits.
    @usableFromInline internal var _bits: UInt16

    /// The value with exactly this bit pattern (no rounding, signaling NaNs kept as they are).
    @inlinable
    public init(bitPattern: UInt16) { _bits = bitPattern }

    /// The bit pattern of the value.
    @inlinable
    public var bitPattern: UInt16 { _bits }

    /// Rounds a binary32 bit pattern to the nearest bfloat16 pattern, ties to even; NaN is made quiet
    /// with its sign kept. Branch-free (a select), so it vectorises in array loops.
    ///
    /// Adding `0x7FFF + lsb` to the pattern carries into bit 16 exactly when the discarded half is
    /// above the midpoint, or at the midpoint with an odd kept part; a carry out of the significand
    /// moves to the next binade (or to infinity) as rounding requires.
    @inlinable @inline(__always)
    public static func _roundedBits(fromFloatBits bits: UInt32) -> UInt16 {
        let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16
        let quietNaN = (bits >> 16) | 0x0040
        let isNaN = (bits & 0x7FFF_FFFF) > 0x7F80_0000
        return UInt16(truncatingIfNeeded: isNaN ? quietNaN : rounded)
    }

    /// Rounds `value` to the nearest bfloat16, ties to even (one rounding). NaN stays a quiet NaN.
    @inlinable
    public init(_ value: Float) {
        _bits = BFloat16._roundedBits(fromFloatBits: value.bitPattern)
    }

    /// Rounds `value` to the nearest bfloat16, ties to even, with a single rounding: the value is
    /// first rounded to odd at binary32 precision (24 ≥ 8 + 2 bits, so no information that decides
    /// the final rounding is lost; Boldo–Melquiond), then to nearest even at 8 bits.
    @inlinable
    public init(_ value: Double) {
        self.init(ExactArithmetic.floatRoundedToOdd(value))
    }

    /// Rounds a binary16 value to the nearest bfloat16 (binary16 → binary32 is exact).
    @inlinable
    public init(_ value: Float16) {
        self.init(Float(value))
    }

    /// Identity (so that generic `BFloat16(x)` with `x: BFloat16` picks the concrete path).
    @inlinable
    public init(_ value: BFloat16) { self = value }

    /// The value as a binary32: exact (the bfloat16 pattern is the top half of the binary32 one).
    @inlinable
    public var float: Float { Float(bitPattern: UInt32(_bits) &<< 16) }
}

extension Float {
    /// The exact binary32 value of a bfloat16 (every bfloat16 is a binary32; NaN payload kept).
    @inlinable
    public init(_ value: BFloat16) {
        self.init(bitPattern: UInt32(value._bits) &<< 16)
    }
}

extension Double {
    /// The exact binary64 value of a bfloat16.
    @inlinable
    public init(_ value: BFloat16) {
        self.init(Float(bitPattern: UInt32(value._bits) &<< 16))
    }
}

extension Float16 {
    /// Rounds a bfloat16 to the nearest binary16, ties to even (one rounding: bfloat16 → binary32 is
    /// exact, binary32 → binary16 rounds once).
    @inlinable
    public init(_ value: BFloat16) {
        self.init(Float(value))
    }
}
