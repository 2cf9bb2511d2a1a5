import RealModule

/// Elementary functions of bfloat16, computed in binary32 and rounded once (as swift-numerics does for
/// `Float16`). Faithful, not guaranteed correctly rounded: the binary32 result carries an error below
/// one binary32 ulp, far below a bfloat16 ulp, so the final value is one of the two bfloat16 neighbours
/// of the exact result and is the correctly rounded one except in rare near-midpoint cases.
extension BFloat16: Real {
    @inlinable public static func cos(_ x: BFloat16) -> BFloat16 { BFloat16(Float.cos(Float(x))) }
    @inlinable public static func sin(_ x: BFloat16) -> BFloat16 { BFloat16(Float.sin(Float(x))) }
    @inlinable public static func tan(_ x: BFloat16) -> BFloat16 { BFloat16(Float.tan(Float(x))) }
    @inlinable public static func acos(_ x: BFloat16) -> BFloat16 { BFloat16(Float.acos(Float(x))) }
    @inlinable public static func asin(_ x: BFloat16) -> BFloat16 { BFloat16(Float.asin(Float(x))) }
    @inlinable public static func atan(_ x: BFloat16) -> BFloat16 { BFloat16(Float.atan(Float(x))) }
    @inlinable public static func cosh(_ x: BFloat16) -> BFloat16 { BFloat16(Float.cosh(Float(x))) }
    @inlinable public static func sinh(_ x: BFloat16) -> BFloat16 { BFloat16(Float.sinh(Float(x))) }
    @inlinable public static func tanh(_ x: BFloat16) -> BFloat16 { BFloat16(Float.tanh(Float(x))) }
    @inlinable public static func acosh(_ x: BFloat16) -> BFloat16 { BFloat16(Float.acosh(Float(x))) }
    @inlinable public static func asinh(_ x: BFloat16) -> BFloat16 { BFloat16(Float.asinh(Float(x))) }
    @inlinable public static func atanh(_ x: BFloat16) -> BFloat16 { BFloat16(Float.atanh(Float(x))) }
    @inlinable public static func exp(_ x: BFloat16) -> BFloat16 { BFloat16(Float.exp(Float(x))) }
    @inlinable public static func expMinusOne(_ x: BFloat16) -> BFloat16 { BFloat16(Float.expMinusOne(Float(x))) }
    @inlinable public static func log(_ x: BFloat16) -> BFloat16 { BFloat16(Float.log(Float(x))) }
    @inlinable public static func log(onePlus x: BFloat16) -> BFloat16 { BFloat16(Float.log(onePlus: Float(x))) }
    @inlinable public static func erf(_ x: BFloat16) -> BFloat16 { BFloat16(Float.erf(Float(x))) }
    @inlinable public static func erfc(_ x: BFloat16) -> BFloat16 { BFloat16(Float.erfc(Float(x))) }
    @inlinable public static func exp2(_ x: BFloat16) -> BFloat16 { BFloat16(Float.exp2(Float(x))) }
    @inlinable public static func exp10(_ x: BFloat16) -> BFloat16 { BFloat16(Float.exp10(Float(x))) }
    @inlinable public static func gamma(_ x: BFloat16) -> BFloat16 { BFloat16(Float.gamma(Float(x))) }
    @inlinable public static func log2(_ x: BFloat16) -> BFloat16 { BFloat16(Float.log2(Float(x))) }
    @inlinable public static func log10(_ x: BFloat16) -> BFloat16 { BFloat16(Float.log10(Float(x))) }
    @inlinable public static func logGamma(_ x: BFloat16) -> BFloat16 { BFloat16(Float.logGamma(Float(x))) }
    @inlinable
    public static func pow(_ x: BFloat16, _ y: BFloat16) -> BFloat16 { BFloat16(Float.pow(Float(x), Float(y))) }
    @inlinable
    public static func pow(_ x: BFloat16, _ n: Int) -> BFloat16 { BFloat16(Float.pow(Float(x), n)) }
    @inlinable
    public static func root(_ x: BFloat16, _ n: Int) -> BFloat16 { BFloat16(Float.root(Float(x), n)) }
    @inlinable
    public static func atan2(y: BFloat16, x: BFloat16) -> BFloat16 { BFloat16(Float.atan2(y: Float(y), x: Float(x))) }
    /// √(x² + y²) computed in binary64 (where squares of bfloat16 values cannot overflow) and rounded
    /// once; ∞ if either argument is infinite, even when the other is NaN.
    @inlinable
    public static func hypot(_ x: BFloat16, _ y: BFloat16) -> BFloat16 {
        if x.isInfinite || y.isInfinite { return .infinity }
        let xd = Double(x), yd = Double(y)
        return BFloat16((xd * xd + yd * yd).squareRoot())
    }
}
