/// Error-free transformations and round-to-odd in binary64: the building blocks that let a narrow
/// format compute in Double and still round only once.
///
/// Round-to-odd (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms
/// using rounding to odd", IEEE TC 2008): if `x` is rounded to odd at precision `q ≥ p + 2`, then
/// rounding that result to precision `p` under any of RNE, RZ, RU, RD gives the same value as rounding
/// `x` directly. So every operation whose exact result is a binary64 value plus a known-sign error can
/// be correctly rounded to any narrower format.
public enum ExactArithmetic {
    /// Knuth's TwoSum: `s + e == a + b` exactly, with `s = fl(a + b)`. Valid without overflow.
    @inlinable
    public static func twoSum(_ a: Double, _ b: Double) -> (sum: Double, error: Double) {
        let s = a + b
        let bVirtual = s - a
        let aVirtual = s - bVirtual
        let e = (a - aVirtual) + (b - bVirtual)
        return (s, e)
    }

    /// Rounds `rounded + error` (where `rounded` is the round-to-nearest value and `error` the exact
    /// residual, same scale) to odd: if the residual is non-zero and `rounded` has an even last bit,
    /// step one ulp towards the residual.
    @inlinable
    public static func toOdd(_ rounded: Double, residual error: Double) -> Double {
        guard error != 0, rounded.isFinite, rounded.bitPattern & 1 == 0 else { return rounded }
        return error > 0 ? rounded.nextUp : rounded.nextDown
    }

    /// `a + b` rounded to odd in binary64.
    @inlinable
    public static func sumRoundedToOdd(_ a: Double, _ b: Double) -> Double {
        let (s, e) = twoSum(a, b)
        return toOdd(s, residual: e)
    }

    /// `a / b` rounded to odd in binary64 (the residual `a − q·b` is exact by FMA).
    @inlinable
    public static func quotientRoundedToOdd(_ a: Double, _ b: Double) -> Double {
        let q = a / b
        guard q.isFinite, q != 0 else { return q }
        let r = a.addingProduct(-q, b)
        // sign of the true quotient minus q equals sign(r)·sign(b)
        return toOdd(q, residual: b > 0 ? r : -r)
    }

    /// `√a` rounded to odd in binary64 (the residual `a − s²` is exact by FMA).
    @inlinable
    public static func squareRootRoundedToOdd(_ a: Double) -> Double {
        let s = a.squareRoot()
        guard s.isFinite, s > 0 else { return s }
        let r = a.addingProduct(-s, s)
        return toOdd(s, residual: r)
    }

    /// `x` rounded to odd at binary32 precision (24 bits, binary32's exponent range and subnormal
    /// grid): `Float(x)` if that is exact, otherwise whichever of the two binary32 neighbours of `x`
    /// has an odd last bit. Rounding the result to nearest even at p ≤ 22 bits (bfloat16, binary16)
    /// then equals rounding `x` directly, with one rounding. Values beyond binary32's overflow
    /// threshold give ±∞ (they also overflow any narrower format with binary32's emax or less); NaN
    /// stays NaN.
    @inlinable
    public static func floatRoundedToOdd(_ x: Double) -> Float {
        let f = Float(x)
        guard f.isFinite, f.bitPattern & 1 == 0 else { return f }
        let back = Double(f)
        if back == x { return f }
        return back < x ? f.nextUp : f.nextDown
    }
}
