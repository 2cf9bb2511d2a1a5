import RealModule

/// A number of the format `Format`, stored as the binary64 value it equals, with every operation
/// correctly rounded to the format in `Format.rounding`.
///
/// ## Guarantees
/// - The stored `Double` is always a member of the format (or NaN, or ±∞ where the format has them).
///   The only exception is the `infinity` constant of a format without infinities (kept as +∞ so that
///   comparisons against it work); no operation produces it.
/// - `+ − × ÷ √` and `fusedMultiplyAdd` compute the exact result rounded to odd in binary64 (see
///   `ExactArithmetic`) and round that once (`FloatFormat.round`): correctly rounded in every mode,
///   stochastic rounding included (same decision as on the exact value for the same random draw).
/// - Elementary functions (`exp`, `log`, …) are computed in binary64 and rounded once: faithful.
/// - Stochastic rounding draws its bits from `StochasticRounding.current` (a counter-based generator
///   keyed by seed, stream and rounding index); see `StochasticRounding` for the determinism guarantee.
///   Outside every `StochasticRounding.withContext` it draws from the documented process-wide default
///   (seed 0, stream 0), counted and announced by a one-time warning on standard error.
///
/// Declare a format with a small enum (see `FloatFormat`) and call `Format.validate()` once.
@frozen
public struct SimulatedFloat<Format: FloatFormat>: Sendable {
    @usableFromInline internal var _value: Double

    /// Wraps a value that is already a member of the format (no rounding).
    @inlinable
    internal init(_member value: Double) { _value = value }

    /// Rounds `value` (taken as exact) once into the format with the format's rounding mode.
    @inlinable
    public init(_ value: Double) {
        _value = SimulatedFloat._round(value)
    }

    /// Rounds a binary32 value once into the format.
    @inlinable
    public init(_ value: Float) { self.init(Double(value)) }

    /// The one rounding step: `Format.round` with the format's mode, and the next random bits of the
    /// current stochastic-rounding context when the mode is stochastic.
    @inlinable @inline(__always)
    internal static func _round(_ x: Double) -> Double {
        if Format.rounding == .stochastic {
            return Format.round(x, mode: .stochastic, random: StochasticRounding.nextBits())
        }
        return Format.round(x, mode: Format.rounding)
    }

    /// The stored binary64 value (exact).
    @inlinable
    public var value: Double { _value }
}

extension Double {
    /// The exact binary64 value of a simulated number.
    @inlinable
    public init<F>(_ x: SimulatedFloat<F>) { self = x._value }
}

extension Float {
    /// The simulated number as binary32: exact when the format fits in binary32 (p ≤ 24, binary32's
    /// range), rounded to nearest even otherwise.
    @inlinable
    public init<F>(_ x: SimulatedFloat<F>) { self = Float(x._value) }
}

extension SimulatedFloat: Scalar {
    @inlinable public var doubleValue: Double { _value }
    public static var formatName: String { Format.name }
    @inlinable public static var significandPrecision: Int { Format.precision }
    @inlinable public static var maximumExponent: Int { Format.maximumExponent }
    @inlinable public static var minimumNormalExponent: Int { Format.minimumNormalExponent }
    @inlinable public static var hasSubnormals: Bool { Format.hasSubnormals }
    @inlinable public static var unitRoundoff: Double { Format.unitRoundoff }

    /// `a·b + c` with one rounding: the product is exact in binary64 (p ≤ 26), the sum is rounded to
    /// odd (TwoSum), and the result is rounded once to the format.
    @inlinable
    public static func fusedMultiplyAdd(_ a: SimulatedFloat, _ b: SimulatedFloat, _ c: SimulatedFloat) -> SimulatedFloat {
        SimulatedFloat(_member: _round(_sum(a._value * b._value, c._value)))
    }
}

extension SimulatedFloat: Equatable, Hashable, Comparable {
    /// IEEE equality of the values: `+0 == −0`, NaN unequal to everything.
    @inlinable
    public static func == (lhs: SimulatedFloat, rhs: SimulatedFloat) -> Bool { lhs._value == rhs._value }
    @inlinable
    public static func < (lhs: SimulatedFloat, rhs: SimulatedFloat) -> Bool { lhs._value < rhs._value }
    @inlinable
    public static func <= (lhs: SimulatedFloat, rhs: SimulatedFloat) -> Bool { lhs._value <= rhs._value }
    @inlinable
    public static func > (lhs: SimulatedFloat, rhs: SimulatedFloat) -> Bool { lhs._value > rhs._value }
    @inlinable
    public static func >= (lhs: SimulatedFloat, rhs: SimulatedFloat) -> Bool { lhs._value >= rhs._value }
    /// Zero canonicalised (Double's hashing already maps −0 to +0).
    @inlinable
    public func hash(into hasher: inout Hasher) { hasher.combine(_value == 0 ? 0 : _value) }
}

extension SimulatedFloat: CustomStringConvertible, CustomDebugStringConvertible, LosslessStringConvertible {
    /// The exact value, printed as the shortest binary64 decimal.
    public var description: String { _value.description }
    public var debugDescription: String { "\(Format.name)(\(_value.description))" }
    /// Parses as `Double`, then rounds once into the format.
    public init?(_ description: String) {
        guard let d = Double(description) else { return nil }
        self.init(d)
    }
}

extension SimulatedFloat: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    @inlinable public init(integerLiteral value: Int) { self.init(value) }
    /// The literal as parsed by the compiler (binary64), rounded once.
    @inlinable public init(floatLiteral value: Double) { self.init(value) }
}

extension SimulatedFloat: Strideable {
    @inlinable public func distance(to other: SimulatedFloat) -> SimulatedFloat { other - self }
    @inlinable public func advanced(by n: SimulatedFloat) -> SimulatedFloat { self + n }
}
