// Shared test support: independent oracles for the formats of `Scalars`.
//
// `MPFRFormatOracle` reproduces a binary format with MPFR: precision p, exponent range set with
// mpfr_set_emin/emax around each call, mpfr_check_range, mpfr_subnormalize. Overflow is decided
// before any rounding, by comparing the exact result (MPFR at 2400 bits) with thresholds derived from
// the format's definition in exact arithmetic (`FormatSpec.definedMaximum`, `overflowThreshold`), not
// from the library's rounding code; round-to-odd and stochastic rounding are derived from MPFR's
// toward-zero and away-from-zero roundings and a high-precision comparison.
import CMPFR
import Scalars
/// The project's seeded generator, re-exported so that scalar tests need not import LinearAlgebra.
@_exported import struct LinearAlgebra.SplitMix64

/// The parameters of a format, independent of any Swift type.
public struct FormatSpec: Sendable, CustomStringConvertible {
    public var name: String
    public var precision: Int
    public var maximumExponent: Int
    public var minimumNormalExponent: Int
    public var hasSubnormals: Bool
    public var hasInfinities: Bool
    public var overflow: OverflowBehaviour
    public var greatestFiniteMagnitude: Double

    public init(name: String, precision: Int, maximumExponent: Int, minimumNormalExponent: Int? = nil,
                hasSubnormals: Bool = true, hasInfinities: Bool = true, overflow: OverflowBehaviour? = nil,
                greatestFiniteMagnitude: Double? = nil) {
        self.name = name
        self.precision = precision
        self.maximumExponent = maximumExponent
        self.minimumNormalExponent = minimumNormalExponent ?? (1 - maximumExponent)
        self.hasSubnormals = hasSubnormals
        self.hasInfinities = hasInfinities
        self.overflow = overflow ?? (hasInfinities ? .infinity : .nan)
        self.greatestFiniteMagnitude = greatestFiniteMagnitude
            ?? Self.definedMaximum(precision: precision, maximumExponent: maximumExponent, topSignificandIsNaN: false)
    }

    /// The parameters of `F`, except its largest finite value, which is derived here from the format's
    /// definition (`definedMaximum`) instead of being read from `F.greatestFiniteMagnitude`: a wrong
    /// maximum in the library then shows up as a disagreement instead of being copied into the oracle.
    /// The e4m3 family (OCP 8-bit floating point, E4M3) encodes NaN in the top significand of the top
    /// binade (S.1111.111), so its largest finite significand is one step lower.
    public init<F: FloatFormat>(_ format: F.Type) {
        let e4m3 = F.name == "fp8-e4m3" || F.name.hasPrefix("fp8-e4m3-") || F.name.hasPrefix("fp8-e4m3+")
        self.init(name: F.name, precision: F.precision, maximumExponent: F.maximumExponent,
                  minimumNormalExponent: F.minimumNormalExponent, hasSubnormals: F.hasSubnormals,
                  hasInfinities: F.hasInfinities, overflow: F.overflow,
                  greatestFiniteMagnitude: Self.definedMaximum(precision: F.precision, maximumExponent: F.maximumExponent,
                                                               topSignificandIsNaN: e4m3))
    }

    /// The largest finite value by the definition of a binary format: the largest significand of the top
    /// binade times 2^emax, i.e. `(2 − 2^(1−p))·2^emax` (all p significand bits set), or
    /// `(2 − 2^(2−p))·2^emax` when the all-ones significand is NaN (e4m3). Both factors are exact in
    /// binary64 for p ≤ 53 and |emax| ≤ 1023 (a p-bit significand; a power-of-two scaling).
    public static func definedMaximum(precision p: Int, maximumExponent emax: Int, topSignificandIsNaN: Bool) -> Double {
        let lastBit = Double(sign: .plus, exponent: (topSignificandIsNaN ? 2 : 1) - p, significand: 1)
        return Double(sign: .plus, exponent: emax, significand: 2 - lastBit)
    }

    /// The round-to-nearest overflow threshold: the midpoint `M + q/2` between the largest finite value
    /// `M` and the next point `M + q` of the unbounded p-bit grid (`q = 2^(emax−p+1)`, the spacing of
    /// the top binade); for IEEE formats `(2 − 2^(−p))·2^emax`. Exact results above it round to a value
    /// beyond `M` (overflow); exactly at it, ties-to-even overflows iff `M` has an odd last significand
    /// bit (`tieOverflows`; IEEE: `M` is all ones, odd, so the tie overflows; e4m3: `M` = 1.110·2^emax is
    /// even, so the tie stays at `M`). Exact in binary64 (p + 1 bits).
    public var overflowThreshold: Double { greatestFiniteMagnitude + topSpacing / 2 }
    /// Spacing of the top binade, `2^(emax−p+1)`.
    public var topSpacing: Double { pow2(maximumExponent - precision + 1) }
    /// Whether the nearest-even tie at `overflowThreshold` rounds away from `M` (M's last bit odd).
    public var tieOverflows: Bool { (greatestFiniteMagnitude / topSpacing).truncatingRemainder(dividingBy: 2) == 1 }

