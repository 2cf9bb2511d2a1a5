import CMPFR

extension BigFloat: Equatable, Hashable, Comparable {
    /// IEEE-like: NaN is unequal to everything, +0 == −0.
    @inlinable
    public static func == (l: BigFloat, r: BigFloat) -> Bool { l.withPointer { a in r.withPointer { b in mpfr_equal_p(a, b) != 0 } } }
    @inlinable
    public static func < (l: BigFloat, r: BigFloat) -> Bool { l.withPointer { a in r.withPointer { b in mpfr_less_p(a, b) != 0 } } }

    /// Consistent with `==`: zeros hash alike; the value is hashed through its exact hexadecimal text.
    public func hash(into hasher: inout Hasher) {
        if isZero { hasher.combine(0); return }
        hasher.combine(withPointer { p -> String in
            var buffer = [CChar](repeating: 0, count: P.bits / 4 + 40)
            _ = mantissa_mpfr_snprint_a(&buffer, buffer.count, p)
            return String(cString: buffer)
        })
    }
}

extension BigFloat: CustomStringConvertible {
    /// Enough decimal digits to identify the value: ⌈bits·log10(2)⌉ + 1.
    public var description: String { formatted(significantDigits: Int((Double(P.bits) * 0.30103).rounded(.up)) + 1) }
}

extension BigFloat: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    public init(integerLiteral value: Int) { self.init(value) }
    /// Float literals pass through Double (Swift has no wider literal type): `BigFloat("0.1")` for the
    /// exact decimal.
    public init(floatLiteral value: Double) { self.init(value) }
}

extension BigFloat: AdditiveArithmetic, Numeric, SignedNumeric {
    public typealias Magnitude = BigFloat
    public typealias IntegerLiteralType = Int

    public init?<T: BinaryInteger>(exactly source: T) {
        guard let v = Int(exactly: source) else { return nil }
        self.init(v)
    }

    @inlinable public static var zero: BigFloat { BigFloat(0) }
    @inlinable public var magnitude: BigFloat { BigFloat.make { r in withPointer { _ = mpfr_abs(r, $0, MPFR_RNDN) } } }

    @inlinable public static func + (l: BigFloat, r: BigFloat) -> BigFloat { make { o in l.withPointer { a in r.withPointer { b in _ = mpfr_add(o, a, b, MPFR_RNDN) } } } }
    @inlinable public static func - (l: BigFloat, r: BigFloat) -> BigFloat { make { o in l.withPointer { a in r.withPointer { b in _ = mpfr_sub(o, a, b, MPFR_RNDN) } } } }
    @inlinable public static func * (l: BigFloat, r: BigFloat) -> BigFloat { make { o in l.withPointer { a in r.withPointer { b in _ = mpfr_mul(o, a, b, MPFR_RNDN) } } } }
    @inlinable public static func / (l: BigFloat, r: BigFloat) -> BigFloat { make { o in l.withPointer { a in r.withPointer { b in _ = mpfr_div(o, a, b, MPFR_RNDN) } } } }
    @inlinable public static func += (l: inout BigFloat, r: BigFloat) { l.apply(r, mpfr_add) }
    @inlinable public static func -= (l: inout BigFloat, r: BigFloat) { l.apply(r, mpfr_sub) }
    @inlinable public static func *= (l: inout BigFloat, r: BigFloat) { l.apply(r, mpfr_mul) }
    @inlinable public static func /= (l: inout BigFloat, r: BigFloat) { l.apply(r, mpfr_div) }

    /// Flips the sign bit (−0 stays distinguishable), in place.
    @inlinable
    public mutating func negate() {
        withMutablePointer { _ = mpfr_neg($0, $0, MPFR_RNDN) }
    }
    @inlinable public static prefix func - (x: BigFloat) -> BigFloat { var y = x; y.negate(); return y }
}

extension BigFloat: Strideable {
    public func distance(to other: BigFloat) -> BigFloat { other - self }
    public func advanced(by n: BigFloat) -> BigFloat { self + n }
}

extension BigFloat: FloatingPoint {
    public typealias Exponent = Int

    public init(sign: FloatingPointSign, exponent: Int, significand: BigFloat) {
        self = BigFloat.make { o in significand.withPointer { _ = mpfr_mul_2si(o, $0, exponent, MPFR_RNDN) } }
        if sign == .minus { negate() }
    }

    public init(signOf: BigFloat, magnitudeOf: BigFloat) {
        self = BigFloat.make { o in magnitudeOf.withPointer { m in signOf.withPointer { s in _ = mpfr_copysign(o, m, s, MPFR_RNDN) } } }
    }

    public init<Source: BinaryInteger>(_ value: Source) {
        if let v = Int(exactly: value) { self.init(v) } else { self.init(String(value))! }
    }

