/// Rounding a binary64 value into a format: the single rounding step of every simulated operation.
///
/// ## Why one rounding of a binary64 value is enough
/// A simulated operation first computes its exact result as a binary64 value *rounded to odd*
/// (`ExactArithmetic`: TwoSum for sums, exact products for p ≤ 26, FMA residuals for quotients and
/// square roots), then calls `round(_:mode:random:)` once. Since 53 ≥ p + 2, rounding the round-to-odd
/// value to p bits in nearest-even, toward zero, up, down or odd equals rounding the exact value
/// (Boldo & Melquiond, IEEE TC 57(4), 2008), also on the fixed subnormal grid.
///
/// Stochastic rounding needs more than the rounding direction: it needs the fraction
/// f = (|x| − |a|)/ulp. Round-to-odd keeps enough of it. In units of the target ulp, binary64 resolves
/// δ ≤ 2^(p−53); if the exact fraction f is not a multiple of δ, the round-to-odd fraction f̃ is the odd
/// multiple of δ next to f, and no even multiple of δ lies between f and f̃. The draw r is a multiple
/// of 2^−24, an even multiple of δ whenever 24 ≤ 52 − p (p ≤ 28). Hence r < f̃ ⇔ r < f: with the same
/// draw, stochastic rounding of the round-to-odd value makes exactly the decision it would make on
/// the exact value.
extension FloatFormat {
    /// Rounds `x`, taken as exact, to the format in `mode`. `random` is used by `.stochastic` only:
    /// its top 24 bits r give "away from zero iff r·2^−24 < fraction".
    ///
    /// Overflow follows `overflow`; an infinite `x` stays infinite if the format has infinities, else
    /// saturates or becomes NaN as `overflow` says. NaN stays a quiet NaN with its sign.
    ///
    /// Specialised per format, with the parameters' body inlined: a declared format's constants fold
    /// into it (as fast as code written for that format; measured), a run-time format loads them once.
    @inlinable
    public static func round(_ x: Double, mode: RoundingMode, random: UInt32 = 0) -> Double {
        _parameters.round(x, mode: mode, random: random)
    }

    /// The result of an overflow in `mode` (see `OverflowBehaviour`).
    @inlinable
    public static func _overflowResult(negative: Bool, mode: RoundingMode) -> Double {
        _parameters.overflowResult(negative: negative, mode: mode)
    }

    /// What an infinite operand or exact infinite result becomes.
    @inlinable
    public static func _infinityResult(negative: Bool) -> Double {
        _parameters.infinityResult(negative: negative)
    }

    /// Whether `x` is a member of the format (finite members, ±0, ±∞ if the format has them). NaN is
    /// not a member in this sense; use `isNaN`.
    @inlinable
    public static func contains(_ x: Double) -> Bool {
        if x.isNaN { return false }
        if x.isInfinite { return hasInfinities }
        return round(x, mode: .towardZero) == x
    }

    /// The spacing of the format's members around `x` (for |x| in a binade, the ulp of that binade;
    /// below 2^emin the subnormal spacing, or 2^emin without subnormals).
    @inlinable
    public static func quantum(_ x: Double) -> Double {
        let e = x.magnitude.exponent
        let emin = minimumNormalExponent
        if x == 0 || e < emin { return hasSubnormals ? _pow2(emin - precision + 1) : _pow2(emin) }
        return _pow2(e - precision + 1)
    }
}

extension _FormatParameters {
    /// Rounds `x`, taken as exact, to the format in `mode`: the one implementation behind
    /// `FloatFormat.round`, for compile-time and run-time formats alike. `random` is used by `.stochastic` only:
    /// its top 24 bits r give "away from zero iff r·2^−24 < fraction".
    ///
    /// Overflow follows `overflow`; an infinite `x` stays infinite if the format has infinities, else
    /// saturates or becomes NaN as `overflow` says. NaN stays a quiet NaN with its sign.
    @inlinable @inline(__always)
    public func round(_ x: Double, mode: RoundingMode, random: UInt32 = 0) -> Double {
        guard x.isFinite else {
            if x.isNaN { return x + 0 }     // quiet
            return infinityResult(negative: x < 0)
        }
        if x == 0 { return x }
        let p = precision, emin = minimumNormalExponent
        let a = x.magnitude
        let e = a.exponent
        if e > maximumExponent { return overflowResult(negative: x < 0, mode: mode) }
        let qe = e >= emin ? e - p + 1 : (hasSubnormals ? emin - p + 1 : emin)
        let scaled = a * _pow2(-qe)                 // exact: a power-of-two scaling, result < 2^p
        let n0 = scaled.rounded(.down)
        let frac = scaled - n0                      // exact
        let n0IsOdd = Int(n0) & 1 == 1
        let up: Bool
        switch mode {
        case .nearestEven: up = frac > 0.5 || (frac == 0.5 && n0IsOdd)
        case .towardZero: up = false
        case .up: up = frac != 0 && x > 0
        case .down: up = frac != 0 && x < 0
        case .odd: up = frac != 0 && !n0IsOdd
        case .stochastic: up = Double(random &>> 8) * 0x1p-24 < frac
        }
        let r = (up ? n0 + 1 : n0) * _pow2(qe)      // exact
        if r > greatestFiniteMagnitude { return overflowResult(negative: x < 0, mode: mode) }
        return x < 0 ? -r : r
    }

    /// The result of an overflow in `mode` (see `OverflowBehaviour`).
    @inlinable @inline(__always)
    public func overflowResult(negative: Bool, mode: RoundingMode) -> Double {
        let away: Bool
        switch mode {
        case .nearestEven, .stochastic: away = true
        case .towardZero, .odd: away = false
        case .up: away = !negative
        case .down: away = negative
        }
        let magnitude: Double
        switch overflow {
        case .saturate: magnitude = greatestFiniteMagnitude
        case .infinity: magnitude = away ? .infinity : greatestFiniteMagnitude
        case .nan: magnitude = away ? .nan : greatestFiniteMagnitude
        }
        return negative ? -magnitude : magnitude
    }

    /// What an infinite operand or exact infinite result becomes.
    @inlinable @inline(__always)
    public func infinityResult(negative: Bool) -> Double {
        let magnitude: Double = hasInfinities ? .infinity : (overflow == .saturate ? greatestFiniteMagnitude : .nan)
        return negative ? -magnitude : magnitude
    }
}
