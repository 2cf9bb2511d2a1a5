import CMPFR

/// Elementary functions by MPFR: each correctly rounded to nearest at `P.bits`.
extension BigFloat: Real {
    @inlinable static func unary(_ x: BigFloat, _ f: (UnsafeMutablePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, mpfr_rnd_t) -> Int32) -> BigFloat {
        make { o in x.withPointer { _ = f(o, $0, MPFR_RNDN) } }
    }
    @inlinable static func binary(_ x: BigFloat, _ y: BigFloat, _ f: (UnsafeMutablePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, mpfr_rnd_t) -> Int32) -> BigFloat {
        make { o in x.withPointer { a in y.withPointer { b in _ = f(o, a, b, MPFR_RNDN) } } }
    }

    public static func exp(_ x: BigFloat) -> BigFloat { unary(x, mpfr_exp) }
    public static func expMinusOne(_ x: BigFloat) -> BigFloat { unary(x, mpfr_expm1) }
    public static func cosh(_ x: BigFloat) -> BigFloat { unary(x, mpfr_cosh) }
    public static func sinh(_ x: BigFloat) -> BigFloat { unary(x, mpfr_sinh) }
    public static func tanh(_ x: BigFloat) -> BigFloat { unary(x, mpfr_tanh) }
    public static func cos(_ x: BigFloat) -> BigFloat { unary(x, mpfr_cos) }
    public static func sin(_ x: BigFloat) -> BigFloat { unary(x, mpfr_sin) }
    public static func tan(_ x: BigFloat) -> BigFloat { unary(x, mpfr_tan) }
    public static func log(_ x: BigFloat) -> BigFloat { unary(x, mpfr_log) }
    public static func log(onePlus x: BigFloat) -> BigFloat { unary(x, mpfr_log1p) }
    public static func acosh(_ x: BigFloat) -> BigFloat { unary(x, mpfr_acosh) }
    public static func asinh(_ x: BigFloat) -> BigFloat { unary(x, mpfr_asinh) }
    public static func atanh(_ x: BigFloat) -> BigFloat { unary(x, mpfr_atanh) }
    public static func acos(_ x: BigFloat) -> BigFloat { unary(x, mpfr_acos) }
    public static func asin(_ x: BigFloat) -> BigFloat { unary(x, mpfr_asin) }
    public static func atan(_ x: BigFloat) -> BigFloat { unary(x, mpfr_atan) }
    public static func pow(_ x: BigFloat, _ y: BigFloat) -> BigFloat { binary(x, y, mpfr_pow) }
    public static func pow(_ x: BigFloat, _ n: Int) -> BigFloat { make { o in x.withPointer { _ = mpfr_pow_si(o, $0, n, MPFR_RNDN) } } }
    public static func sqrt(_ x: BigFloat) -> BigFloat { unary(x, mpfr_sqrt) }
    public static func root(_ x: BigFloat, _ n: Int) -> BigFloat {
        guard n > 0 else { return pow(x, BigFloat(1) / BigFloat(n)) }
        return make { o in x.withPointer { _ = mpfr_rootn_ui(o, $0, UInt(n), MPFR_RNDN) } }
    }
    public static func atan2(y: BigFloat, x: BigFloat) -> BigFloat { binary(y, x, mpfr_atan2) }
    public static func erf(_ x: BigFloat) -> BigFloat { unary(x, mpfr_erf) }
    public static func erfc(_ x: BigFloat) -> BigFloat { unary(x, mpfr_erfc) }
    public static func exp2(_ x: BigFloat) -> BigFloat { unary(x, mpfr_exp2) }
    public static func exp10(_ x: BigFloat) -> BigFloat { unary(x, mpfr_exp10) }
    public static func hypot(_ x: BigFloat, _ y: BigFloat) -> BigFloat { binary(x, y, mpfr_hypot) }
    public static func gamma(_ x: BigFloat) -> BigFloat { unary(x, mpfr_gamma) }
    public static func log2(_ x: BigFloat) -> BigFloat { unary(x, mpfr_log2) }
    public static func log10(_ x: BigFloat) -> BigFloat { unary(x, mpfr_log10) }
    public static func logGamma(_ x: BigFloat) -> BigFloat { make { o in x.withPointer { var s: Int32 = 0; _ = mpfr_lgamma(o, &s, $0, MPFR_RNDN) } } }
}

extension BigFloat: Scalar {
    public static var formatName: String { "mpfr\(P.bits)" }
    @inlinable public static var significandPrecision: Int { P.bits }
    public static var maximumExponent: Int { mantissa_mpfr_emax_current() - 1 }
    public static var minimumNormalExponent: Int { mantissa_mpfr_emin_current() - 1 }
    @inlinable public static var hasSubnormals: Bool { false }
    /// 2^−bits (round to nearest).
    public static var unitRoundoff: Double { Double(sign: .plus, exponent: -P.bits, significand: 1) }
    /// `a·b + c` with one rounding (mpfr_fma).
    @inlinable
    public static func fusedMultiplyAdd(_ a: BigFloat, _ b: BigFloat, _ c: BigFloat) -> BigFloat {
        make { o in a.withPointer { pa in b.withPointer { pb in c.withPointer { pc in _ = mpfr_fma(o, pa, pb, pc, MPFR_RNDN) } } } }
    }
}
