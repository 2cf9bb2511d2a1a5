// FloatingPoint requirements of SimulatedFloat, on the stored binary64 value and the format's grid.

extension SimulatedFloat: FloatingPoint {
    public typealias Exponent = Int
    public typealias Magnitude = SimulatedFloat

    @inlinable public static var radix: Int { 2 }

    /// Rounds an integer once: converted to binary64 rounded to odd first (exact below 2^53).
    @inlinable
    public init(_ value: Int) { self.init(SimulatedFloat._doubleRoundedToOdd(value)) }

    @inlinable
    public init<Source: BinaryInteger>(_ value: Source) {
        self.init(SimulatedFloat._doubleRoundedToOdd(value))
    }

    @inlinable
    public init?<Source: BinaryInteger>(exactly value: Source) {
        guard let d = Double(exactly: value), Format.contains(d) else { return nil }
        self.init(_member: d)
    }

    /// An integer as binary64 rounded to odd (so that the final rounding is the only one).
    @inlinable
    internal static func _doubleRoundedToOdd<Source: BinaryInteger>(_ value: Source) -> Double {
        if let d = Double(exactly: value) { return d }
        let d = Double(value)
        let residual: Double
        if let back = Source(exactly: d) {
            residual = value > back ? 1 : (value < back ? -1 : 0)
        } else {
            residual = d > 0 ? -1 : 1          // d is beyond Source's range, so |d| > |value|
        }
        return ExactArithmetic.toOdd(d, residual: residual)
    }

    /// `significand · 2^exponent` (sign flipped for `.minus`), rounded once.
    @inlinable
    public init(sign: FloatingPointSign, exponent: Int, significand: SimulatedFloat) {
        self.init(Double(sign: sign, exponent: exponent, significand: significand._value))
    }

    /// `magnitudeOf` with the sign of `signOf` (exact).
    @inlinable
    public init(signOf: SimulatedFloat, magnitudeOf: SimulatedFloat) {
        self.init(_member: Double(signOf: signOf._value, magnitudeOf: magnitudeOf._value))
    }

    @inlinable public var sign: FloatingPointSign { _value.sign }
    @inlinable public var exponent: Int { _value.exponent }
    /// In [1, 2) for finite non-zero values; a member since 1 ≤ it < 2 has at most p bits.
    @inlinable public var significand: SimulatedFloat { SimulatedFloat(_member: _value.significand) }
    @inlinable public var magnitude: SimulatedFloat { SimulatedFloat(_member: _value.magnitude) }

    @inlinable public static var nan: SimulatedFloat { SimulatedFloat(_member: .nan) }
    /// MPFR-style formats have no signalling NaN: this is the quiet NaN.
    @inlinable public static var signalingNaN: SimulatedFloat { SimulatedFloat(_member: .nan) }
    /// Whether ±∞ are members of the format (`Format.hasInfinities`; false for fp8 E4M3).
    @inlinable public static var hasInfinities: Bool { Format.hasInfinities }

    /// +∞. For a format without infinities (`hasInfinities == false`, e.g. fp8 E4M3) this value is **not a
    /// member**: it is a comparison sentinel, greater than every member (so `x < .infinity` holds for every
    /// finite `x`, as generic code expects), and `nextUp` of the largest finite value. No arithmetic
    /// operation or conversion produces it: a result beyond the range becomes NaN or ±max as
    /// `Format.overflow` says, and an operation with the sentinel as an operand treats it as ∞ and
    /// rounds the result the same way (∞ + 1 is NaN in E4M3, 448 in saturating E4M3). Its fp8 bit pattern
    /// is the NaN pattern.
    @inlinable public static var infinity: SimulatedFloat { SimulatedFloat(_member: .infinity) }
    @inlinable public static var greatestFiniteMagnitude: SimulatedFloat {
        SimulatedFloat(_member: Format.greatestFiniteMagnitude)
    }
    @inlinable public static var leastNormalMagnitude: SimulatedFloat {
        SimulatedFloat(_member: Format.leastNormalMagnitude)
    }
    @inlinable public static var leastNonzeroMagnitude: SimulatedFloat {
        SimulatedFloat(_member: Format.leastNonzeroMagnitude)
    }
    /// 2^(1−p).
    @inlinable public static var ulpOfOne: SimulatedFloat { SimulatedFloat(_member: _pow2(1 - Format.precision)) }
    /// π rounded toward zero to p bits (as `Float.pi` and `Double.pi` are).
    @inlinable public static var pi: SimulatedFloat {
        SimulatedFloat(_member: Format.round(.pi, mode: .towardZero))
    }

    /// The spacing of members at `|self|` (`Format.quantum`); NaN for NaN and ±∞. Without subnormals,
    /// the ulp of a small normal number (2^(emin−p+1)) is not itself a member.
    @inlinable
    public var ulp: SimulatedFloat {
        guard _value.isFinite else { return .nan }
        return SimulatedFloat(_member: Format.quantum(_value))
    }

    /// The least member greater than `self` (+∞ above the largest finite value).
    @inlinable
    public var nextUp: SimulatedFloat {
        if _value.isNaN { return self }
        if _value == .infinity { return self }
        if _value == -.infinity { return SimulatedFloat(_member: -Format.greatestFiniteMagnitude) }
        if _value == 0 { return .leastNonzeroMagnitude }
        if _value > 0 {
            let next = _value + Format.quantum(_value)
            return SimulatedFloat(_member: next > Format.greatestFiniteMagnitude ? .infinity : next)
        }
        // negative: the magnitude steps down; at a binade boundary the spacing below is finer
        let a = -_value
        var step = Format.quantum(a)
        if a.significand == 1 && a > Format.leastNormalMagnitude { step /= 2 }
        if !Format.hasSubnormals && a == Format.leastNormalMagnitude { step = a }
        return SimulatedFloat(_member: -(a - step))
    }

    @inlinable public var isNormal: Bool { _value.isFinite && _value.magnitude >= Format.leastNormalMagnitude }
    @inlinable public var isFinite: Bool { _value.isFinite }
    @inlinable public var isZero: Bool { _value == 0 }
    @inlinable public var isSubnormal: Bool { _value != 0 && _value.magnitude < Format.leastNormalMagnitude }
    @inlinable public var isInfinite: Bool { _value.isInfinite }
    @inlinable public var isNaN: Bool { _value.isNaN }
    @inlinable public var isSignalingNaN: Bool { false }
    @inlinable public var isCanonical: Bool { true }

    @inlinable public func isEqual(to other: SimulatedFloat) -> Bool { _value == other._value }
    @inlinable public func isLess(than other: SimulatedFloat) -> Bool { _value < other._value }
    @inlinable public func isLessThanOrEqualTo(_ other: SimulatedFloat) -> Bool { _value <= other._value }
    @inlinable public func isTotallyOrdered(belowOrEqualTo other: SimulatedFloat) -> Bool {
        _value.isTotallyOrdered(belowOrEqualTo: other._value)
    }

    /// Rounds to an integral value, then (if that integer is not a member) into the format.
    @inlinable
    public mutating func round(_ rule: FloatingPointRoundingRule) {
        self = SimulatedFloat(_value.rounded(rule))
    }
}