    public static let bfloat16 = FormatSpec(name: "bf16", precision: 8, maximumExponent: 127)
    public static let binary16 = FormatSpec(name: "fp16", precision: 11, maximumExponent: 15)

    public var description: String {
        "\(name)(p=\(precision), emin=\(minimumNormalExponent), emax=\(maximumExponent), subnormals=\(hasSubnormals), inf=\(hasInfinities), overflow=\(overflow), max=\(greatestFiniteMagnitude))"
    }

    func pow2(_ k: Int) -> Double { Double(sign: .plus, exponent: k, significand: 1) }

    /// Spacing of members at |x| (the subnormal spacing, or 2^emin without subnormals, below 2^emin).
    public func quantum(_ x: Double) -> Double {
        let emin = minimumNormalExponent
        if x == 0 || x.magnitude < pow2(emin) {
            return hasSubnormals ? pow2(emin - precision + 1) : pow2(emin)
        }
        return pow2(x.exponent - precision + 1)
    }

    /// Every finite member, ascending, −0 excluded (+0 once).
    public func allFiniteMembers() -> [Double] {
        var positive: [Double] = []
        let emin = minimumNormalExponent
        if hasSubnormals {
            let q = pow2(emin - precision + 1)
            for k in 1..<(1 << (precision - 1)) { positive.append(Double(k) * q) }
        }
        for e in emin...maximumExponent {
            for m in 0..<(1 << (precision - 1)) {
                let v = (1 + Double(m) * pow2(1 - precision)) * pow2(e)
                if v <= greatestFiniteMagnitude { positive.append(v) }
            }
        }
        return positive.reversed().map { -$0 } + [0] + positive
    }
}

/// MPFR emulation of a format. Not thread-safe per instance (it owns MPFR registers); create one per
/// test. Every call sets MPFR's (thread-local) exponent range and restores it before returning.
public final class MPFRFormatOracle {
    public let spec: FormatSpec
    let p: UnsafeMutablePointer<__mpfr_struct>      // precision p register
    let wide: UnsafeMutablePointer<__mpfr_struct>   // high precision register (the "exact" value)
    let t1: UnsafeMutablePointer<__mpfr_struct>
    let t2: UnsafeMutablePointer<__mpfr_struct>
    let a: UnsafeMutablePointer<__mpfr_struct>
    let b: UnsafeMutablePointer<__mpfr_struct>
    let c: UnsafeMutablePointer<__mpfr_struct>
    static let widePrecision = 2400

    public init(_ spec: FormatSpec) {
        self.spec = spec
        func reg(_ prec: Int) -> UnsafeMutablePointer<__mpfr_struct> {
            let r = UnsafeMutablePointer<__mpfr_struct>.allocate(capacity: 1)
            mpfr_init2(r, prec)
            return r
        }
        p = reg(spec.precision)
        wide = reg(Self.widePrecision)
        t1 = reg(Self.widePrecision)
        t2 = reg(Self.widePrecision)
        a = reg(53); b = reg(53); c = reg(53)
    }

    public convenience init<F: FloatFormat>(_ format: F.Type) { self.init(FormatSpec(format)) }

    deinit {
        for r in [p, wide, t1, t2, a, b, c] { mpfr_clear(r); r.deallocate() }
    }

    public enum Operation: Sendable { case convert, add, subtract, multiply, divide, squareRoot, fusedMultiplyAdd }

    /// Performs `op` into `dst` with rounding `rnd`; operands are in a, b, c.
    func perform(_ op: Operation, into dst: UnsafeMutablePointer<__mpfr_struct>, _ rnd: mpfr_rnd_t) -> Int32 {
        switch op {
        case .convert: mpfr_set(dst, a, rnd)
        case .add: mpfr_add(dst, a, b, rnd)
        case .subtract: mpfr_sub(dst, a, b, rnd)
        case .multiply: mpfr_mul(dst, a, b, rnd)
        case .divide: mpfr_div(dst, a, b, rnd)
        case .squareRoot: mpfr_sqrt(dst, a, rnd)
        case .fusedMultiplyAdd: mpfr_fma(dst, a, b, c, rnd)
        }
    }

