// Shared test support: independent oracles for the formats of `Scalars`.
//
// `MPFRFormatOracle` reproduces a binary format with MPFR: precision p, exponent range set with
// mpfr_set_emin/emax around each call, mpfr_check_range, mpfr_subnormalize. Overflow rules that MPFR
// does not model (saturation, NaN on overflow, e4m3fn's reduced maximum) are applied afterwards from
// the format's specification; round-to-odd and stochastic rounding are derived from MPFR's
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
            ?? Double(sign: .plus, exponent: maximumExponent, significand: 2 - Double(sign: .plus, exponent: 1 - precision, significand: 1))
    }

    public init<F: FloatFormat>(_ format: F.Type) {
        self.init(name: F.name, precision: F.precision, maximumExponent: F.maximumExponent,
                  minimumNormalExponent: F.minimumNormalExponent, hasSubnormals: F.hasSubnormals,
                  hasInfinities: F.hasInfinities, overflow: F.overflow,
                  greatestFiniteMagnitude: F.greatestFiniteMagnitude)
    }

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

    /// Applies the format's overflow rule to a result of magnitude beyond its largest finite value.
    func applyOverflow(_ r: Double, exactInfinity: Bool, mode: RoundingMode, negative: Bool) -> Double {
        if r.isNaN { return r }
        if exactInfinity {
            if spec.hasInfinities { return r }
            let m = spec.overflow == .saturate ? spec.greatestFiniteMagnitude : Double.nan
            return negative ? -m : m
        }
        guard r.magnitude > spec.greatestFiniteMagnitude else { return r }
        let away: Bool
        switch mode {
        case .nearestEven, .stochastic: away = true
        case .towardZero, .odd: away = false
        case .up: away = !negative
        case .down: away = negative
        }
        let m: Double
        switch spec.overflow {
        case .saturate: m = spec.greatestFiniteMagnitude
        case .infinity: m = away ? .infinity : spec.greatestFiniteMagnitude
        case .nan: m = away ? .nan : spec.greatestFiniteMagnitude
        }
        return negative ? -m : m
    }

    /// The exact result's sign (MPFR at high precision; NaN counts as positive).
    func exactIsNegative(_ op: Operation) -> Bool {
        _ = perform(op, into: wide, MPFR_RNDZ)
        return mantissa_mpfr_signbit(wide) != 0
    }

    /// The format's rounding of `op` applied to the operands already loaded in a, b, c.
    func result(_ op: Operation, mode: RoundingMode, random: UInt32) -> Double {
        let negative = exactIsNegative(op)
        switch mode {
        case .nearestEven, .towardZero, .up, .down:
            let rnd: mpfr_rnd_t = mode == .nearestEven ? MPFR_RNDN : mode == .towardZero ? MPFR_RNDZ
                : mode == .up ? MPFR_RNDU : MPFR_RNDD
            let (r, inf) = mpfrRound(op, rnd)
            return applyOverflow(r, exactInfinity: inf, mode: mode, negative: negative)
        case .odd:
            let (z, inf) = mpfrRound(op, MPFR_RNDZ, extendedRange: true)
            if inf || z.isNaN { return applyOverflow(z, exactInfinity: inf, mode: mode, negative: negative) }
            let (away, _) = mpfrRound(op, MPFR_RNDA, extendedRange: true)
            let r = (z == away || isOdd(z)) ? z : away
            return applyOverflow(r, exactInfinity: false, mode: mode, negative: negative)
        case .stochastic:
            let (z, inf) = mpfrRound(op, MPFR_RNDZ, extendedRange: true)
            if inf || z.isNaN { return applyOverflow(z, exactInfinity: inf, mode: mode, negative: negative) }
            let (away, _) = mpfrRound(op, MPFR_RNDA, extendedRange: true)
            if z == away { return applyOverflow(z, exactInfinity: false, mode: mode, negative: negative) }
            // away iff |z| + r·2^-24·(|away| − |z|) < |exact|
            let tExact = perform(op, into: wide, MPFR_RNDZ)       // wide = RZ(exact), exact if tExact == 0
            mpfr_abs(wide, wide, MPFR_RNDN)
            let gap = away.magnitude - z.magnitude                // a power of two: exact
            let threshold = z.magnitude + Double(random >> 8) * 0x1p-24 * gap   // exact (≤ p + 24 bits)
            mpfr_set_d(t1, threshold, MPFR_RNDN)
            let cmp = mpfr_cmp(t1, wide)
            let up = cmp < 0 || (cmp == 0 && tExact != 0)
            return applyOverflow(up ? away : z, exactInfinity: false, mode: mode, negative: negative)
        }
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
