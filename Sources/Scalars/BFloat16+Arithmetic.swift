// Arithmetic of BFloat16: each operation is rounded once to bfloat16 (round to nearest even).

extension BFloat16: SignedNumeric {
    @inlinable
    public init?<T: BinaryInteger>(exactly source: T) {
        guard let f = Float(exactly: source), let b = BFloat16(exactly: f) else { return nil }
        self = b
    }

    /// Flips the sign bit (so −0 and NaN signs behave as IEEE `negate` requires).
    @inlinable
    public mutating func negate() { _bits ^= 0x8000 }

    @inlinable
    public static prefix func - (x: BFloat16) -> BFloat16 { BFloat16(bitPattern: x._bits ^ 0x8000) }

    /// Exact `x·y` in binary32 (two 8-bit significands), rounded once.
    @inlinable
    public static func * (lhs: BFloat16, rhs: BFloat16) -> BFloat16 { BFloat16(Float(lhs) * Float(rhs)) }
    @inlinable
    public static func *= (lhs: inout BFloat16, rhs: BFloat16) { lhs = lhs * rhs }
}

extension BFloat16: AdditiveArithmetic {
    @inlinable public static var zero: BFloat16 { BFloat16(bitPattern: 0) }
    /// Computed in binary32 and rounded once: correctly rounded because 24 ≥ 2·8 + 2.
    @inlinable
    public static func + (lhs: BFloat16, rhs: BFloat16) -> BFloat16 { BFloat16(Float(lhs) + Float(rhs)) }
    @inlinable
    public static func - (lhs: BFloat16, rhs: BFloat16) -> BFloat16 { BFloat16(Float(lhs) - Float(rhs)) }
    @inlinable
    public static func += (lhs: inout BFloat16, rhs: BFloat16) { lhs = lhs + rhs }
    @inlinable
    public static func -= (lhs: inout BFloat16, rhs: BFloat16) { lhs = lhs - rhs }
}

extension BFloat16 {
    /// Computed in binary32 and rounded once: correctly rounded because 24 ≥ 2·8 + 2.
    @inlinable
    public static func / (lhs: BFloat16, rhs: BFloat16) -> BFloat16 { BFloat16(Float(lhs) / Float(rhs)) }
    @inlinable
    public static func /= (lhs: inout BFloat16, rhs: BFloat16) { lhs = lhs / rhs }

    /// √x computed in binary32 and rounded once: correctly rounded because 24 ≥ 2·8 + 2.
    @inlinable
    public mutating func formSquareRoot() { self = BFloat16(Float(self).squareRoot()) }

    /// IEEE remainder; exact (computed exactly in binary32, and the result is a bfloat16).
    @inlinable
    public mutating func formRemainder(dividingBy other: BFloat16) {
        self = BFloat16(Float(self).remainder(dividingBy: Float(other)))
    }

    /// Truncating remainder (`fmod`); exact.
    @inlinable
    public mutating func formTruncatingRemainder(dividingBy other: BFloat16) {
        self = BFloat16(Float(self).truncatingRemainder(dividingBy: Float(other)))
    }

    /// `self += lhs·rhs` with a single rounding (see `fusedMultiplyAdd`).
    @inlinable
    public mutating func addProduct(_ lhs: BFloat16, _ rhs: BFloat16) {
        self = BFloat16.fusedMultiplyAdd(lhs, rhs, self)
    }

    /// `a·b + c` with one rounding: the product is exact in binary64 (16 significant bits), the sum is
    /// rounded to odd in binary64 (error-free TwoSum, then a sticky last bit), and that result, which
    /// carries 53 ≥ 8 + 2 bits, is rounded once to bfloat16 (Boldo–Melquiond). Computing in binary32 and
    /// then rounding is *not* a single rounding.
    @inlinable
    public static func fusedMultiplyAdd(_ a: BFloat16, _ b: BFloat16, _ c: BFloat16) -> BFloat16 {
        let product = Double(a) * Double(b)
        return BFloat16(ExactArithmetic.sumRoundedToOdd(product, Double(c)))
    }
}
