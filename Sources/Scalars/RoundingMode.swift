/// How a value that is not a member of a format is mapped into it.
///
/// All modes act on the exact (infinitely precise) result of an operation:
/// - `nearestEven`: the nearest member, ties to the one with an even last significand bit (IEEE default).
/// - `towardZero`, `up` (toward +∞), `down` (toward −∞): the IEEE directed roundings.
/// - `odd`: exact results are kept; otherwise the neighbour whose last significand bit is 1. Rounding
///   to odd at `q ≥ p + 2` bits and then to `p` bits in any other deterministic mode equals a direct
///   rounding (Boldo & Melquiond 2008); this is how every simulated operation rounds only once.
/// - `stochastic`: proportional stochastic rounding. With `x` between the neighbours `a < x < b`
///   (in magnitude), `x` rounds away from zero to `b` with probability `(|x| − |a|)/(|b| − |a|)`,
///   the distance to the lower neighbour over the ulp, and to `a` otherwise, so the rounding is
///   unbiased: E[round(x)] = x. The draw is a 24-bit uniform number `r` from the counter-based
///   generator of `StochasticRounding` and the rule is "away iff r·2^−24 < (|x| − |a|)/ulp": the
///   probability is that fraction rounded up to a multiple of 2^−24 (bias below 2^−24 of an ulp).
public enum RoundingMode: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case nearestEven
    case towardZero
    case up
    case down
    case odd
    case stochastic

    /// Short name used in format names and reports: `rne`, `rz`, `ru`, `rd`, `ro`, `sr`.
    public var shortName: String {
        switch self {
        case .nearestEven: "rne"
        case .towardZero: "rz"
        case .up: "ru"
        case .down: "rd"
        case .odd: "ro"
        case .stochastic: "sr"
        }
    }

    public var description: String { shortName }

    /// Whether the mode is a rounding to nearest (unit roundoff 2^−p instead of 2^(1−p)).
    @inlinable
    public var isNearest: Bool { self == .nearestEven }
}

/// What a format does with a result whose magnitude lies beyond its largest finite value.
public enum OverflowBehaviour: String, Sendable, Hashable, CaseIterable, Codable {
    /// Clamp to ±largest finite value, whatever the rounding mode (e.g. OCP fp8 "saturating" conversions).
    case saturate
    /// IEEE 754 §7.4: ±∞ when the rounding direction points away from zero (nearest, stochastic,
    /// `up` for positive, `down` for negative results), ±largest finite otherwise.
    case infinity
    /// Like `.infinity`, but NaN instead of ±∞ (formats without infinities, e.g. fp8 e4m3fn
    /// non-saturating).
    case nan
}

/// The rounding modes that need no random bits: every mode of `RoundingMode` but `.stochastic`.
///
/// Functions that take this type (the array kernels `RoundingKernels.roundTo…(_:into:…mode:)`,
/// `FloatFormat.round(_:mode:)` with it, the fp8 encoders) cannot be asked for stochastic rounding: that
/// needs a seed and a stream, and has its own `…Stochastic` variants that require them. So no call can
/// fail at run time for want of random bits.
public enum DeterministicRounding: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case nearestEven
    case towardZero
    case up
    case down
    case odd

    /// The same mode as a `RoundingMode`.
    @inlinable
    public var mode: RoundingMode {
        switch self {
        case .nearestEven: .nearestEven
        case .towardZero: .towardZero
        case .up: .up
        case .down: .down
        case .odd: .odd
        }
    }

    /// `mode` as a deterministic mode; nil for `.stochastic`.
    @inlinable
    public init?(_ mode: RoundingMode) {
        switch mode {
        case .nearestEven: self = .nearestEven
        case .towardZero: self = .towardZero
        case .up: self = .up
        case .down: self = .down
        case .odd: self = .odd
        case .stochastic: return nil
        }
    }

    public var description: String { mode.shortName }
}