    public static var radix: Int { 2 }
    public static var nan: BigFloat { make { mpfr_set_nan($0) } }
    /// MPFR has no signalling NaN.
    public static var signalingNaN: BigFloat { nan }
    public static var infinity: BigFloat { make { mpfr_set_inf($0, 1) } }
    public static var greatestFiniteMagnitude: BigFloat {
        make { o in _ = mpfr_set_ui(o, 1, MPFR_RNDN); _ = mpfr_nextbelow(o); _ = mpfr_mul_2si(o, o, mantissa_mpfr_emax_current() , MPFR_RNDN) }
    }
    /// π rounded toward zero, as the stdlib's `Float.pi`.
    public static var pi: BigFloat { make { _ = mpfr_const_pi($0, MPFR_RNDZ) } }
    public var ulp: BigFloat {
        guard isFinite else { return .nan }
        if isZero { return .leastNonzeroMagnitude }
        return BigFloat.make { o in withPointer { p in _ = mpfr_set_ui_2exp(o, 1, mantissa_mpfr_get_exp(p) - P.bits, MPFR_RNDN) } }
    }
    public static var leastNormalMagnitude: BigFloat { leastNonzeroMagnitude }
    public static var leastNonzeroMagnitude: BigFloat { make { _ = mpfr_set_ui_2exp($0, 1, mantissa_mpfr_emin_current() - 1, MPFR_RNDN) } }
    public static var ulpOfOne: BigFloat { make { _ = mpfr_set_ui_2exp($0, 1, 1 - P.bits, MPFR_RNDN) } }

    public var sign: FloatingPointSign { withPointer { mantissa_mpfr_signbit($0) != 0 ? .minus : .plus } }
    public var exponent: Int {
        guard isFinite, !isZero else { return isZero ? Int.min : Int.max }
        return withPointer { mantissa_mpfr_get_exp($0) } - 1
    }
    public var significand: BigFloat {
        guard isFinite, !isZero else { return self }
        return BigFloat.make { o in withPointer { p in _ = mpfr_mul_2si(o, p, -(mantissa_mpfr_get_exp(p) - 1), MPFR_RNDN); _ = mpfr_abs(o, o, MPFR_RNDN) } }
    }

    public mutating func formRemainder(dividingBy other: BigFloat) { apply(other, mpfr_remainder) }
    public mutating func formTruncatingRemainder(dividingBy other: BigFloat) { apply(other, mpfr_fmod) }
    public mutating func formSquareRoot() {
        withMutablePointer { _ = mpfr_sqrt($0, $0, MPFR_RNDN) }
    }
    public mutating func addProduct(_ lhs: BigFloat, _ rhs: BigFloat) { formFusedMultiplyAdd(lhs, rhs) }

    public mutating func round(_ rule: FloatingPointRoundingRule) {
        withMutablePointer { p in
            switch rule {
            case .toNearestOrEven: _ = mpfr_roundeven(p, p)
            case .toNearestOrAwayFromZero: _ = mpfr_round(p, p)
            case .up: _ = mpfr_ceil(p, p)
            case .down: _ = mpfr_floor(p, p)
            case .towardZero: _ = mpfr_trunc(p, p)
            case .awayFromZero: if mpfr_sgn_wrapper(p) >= 0 { _ = mpfr_ceil(p, p) } else { _ = mpfr_floor(p, p) }
            @unknown default: _ = mpfr_roundeven(p, p)
            }
        }
    }

    public var nextUp: BigFloat {
        var r = self
        r.withMutablePointer { mpfr_nextabove($0) }
        return r
    }

    public func isEqual(to other: BigFloat) -> Bool { self == other }
    public func isLess(than other: BigFloat) -> Bool { self < other }
    public func isLessThanOrEqualTo(_ other: BigFloat) -> Bool { withPointer { a in other.withPointer { b in mpfr_lessequal_p(a, b) != 0 } } }
    public func isTotallyOrdered(belowOrEqualTo other: BigFloat) -> Bool { withPointer { a in other.withPointer { b in mpfr_total_order_p(a, b) != 0 } } }

    public var isNormal: Bool { isFinite && !isZero }
    public var isFinite: Bool { withPointer { mpfr_number_p($0) != 0 } }
    public var isZero: Bool { withPointer { mpfr_zero_p($0) != 0 } }
    public var isSubnormal: Bool { false }
    public var isInfinite: Bool { withPointer { mpfr_inf_p($0) != 0 } }
    public var isNaN: Bool { withPointer { mpfr_nan_p($0) != 0 } }
    public var isSignalingNaN: Bool { false }
    public var isCanonical: Bool { true }
}

@inlinable func mpfr_sgn_wrapper(_ p: UnsafeMutablePointer<__mpfr_struct>) -> Int32 { mantissa_mpfr_sgn(p) }