    /// `op` correctly rounded to the format with MPFR rounding `rnd` (nearest, zero, up, down or away),
    /// with IEEE-style overflow at 2^(emax+1) (`extendedRange` pushes the overflow out of reach) and
    /// the format's underflow. Returns the value and whether the exact result was an infinity.
    func mpfrRound(_ op: Operation, _ rnd: mpfr_rnd_t, extendedRange: Bool = false) -> (Double, exactInfinity: Bool) {
        let savedEmin = mpfr_get_emin(), savedEmax = mpfr_get_emax()
        defer { mpfr_set_emin(savedEmin); mpfr_set_emax(savedEmax) }
        let emin = spec.minimumNormalExponent, prec = spec.precision
        // MPFR's exponent of 2^e is e + 1 (significands in [1/2, 1)).
        let mpfrEmin = spec.hasSubnormals ? emin - prec + 2 : emin + 1
        let mpfrEmax = extendedRange ? spec.maximumExponent + 20 : spec.maximumExponent + 1
        mpfr_set_emin(mpfrEmin)
        mpfr_set_emax(mpfrEmax)
        mpfr_clear_flags()
        var t = perform(op, into: p, rnd)
        t = mpfr_check_range(p, t, rnd)
        if spec.hasSubnormals { t = mpfr_subnormalize(p, t, rnd) }
        let overflowed = mpfr_overflow_p() != 0
        let d = mpfr_get_d(p, MPFR_RNDN)         // exact: a p-bit number in binary64's range
        return (d, d.isInfinite && !overflowed)
    }

    func isOdd(_ x: Double) -> Bool {
        if x == 0 || !x.isFinite { return false }
        let n = x.magnitude / spec.quantum(x)
        return n.truncatingRemainder(dividingBy: 2) == 1
    }

    /// The value an overflow produces: ±∞, NaN or ±M, as the format's overflow behaviour says.
    func overflowValue(negative: Bool) -> Double {
        let m: Double
        switch spec.overflow {
        case .infinity: m = .infinity
        case .nan: m = .nan
        case .saturate: m = spec.greatestFiniteMagnitude
        }
        return negative ? -m : m
    }

    /// What an exactly infinite result becomes: ∞ if the format has infinities, else its overflow value.
    func infinityValue(negative: Bool) -> Double {
        spec.hasInfinities ? (negative ? -.infinity : .infinity) : overflowValue(negative: negative)
    }

    /// The result when the exact |x| (in `wide`, `inexact` if `wide` is its truncation) lies beyond the
    /// format's finite range for `mode`, or nil when rounding stays within ±M. Decided by exact MPFR
    /// comparisons with `M` and the nearest-mode threshold `M + q/2` (see `FormatSpec`), from the
    /// definition of each rounding:
    /// * nearest-even: overflow above the threshold, and at it iff the tie goes away from `M`;
    /// * toward zero and odd: never away from zero past `M` (both keep the truncated significand, odd
    ///   only setting its last bit, which `M` has for IEEE formats; for e4m3 the odd neighbour of `M`
    ///   would be the NaN pattern, and the result saturates at `M` as for toward zero);
    /// * up / down: overflow on the side the rounding moves to, `±M` on the other;
    /// * stochastic: decided by the caller: the neighbour chosen on the unbounded grid (or the exact
    ///   value, when it is a grid point) overflows iff it lies beyond `M`.
    func overflowResult(mode: RoundingMode, negative: Bool, inexact: Bool) -> Double? {
        mpfr_set_d(t1, spec.greatestFiniteMagnitude, MPFR_RNDN)      // exact
        let cm = mpfr_cmp(wide, t1)
        guard cm > 0 || (cm == 0 && inexact) else { return nil }
        let saturated = negative ? -spec.greatestFiniteMagnitude : spec.greatestFiniteMagnitude
        switch mode {
        case .nearestEven:
            mpfr_set_d(t2, spec.overflowThreshold, MPFR_RNDN)        // exact
            let ct = mpfr_cmp(wide, t2)
            let above = ct > 0 || (ct == 0 && inexact), atTie = ct == 0 && !inexact
            return above || (atTie && spec.tieOverflows) ? overflowValue(negative: negative) : nil
        case .towardZero, .odd: return saturated
        case .up: return negative ? saturated : overflowValue(negative: false)
        case .down: return negative ? overflowValue(negative: true) : saturated
        case .stochastic: return nil
        }
    }

