/// A binary floating-point format that `SimulatedFloat` emulates: precision, exponent range,
/// subnormals, infinities, overflow behaviour and rounding mode, all at the type level.
///
/// ## Declaring your own format
/// Write a case-less enum conforming to `FloatFormat`; only `name`, `precision` and
/// `maximumExponent` are required, everything else has IEEE-like defaults:
///
/// ```swift
/// /// 1 sign, 6 exponent, 9 fraction bits: p = 10, emax = 31, emin = −30, subnormals, ±∞.
/// enum MyFP16: FloatFormat {
///     static var name: String { "my-fp16" }
///     static var precision: Int { 10 }          // hidden bit included
///     static var maximumExponent: Int { 31 }
///     // optional: minimumNormalExponent (default 1 − emax), hasSubnormals (true),
///     // hasInfinities (true), overflow (.infinity, or .nan without infinities),
///     // rounding (.nearestEven), greatestFiniteMagnitude ((2 − 2^(1−p))·2^emax)
/// }
/// typealias MyHalf = SimulatedFloat<MyFP16>
/// try MyFP16.validate()       // throws FormatError naming the format and the bad parameter
/// ```
///
/// Supported parameters (checked by `validate()`): 2 ≤ p ≤ 25 (so that products are exact in binary64
/// and round-to-odd in binary64 leaves p + 2 bits), 1 ≤ emax ≤ 300, −300 ≤ emin ≤ 0, emin < emax (so that
/// 1 is a member and no operation on members over- or underflows binary64). A format with another
/// rounding mode is `Rounded<Base, Mode>`.
public protocol FloatFormat: Sendable {
    /// Short, stable name used in reports, e.g. `"fp8-e4m3"`.
    static var name: String { get }
    /// Precision `p` in bits, hidden bit included (e4m3: 4, e5m2: 3, tf32: 11).
    static var precision: Int { get }
    /// Exponent of the largest finite binade, `emax`.
    static var maximumExponent: Int { get }
    /// Exponent of the smallest normal binade, `emin`. Default `1 − emax` (IEEE bias).
    static var minimumNormalExponent: Int { get }
    /// Gradual underflow below `2^emin` (default true). Without subnormals the members below `2^emin`
    /// are ±0 only, and a value in (0, 2^emin) rounds to 0 or 2^emin as on a grid of spacing 2^emin
    /// (0 counts as even, so the nearest-even tie 2^(emin−1) goes to 0).
    static var hasSubnormals: Bool { get }
    /// Whether ±∞ are members (default true).
    static var hasInfinities: Bool { get }
    /// Default `.infinity` if the format has infinities, `.nan` otherwise.
    static var overflow: OverflowBehaviour { get }
    /// Default `.nearestEven`.
    static var rounding: RoundingMode { get }
    /// The largest finite member. Default `(2 − 2^(1−p))·2^emax`; e4m3fn sets 448 = 1.75·2^8 because its
    /// pattern S.1111.111 is NaN.
    static var greatestFiniteMagnitude: Double { get }
    /// Every parameter at once, for the rounding code. Leave it to the default (built from the
    /// properties above, folded to constants); a run-time format loads it from its table in one read.
    static var _parameters: _FormatParameters { get }
}

/// A format's parameters in one value: what a rounding reads (no reference-counted fields, so a
/// run-time format's table entry is loaded with plain loads).
@frozen
public struct _FormatParameters: Sendable {
    public var precision: Int
    public var maximumExponent: Int
    public var minimumNormalExponent: Int
    public var greatestFiniteMagnitude: Double
    public var hasSubnormals: Bool
    public var hasInfinities: Bool
    public var overflow: OverflowBehaviour
    public var rounding: RoundingMode

    @inlinable
    public init(precision: Int, maximumExponent: Int, minimumNormalExponent: Int, greatestFiniteMagnitude: Double,
                hasSubnormals: Bool, hasInfinities: Bool, overflow: OverflowBehaviour, rounding: RoundingMode) {
        self.precision = precision; self.maximumExponent = maximumExponent
        self.minimumNormalExponent = minimumNormalExponent; self.greatestFiniteMagnitude = greatestFiniteMagnitude
        self.hasSubnormals = hasSubnormals; self.hasInfinities = hasInfinities
        self.overflow = overflow; self.rounding = rounding
    }
}

extension FloatFormat {
    @inlinable public static var _parameters: _FormatParameters {
        _FormatParameters(precision: precision, maximumExponent: maximumExponent, minimumNormalExponent: minimumNormalExponent,
                          greatestFiniteMagnitude: greatestFiniteMagnitude, hasSubnormals: hasSubnormals,
                          hasInfinities: hasInfinities, overflow: overflow, rounding: rounding)
    }
    @inlinable public static var minimumNormalExponent: Int { 1 - maximumExponent }
    @inlinable public static var hasSubnormals: Bool { true }
    @inlinable public static var hasInfinities: Bool { true }
    @inlinable public static var overflow: OverflowBehaviour { hasInfinities ? .infinity : .nan }
    @inlinable public static var rounding: RoundingMode { .nearestEven }
    @inlinable public static var greatestFiniteMagnitude: Double {
        _pow2(maximumExponent) * (2 - _pow2(1 - precision))
    }

    /// Smallest positive member: `2^(emin−p+1)` with subnormals, `2^emin` without.
    @inlinable public static var leastNonzeroMagnitude: Double {
        hasSubnormals ? _pow2(minimumNormalExponent - precision + 1) : _pow2(minimumNormalExponent)
    }
    /// `2^emin`.
    @inlinable public static var leastNormalMagnitude: Double { _pow2(minimumNormalExponent) }

    /// Unit roundoff: 2^−p for round to nearest, 2^(1−p) for the other modes.
    @inlinable public static var unitRoundoff: Double {
        rounding.isNearest ? _pow2(-precision) : _pow2(1 - precision)
    }

    /// Checks that the parameters describe a format `SimulatedFloat` can emulate exactly (the rules are
    /// `RuntimeFormat.validate()`'s: one implementation for declared and run-time formats).
    /// - Throws: `FormatError.invalidParameter` naming the format, the parameter and its value.
    public static func validate() throws(FormatError) {
        try RuntimeFormat(Self.self).validate()
    }
}

/// `2^k` for −1022 ≤ k ≤ 1023, built from the bits (exact, no libm call).
@inlinable @inline(__always)
public func _pow2(_ k: Int) -> Double {
    Double(bitPattern: UInt64(truncatingIfNeeded: k &+ 1023) &<< 52)
}

/// A format declaration that cannot be emulated, or a format name that is not known.
public enum FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidParameter(format: String, parameter: String, value: String, reason: String)
    case unknownFormat(name: String, known: [String])

    public var description: String {
        switch self {
        case let .invalidParameter(format, parameter, value, reason):
            "format '\(format)': \(parameter) = \(value) is invalid: \(reason)"
        case let .unknownFormat(name, known):
            "unknown format '\(name)'; known formats: \(known.joined(separator: ", "))"
        }
    }
}
