/// An OCP 8-bit floating-point format with its bit encoding ("OCP 8-bit Floating Point Specification
/// (OFP8)", revision 1.0, 2023, §4): one sign bit, `exponentFieldBits` exponent bits with bias
/// `2^(E−1) − 1`, and `7 − E` trailing significand bits; exponent field 0 holds ±0 and the subnormals.
///
/// - E4M3 (ml_dtypes' `float8_e4m3fn`): no infinities; S.1111.111 (0x7F, 0xFF) is NaN, so the top
///   binade holds 1.000…1.110 × 2^8 and the largest finite value is 448.
/// - E5M2 (ml_dtypes' `float8_e5m2`): IEEE-like; S.11111.00 is ±∞ (0x7C, 0xFC), S.11111.xx with xx ≠ 0 is
///   NaN; the encoders write the quiet NaN 0x7E/0xFE, as ml_dtypes does.
///
/// Encoding rounds with the format's parameters and overflow behaviour (`FloatFormat.round`), then
/// writes the pattern of the member exactly: non-saturating e4m3 (`FP8E4M3Format`) turns overflow and ±∞
/// into NaN, as ml_dtypes' float8_e4m3fn does; the saturating variants clamp finite overflow to ±max.
/// An infinite input follows the format: saturating E4M3 clamps it to ±448, but `FP8E5M2SaturatingFormat`
/// has infinities and keeps ±∞ (0x7C/0xFC), whereas the OCP saturation mode clamps ±∞ to ±max as well; the
/// format's behaviour, shared by its scalar arithmetic, is unchanged here. A NaN keeps its sign bit.
/// Decoding is exact (every fp8 value is a binary32 and a binary64 value).
public protocol FP8Format: FloatFormat {
    /// The width E of the exponent field: 4 for E4M3, 5 for E5M2.
    static var exponentFieldBits: Int { get }
}

extension FP8E4M3Format: FP8Format { @inlinable public static var exponentFieldBits: Int { 4 } }
extension FP8E4M3SaturatingFormat: FP8Format { @inlinable public static var exponentFieldBits: Int { 4 } }
extension FP8E5M2Format: FP8Format { @inlinable public static var exponentFieldBits: Int { 5 } }
extension FP8E5M2SaturatingFormat: FP8Format { @inlinable public static var exponentFieldBits: Int { 5 } }
extension Rounded: FP8Format where Base: FP8Format {
    @inlinable public static var exponentFieldBits: Int { Base.exponentFieldBits }
}

extension FP8Format {
    /// The width of the trailing significand field, `7 − E` (`precision − 1`).
    @inlinable public static var significandFieldBits: Int { 7 - exponentFieldBits }
    /// The exponent bias, `2^(E−1) − 1` (7 for E4M3, 15 for E5M2); `minimumNormalExponent = 1 − bias`.
    @inlinable public static var exponentBias: Int { (1 << (exponentFieldBits - 1)) - 1 }
    /// The positive NaN pattern the encoders write: 0x7F for E4M3, 0x7E (quiet) for E5M2.
    @inlinable public static var nanPattern: UInt8 { hasInfinities ? 0x7E : 0x7F }
    /// The pattern of +∞ (0x7C) for formats with infinities; nil for E4M3.
    @inlinable public static var infinityPattern: UInt8? { hasInfinities ? 0x7C : nil }

    /// The value of the pattern `bits`, exactly (±∞ and NaN included).
    @inlinable
    public static func decode(_ bits: UInt8) -> Double {
        let m = significandFieldBits
        let negative = bits & 0x80 != 0
        let e = Int(bits & 0x7F) >> m
        let f = Int(bits) & ((1 << m) - 1)
        let maxField = (1 << exponentFieldBits) - 1
        let magnitude: Double
        if hasInfinities && e == maxField {
            magnitude = f == 0 ? .infinity : .nan
        } else if !hasInfinities && e == maxField && f == (1 << m) - 1 {
            magnitude = .nan
        } else if e == 0 {
            magnitude = Double(f) * _pow2(1 - exponentBias - m)
        } else {
            magnitude = Double((1 << m) + f) * _pow2(e - exponentBias - m)
        }
        return negative ? -magnitude : magnitude
    }

    /// `x` rounded into the format in `mode` (default nearest even; see `FloatFormat.round`), as its pattern.
    @inlinable
    public static func encode(_ x: Double, mode: DeterministicRounding = .nearestEven) -> UInt8 {
        _encodeMember(round(x, mode: mode.mode))
    }

    /// `x` rounded stochastically with the random bits `random` (see `RoundingMode.stochastic`), as its pattern.
    @inlinable
    public static func encodeStochastic(_ x: Double, random: UInt32) -> UInt8 {
        _encodeMember(round(x, mode: .stochastic, random: random))
    }

    /// The pattern of `x`, which must be a member, ±0, NaN or, for formats with infinities, ±∞. The
    /// comparison sentinel `SimulatedFloat.infinity` of a format without infinities (E4M3) is not a
    /// member: it encodes as NaN, as ml_dtypes encodes ∞ into float8_e4m3fn.
    @inlinable
    public static func _encodeMember(_ x: Double) -> UInt8 {
        let sign: UInt8 = x.sign == .minus ? 0x80 : 0
        if x.isNaN || (x.isInfinite && !hasInfinities) { return nanPattern | sign }
        if x.isInfinite { return 0x7C | sign }
        if x == 0 { return sign }
        let m = significandFieldBits
        let a = x.magnitude
        let e = a.exponent
        let field: Int
        if e < minimumNormalExponent {
            field = Int(a * _pow2(m - minimumNormalExponent))                       // exact: a multiple of 2^(emin−m)
        } else {
            field = ((e + exponentBias) << m) | Int((a * _pow2(m - e)) - Double(1 << m))   // exact
        }
        return UInt8(truncatingIfNeeded: field) | sign
    }
}

extension SimulatedFloat where Format: FP8Format {
    /// The value's OCP fp8 bit pattern (see `FP8Format`). The comparison sentinel `infinity` of E4M3, which
    /// is not a member, gives the NaN pattern.
    @inlinable
    public var bitPattern: UInt8 { Format._encodeMember(_value) }

    /// The value of an OCP fp8 bit pattern (exact; every pattern is a member, ±∞ or NaN).
    @inlinable
    public init(bitPattern: UInt8) { self.init(_member: Format.decode(bitPattern)) }
}
