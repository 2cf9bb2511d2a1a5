@_exported import RealModule

/// The arithmetic that every optimizer and linear-algebra kernel of Mantissa is written against.
///
/// A conformer is a *format*: a set of representable numbers plus a rule that rounds every
/// operation into it. The same generic code then runs in `Float`, `Double`, `Float16`, the emulated
/// `BFloat16`, the simulated formats (`SimulatedFloat`) and the MPFR reference (`BigFloat`).
///
/// Why refine `Real` and not `BinaryFloatingPoint`: the MPFR reference has no fixed-width raw
/// significand, and generic numerics need elementary functions (`exp`, `log`, `pow`) that `Real`
/// supplies. Bit-level code lives in `where Self: BinaryFloatingPoint` extensions.
///
/// ## Contract
/// - `+ - * /`, `squareRoot()` and `fusedMultiplyAdd` are *correctly rounded* to the format under its
///   rounding rule (one rounding of the exact result). Elementary functions are faithful to the
///   format (computed wider, then rounded once) but not guaranteed correctly rounded.
/// - `init(_: Double)` rounds once, under the format's rounding rule.
/// - `doubleValue` is exact for every format whose numbers are all binary64 numbers; wider formats
///   (`BigFloat`) round to nearest.
public protocol Scalar: Real, Hashable, Sendable, CustomStringConvertible {
    /// Rounds `value` into the format (one rounding, under the format's rounding rule).
    init(_ value: Double)

    /// The value as a `Double`: exact where the format is contained in binary64.
    var doubleValue: Double { get }

    /// Short, stable name used in reports and study files, e.g. `"fp32"`, `"bf16"`, `"fp8-e4m3"`.
    static var formatName: String { get }

    /// Precision `p` in bits, hidden bit included (fp32: 24, bf16: 8, fp16: 11).
    static var significandPrecision: Int { get }

    /// Exponent of the largest finite binade, `emax` (fp32: 127, fp16: 15, e4m3fn: 8).
    static var maximumExponent: Int { get }

    /// Exponent of the smallest normal binade, `emin` (fp32: −126, fp16: −14).
    static var minimumNormalExponent: Int { get }

    /// Whether numbers below `2^emin` are represented gradually (subnormals) or flushed.
    static var hasSubnormals: Bool { get }

    /// Unit roundoff `u`: the bound on the relative error of one rounding of a value in the normal
    /// range. `2^-p` for round-to-nearest, `2^(1-p)` for directed, odd and stochastic rounding.
    static var unitRoundoff: Double { get }

    /// `a·b + c` with a single rounding.
    ///
    /// The stdlib's `addingProduct` on emulated types computes in a wider type and rounds twice, which is
    /// not a fused operation; conformers implement this one exactly.
    static func fusedMultiplyAdd(_ a: Self, _ b: Self, _ c: Self) -> Self
}

extension Scalar {
    /// The rounding-error constant `γ_n = n·u / (1 − n·u)`, with `u` = ``unitRoundoff`` of this format:
    /// the classical bound on the relative error accumulated by `n` roundings, e.g. of an `n`-term
    /// recursive sum or dot product (Higham, *Accuracy and Stability of Numerical Algorithms*, Lemma 3.1).
    ///
    /// Valid only while `n·u < 1`; returns `+∞` when `n·u ≥ 1`, where the bound says nothing.
    ///
    /// Named `gammaBound` rather than `gamma` so it cannot be confused with the Gamma function
    /// `gamma(_ x: Self)` of swift-numerics' `Real`, which every `Scalar` also has (an integer literal
    /// argument such as `T.gamma(70)` would silently resolve to `Γ(70)`).
    @inlinable
    public static func gammaBound(_ n: Int) -> Double {
        let nu = Double(n) * unitRoundoff
        return nu < 1 ? nu / (1 - nu) : .infinity
    }

    /// The largest finite value as a Double, `(2 − 2^(1−p))·2^emax` for IEEE-style formats.
    @inlinable
    public static var largestFiniteDouble: Double { greatestFiniteMagnitude.doubleValue }
}
