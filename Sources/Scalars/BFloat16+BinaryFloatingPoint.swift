// The FloatingPoint / BinaryFloatingPoint requirements of BFloat16, written on the bit pattern or
// forwarded to the exact binary32 value where that is exact.

extension BFloat16: BinaryFloatingPoint {
    public typealias Exponent = Int
    public typealias RawSignificand = UInt16
    public typealias RawExponent = UInt
    public typealias Magnitude = BFloat16

    @inlinable public static var exponentBitCount: Int { 8 }
    @inlinable public static var significandBitCount: Int { 7 }

    @inlinable public var exponentBitPattern: UInt { UInt((_bits &>> 7) & 0xFF) }
    @inlinable public var significandBitPattern: UInt16 { _bits & 0x7F }

    @inlinable
    public init(sign: FloatingPointSign, exponentBitPattern: UInt, significandBitPattern: UInt16) {
        let s: UInt16 = sign == .minus ? 0x8000 : 0
        _bits = s | (UInt16(truncatingIfNeeded: exponentBitPattern & 0xFF) &<< 7) | (significandBitPattern & 0x7F)
    }

    /// `significand · 2^exponent` (sign flipped for `.minus`), rounded once to nearest even.
    @inlinable
    public init(sign: FloatingPointSign, exponent: Int, significand: BFloat16) {
        self.init(Double(sign: sign, exponent: exponent, significand: Double(significand)))
    }

    /// Rounds an integer once to nearest even. Magnitudes of 2^24 and more keep their top 24 bits
    /// and OR the rest into a sticky bit (round to odd at binary32 precision), so binary32 → bfloat16
    /// is the only rounding.
    @inlinable
    public init(_ value: Int) {
        let m = value.magnitude
        let width = UInt.bitWidth - m.leadingZeroBitCount
        if width <= 24 {
            self.init(Float(value))
        } else {
            let shift = width - 24
            let kept = m &>> UInt(shift)
            let sticky: UInt = (m & ((1 &<< UInt(shift)) &- 1)) != 0 ? 1 : 0
            let f = Float(sign: value < 0 ? .minus : .plus, exponent: shift,
                          significand: Float(kept | sticky))
            self.init(f)
        }
    }

    @inlinable public var sign: FloatingPointSign { _bits & 0x8000 != 0 ? .minus : .plus }
    @inlinable public var exponent: Int { Float(self).exponent }
    @inlinable public var significand: BFloat16 { BFloat16(Float(self).significand) }
    @inlinable public var magnitude: BFloat16 { BFloat16(bitPattern: _bits & 0x7FFF) }

    @inlinable public static var nan: BFloat16 { BFloat16(bitPattern: 0x7FC0) }
    @inlinable public static var signalingNaN: BFloat16 { BFloat16(bitPattern: 0x7FA0) }
    @inlinable public static var infinity: BFloat16 { BFloat16(bitPattern: 0x7F80) }
    /// (2 − 2^−7) · 2^127 ≈ 3.39e38.
    @inlinable public static var greatestFiniteMagnitude: BFloat16 { BFloat16(bitPattern: 0x7F7F) }
    /// 2^−126.
    @inlinable public static var leastNormalMagnitude: BFloat16 { BFloat16(bitPattern: 0x0080) }
    /// 2^−133.
    @inlinable public static var leastNonzeroMagnitude: BFloat16 { BFloat16(bitPattern: 0x0001) }
    /// 2^−7.
    @inlinable public static var ulpOfOne: BFloat16 { BFloat16(bitPattern: 0x3C00) }
    /// π rounded toward zero (3.140625), as `Float.pi` and `Double.pi` are.
    @inlinable public static var pi: BFloat16 { BFloat16(bitPattern: 0x4049) }

    /// The distance from `|self|` to the next larger magnitude (`2^(e−7)`, or 2^−133 for subnormals
    /// and zero); NaN for NaN and infinities.
    @inlinable
    public var ulp: BFloat16 {
        guard isFinite else { return .nan }
        let e = _bits & 0x7F80
        if e == 0 { return .leastNonzeroMagnitude }
        // 2^(E − 127 − 7); the result may be subnormal.
        return BFloat16(Float(sign: .plus, exponent: Int(e &>> 7) - 134, significand: 1))
    }

    @inlinable
    public var nextUp: BFloat16 {
        if isNaN { return BFloat16(bitPattern: _bits | 0x0040) }
        if _bits == 0x7F80 { return self }                       // +∞
        if _bits == 0x8000 { return .leastNonzeroMagnitude }    // −0
        return BFloat16(bitPattern: _bits & 0x8000 != 0 ? _bits &- 1 : _bits &+ 1)
    }

    @inlinable
    public var binade: BFloat16 {
        guard isFinite else { return .nan }
        return BFloat16(Float(self).binade)
    }

    @inlinable public var significandWidth: Int { Float(self).significandWidth }

    @inlinable public var isNormal: Bool {
        let e = _bits & 0x7F80
        return e != 0 && e != 0x7F80
    }
    @inlinable public var isFinite: Bool { _bits & 0x7F80 != 0x7F80 }
    @inlinable public var isZero: Bool { _bits & 0x7FFF == 0 }
    @inlinable public var isSubnormal: Bool { _bits & 0x7F80 == 0 && _bits & 0x7F != 0 }
    @inlinable public var isInfinite: Bool { _bits & 0x7FFF == 0x7F80 }
    @inlinable public var isNaN: Bool { _bits & 0x7FFF > 0x7F80 }
    @inlinable public var isSignalingNaN: Bool { isNaN && _bits & 0x0040 == 0 }
    @inlinable public var isCanonical: Bool { true }

    @inlinable
    public func isEqual(to other: BFloat16) -> Bool { Float(self) == Float(other) }
    @inlinable
    public func isLess(than other: BFloat16) -> Bool { Float(self) < Float(other) }
    @inlinable
    public func isLessThanOrEqualTo(_ other: BFloat16) -> Bool { Float(self) <= Float(other) }
    @inlinable
    public func isTotallyOrdered(belowOrEqualTo other: BFloat16) -> Bool {
        Float(self).isTotallyOrdered(belowOrEqualTo: Float(other))
    }

    /// Rounds to an integral value; exact (every integer the result can be is a bfloat16).
    @inlinable
    public mutating func round(_ rule: FloatingPointRoundingRule) {
        self = BFloat16(Float(self).rounded(rule))
    }
}
