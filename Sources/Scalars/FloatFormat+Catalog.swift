// Ready-made formats, a rounding-mode wrapper, and the name registry.

/// OCP fp8 E4M3 ("e4m3fn"): p = 4, emax = 8, emin = −6, subnormals down to 2^−9, no infinities,
/// NaN = S.1111.111 so the largest finite value is 448 = 1.75·2^8. Non-saturating: overflow gives NaN.
public enum FP8E4M3Format: FloatFormat {
    public static var name: String { "fp8-e4m3" }
    @inlinable public static var precision: Int { 4 }
    @inlinable public static var maximumExponent: Int { 8 }
    @inlinable public static var minimumNormalExponent: Int { -6 }
    @inlinable public static var hasInfinities: Bool { false }
    @inlinable public static var overflow: OverflowBehaviour { .nan }
    @inlinable public static var greatestFiniteMagnitude: Double { 448 }
}

/// OCP fp8 E4M3 with saturating overflow (results beyond ±448 clamp to ±448).
public enum FP8E4M3SaturatingFormat: FloatFormat {
    public static var name: String { "fp8-e4m3-sat" }
    @inlinable public static var precision: Int { 4 }
    @inlinable public static var maximumExponent: Int { 8 }
    @inlinable public static var minimumNormalExponent: Int { -6 }
    @inlinable public static var hasInfinities: Bool { false }
    @inlinable public static var overflow: OverflowBehaviour { .saturate }
    @inlinable public static var greatestFiniteMagnitude: Double { 448 }
}

/// OCP fp8 E5M2: IEEE-like, p = 3, emax = 15, emin = −14, subnormals down to 2^−16, ±∞, max 57344.
public enum FP8E5M2Format: FloatFormat {
    public static var name: String { "fp8-e5m2" }
    @inlinable public static var precision: Int { 3 }
    @inlinable public static var maximumExponent: Int { 15 }
}

/// OCP fp8 E5M2 with saturating overflow (±57344).
public enum FP8E5M2SaturatingFormat: FloatFormat {
    public static var name: String { "fp8-e5m2-sat" }
    @inlinable public static var precision: Int { 3 }
    @inlinable public static var maximumExponent: Int { 15 }
    @inlinable public static var overflow: OverflowBehaviour { .saturate }
}

/// NVIDIA TensorFloat-32: binary32's range with p = 11 (10 stored bits).
public enum TF32Format: FloatFormat {
    public static var name: String { "tf32" }
    @inlinable public static var precision: Int { 11 }
    @inlinable public static var maximumExponent: Int { 127 }
}

/// bfloat16's parameters as a simulated format (p = 8, emax = 127): a cross-check of `BFloat16` and the
/// way to get bfloat16 with other rounding modes (`Rounded<BFloat16Format, Stochastic>`).
public enum BFloat16Format: FloatFormat {
    public static var name: String { "bf16-sim" }
    @inlinable public static var precision: Int { 8 }
    @inlinable public static var maximumExponent: Int { 127 }
}

/// binary16's parameters as a simulated format (p = 11, emax = 15).
public enum Float16Format: FloatFormat {
    public static var name: String { "fp16-sim" }
    @inlinable public static var precision: Int { 11 }
    @inlinable public static var maximumExponent: Int { 15 }
}

/// A type-level rounding mode, for `Rounded<Base, Mode>`.
public protocol RoundingModeTag: Sendable {
    static var mode: RoundingMode { get }
}
public enum NearestEven: RoundingModeTag { @inlinable public static var mode: RoundingMode { .nearestEven } }
public enum TowardZero: RoundingModeTag { @inlinable public static var mode: RoundingMode { .towardZero } }
public enum Upward: RoundingModeTag { @inlinable public static var mode: RoundingMode { .up } }
public enum Downward: RoundingModeTag { @inlinable public static var mode: RoundingMode { .down } }
public enum ToOdd: RoundingModeTag { @inlinable public static var mode: RoundingMode { .odd } }
public enum Stochastic: RoundingModeTag { @inlinable public static var mode: RoundingMode { .stochastic } }

/// `Base` with another rounding mode: `SimulatedFloat<Rounded<FP8E4M3Format, Stochastic>>`.
/// Its name is the base name plus `+` and the mode's short name (e.g. `fp8-e4m3+sr`).
public enum Rounded<Base: FloatFormat, Mode: RoundingModeTag>: FloatFormat {
    public static var name: String { "\(Base.name)+\(Mode.mode.shortName)" }
    @inlinable public static var precision: Int { Base.precision }
    @inlinable public static var maximumExponent: Int { Base.maximumExponent }
    @inlinable public static var minimumNormalExponent: Int { Base.minimumNormalExponent }
    @inlinable public static var hasSubnormals: Bool { Base.hasSubnormals }
    @inlinable public static var hasInfinities: Bool { Base.hasInfinities }
    @inlinable public static var overflow: OverflowBehaviour { Base.overflow }
    @inlinable public static var rounding: RoundingMode { Mode.mode }
    @inlinable public static var greatestFiniteMagnitude: Double { Base.greatestFiniteMagnitude }
}

public typealias FP8E4M3 = SimulatedFloat<FP8E4M3Format>
public typealias FP8E4M3Saturating = SimulatedFloat<FP8E4M3SaturatingFormat>
public typealias FP8E5M2 = SimulatedFloat<FP8E5M2Format>
public typealias FP8E5M2Saturating = SimulatedFloat<FP8E5M2SaturatingFormat>
public typealias TF32 = SimulatedFloat<TF32Format>

/// Scalar types by their `formatName`, for study files and command lines.
public enum ScalarFormats {
    /// Every registered scalar type (the MPFR reference `BigFloat` is registered by its own module).
    public static let all: [any Scalar.Type] = [
        Double.self, Float.self, Float16.self, BFloat16.self,
        TF32.self, FP8E4M3.self, FP8E4M3Saturating.self, FP8E5M2.self, FP8E5M2Saturating.self,
        SimulatedFloat<BFloat16Format>.self, SimulatedFloat<Float16Format>.self,
        SimulatedFloat<Rounded<BFloat16Format, Stochastic>>.self,
        SimulatedFloat<Rounded<Float16Format, Stochastic>>.self,
        SimulatedFloat<Rounded<FP8E4M3Format, Stochastic>>.self,
        SimulatedFloat<Rounded<FP8E5M2Format, Stochastic>>.self,
        SimulatedFloat<Rounded<TF32Format, Stochastic>>.self,
    ]

    /// The registered names, sorted.
    public static var names: [String] { all.map { $0.formatName }.sorted() }

    /// The scalar type whose `formatName` is `name`.
    /// - Throws: `FormatError.unknownFormat` listing the known names.
    public static func type(named name: String) throws(FormatError) -> any Scalar.Type {
        guard let t = all.first(where: { $0.formatName == name }) else {
            throw .unknownFormat(name: name, known: names)
        }
        return t
    }
}
