// Arithmetic of SimulatedFloat: exact result rounded to odd in binary64, then one rounding.

extension SimulatedFloat: SignedNumeric {
    /// Flips the sign (every format is sign-symmetric).
    @inlinable public mutating func negate() { _value.negate() }
    @inlinable public static prefix func - (x: SimulatedFloat) -> SimulatedFloat { SimulatedFloat(_member: -x._value) }

    /// The product of two members is exact in binary64 (2p ≤ 50 bits, no over/underflow for the
    /// supported ranges); one rounding.
    @inlinable
    public static func * (lhs: SimulatedFloat, rhs: SimulatedFloat) -> SimulatedFloat {
        SimulatedFloat(_member: _round(lhs._value * rhs._value))
    }
    @inlinable public static func *= (lhs: inout SimulatedFloat, rhs: SimulatedFloat) { lhs = lhs * rhs }
}

extension SimulatedFloat: AdditiveArithmetic {
    @inlinable public static var zero: SimulatedFloat { SimulatedFloat(_member: 0) }

    /// TwoSum, then round to odd in binary64, then one rounding.
    @inlinable
    public static func + (lhs: SimulatedFloat, rhs: SimulatedFloat) -> SimulatedFloat {
        SimulatedFloat(_member: _round(_sum(lhs._value, rhs._value)))
    }
    @inlinable
    public static func - (lhs: SimulatedFloat, rhs: SimulatedFloat) -> SimulatedFloat {
        SimulatedFloat(_member: _round(_sum(lhs._value, -rhs._value)))
    }

    /// `x + y` rounded to odd in binary64, with the IEEE sign of an exact zero: −0 in `.down` mode
    /// unless both operands are +0 (binary64 arithmetic, in nearest mode, gives +0).
    @inlinable @inline(__always)
    internal static func _sum(_ x: Double, _ y: Double) -> Double {
        let s = ExactArithmetic.sumRoundedToOdd(x, y)
        if Format.rounding == .down && s == 0 && !(x == 0 && y == 0 && x.sign == .plus && y.sign == .plus) {
            return -0.0
        }
        return s
    }
    @inlinable public static func += (lhs: inout SimulatedFloat, rhs: SimulatedFloat) { lhs = lhs + rhs }
    @inlinable public static func -= (lhs: inout SimulatedFloat, rhs: SimulatedFloat) { lhs = lhs - rhs }
}

extension SimulatedFloat {
    /// Quotient rounded to odd in binary64 (FMA residual), then one rounding.
    @inlinable
    public static func / (lhs: SimulatedFloat, rhs: SimulatedFloat) -> SimulatedFloat {
        SimulatedFloat(_member: _round(ExactArithmetic.quotientRoundedToOdd(lhs._value, rhs._value)))
    }
    @inlinable public static func /= (lhs: inout SimulatedFloat, rhs: SimulatedFloat) { lhs = lhs / rhs }

    /// √ rounded to odd in binary64 (FMA residual), then one rounding.
    @inlinable
    public mutating func formSquareRoot() {
        self = SimulatedFloat(_member: SimulatedFloat._round(ExactArithmetic.squareRootRoundedToOdd(_value)))
    }

    /// IEEE remainder: exact in binary64, then rounded into the format (it is already a member when the
    /// format has subnormals).
    @inlinable
    public mutating func formRemainder(dividingBy other: SimulatedFloat) {
        self = SimulatedFloat(_value.remainder(dividingBy: other._value))
    }

    @inlinable
    public mutating func formTruncatingRemainder(dividingBy other: SimulatedFloat) {
        self = SimulatedFloat(_value.truncatingRemainder(dividingBy: other._value))
    }

    /// `self += lhs·rhs` with one rounding.
    @inlinable
    public mutating func addProduct(_ lhs: SimulatedFloat, _ rhs: SimulatedFloat) {
        self = SimulatedFloat.fusedMultiplyAdd(lhs, rhs, self)
    }
}