    /// The exact result's sign (MPFR at high precision; NaN counts as positive).
    func exactIsNegative(_ op: Operation) -> Bool {
        _ = perform(op, into: wide, MPFR_RNDZ)
        return mantissa_mpfr_signbit(wide) != 0
    }

    /// The format's rounding of `op` applied to the operands already loaded in a, b, c.
    func result(_ op: Operation, mode: RoundingMode, random: UInt32) -> Double {
        let negative = exactIsNegative(op)
        let inexact = perform(op, into: wide, MPFR_RNDZ) != 0      // wide = RZ(exact)
        if mpfr_nan_p(wide) != 0 { return .nan }
        if mpfr_inf_p(wide) != 0 { return infinityValue(negative: negative) }
        mpfr_abs(wide, wide, MPFR_RNDN)
        if let r = overflowResult(mode: mode, negative: negative, inexact: inexact) { return r }
        let r: Double
        switch mode {
        case .nearestEven, .towardZero, .up, .down:
            let rnd: mpfr_rnd_t = mode == .nearestEven ? MPFR_RNDN : mode == .towardZero ? MPFR_RNDZ
                : mode == .up ? MPFR_RNDU : MPFR_RNDD
            r = mpfrRound(op, rnd, extendedRange: true).0
        case .odd:
            let z = mpfrRound(op, MPFR_RNDZ, extendedRange: true).0
            let away = mpfrRound(op, MPFR_RNDA, extendedRange: true).0
            r = (z == away || isOdd(z)) ? z : away
        case .stochastic:
            let z = mpfrRound(op, MPFR_RNDZ, extendedRange: true).0
            let away = mpfrRound(op, MPFR_RNDA, extendedRange: true).0
            // an exact |x| beyond M (a grid point of the unbounded range) is itself an overflow
            if z == away { return z.magnitude > spec.greatestFiniteMagnitude ? overflowValue(negative: negative) : z }
            // away iff |z| + r·2^-24·(|away| − |z|) < |exact|
            let tExact = perform(op, into: wide, MPFR_RNDZ)       // wide = RZ(exact), exact if tExact == 0
            mpfr_abs(wide, wide, MPFR_RNDN)
            let gap = away.magnitude - z.magnitude                // a power of two: exact
            let threshold = z.magnitude + Double(random >> 8) * 0x1p-24 * gap   // exact (≤ p + 24 bits)
            mpfr_set_d(t1, threshold, MPFR_RNDN)
            let cmp = mpfr_cmp(t1, wide)
            let up = cmp < 0 || (cmp == 0 && tExact != 0)
            // the chosen neighbour on the unbounded grid overflows if it lies beyond M
            let chosen = up ? away : z
            return chosen.magnitude > spec.greatestFiniteMagnitude ? overflowValue(negative: negative) : chosen
        }
        // within ±M by the thresholds above, so the unbounded-range rounding is the format's
        precondition(r.isNaN || r.magnitude <= spec.greatestFiniteMagnitude, "oracle: \(r) beyond M after the overflow test")
        return r
    }

    /// `x` rounded into the format.
    public func round(_ x: Double, mode: RoundingMode, random: UInt32 = 0) -> Double {
        mpfr_set_d(a, x, MPFR_RNDN)
        return result(.convert, mode: mode, random: random)
    }

    /// `op(x, y, z)` correctly rounded into the format (unused operands ignored).
    public func compute(_ op: Operation, _ x: Double, _ y: Double = 0, _ z: Double = 0,
                        mode: RoundingMode, random: UInt32 = 0) -> Double {
        mpfr_set_d(a, x, MPFR_RNDN)
        mpfr_set_d(b, y, MPFR_RNDN)
        mpfr_set_d(c, z, MPFR_RNDN)
        return result(op, mode: mode, random: random)
    }
}

/// Bit-for-bit equality of two results, with every NaN equal to every NaN.
@inlinable
public func sameResult(_ x: Double, _ y: Double) -> Bool {
    (x.isNaN && y.isNaN) || x.bitPattern == y.bitPattern
}

/// Whether long test tiers are enabled (`MANTISSA_LONG_TESTS=1`).
public var longTestsEnabled: Bool {
    guard let v = getenvString("MANTISSA_LONG_TESTS") else { return false }
    return v == "1" || v.lowercased() == "true"
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}

/// For smoke-running the long tier: `MANTISSA_LONG_TESTS_LIMIT=N` stops exhaustive sweeps after N inputs.
public var longTestsLimit: UInt64 {
    guard let v = getenvString("MANTISSA_LONG_TESTS_LIMIT"), let n = UInt64(v) else { return 1 << 32 }
    return min(n, 1 << 32)
}
