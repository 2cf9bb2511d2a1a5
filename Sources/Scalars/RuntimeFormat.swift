/// A binary floating-point format described by a value, chosen at run time: the same parameters as a
/// `FloatFormat` declaration (Docs/Scalars.md), but read from a study file or a command line instead of
/// being compiled into a type.
///
/// `RuntimeFloat` computes in such a format through the very code of `SimulatedFloat` (its format type
/// reads these parameters from the thread's `RuntimeFormats` table), so a run-time format and the
/// compile-time `SimulatedFloat<F>` with the same parameters round every operation identically, bit for
/// bit, stochastic rounding included (same seed, same stream, same draws).
///
/// ```swift
/// let e5m2 = try RuntimeFormat.named("fp8-e5m2")                 // a catalogue format
/// let mine = RuntimeFormat(name: "p10e5", precision: 10, maximumExponent: 15, rounding: .stochastic)
/// try mine.validate()
/// ```
public struct RuntimeFormat: Hashable, Sendable, Codable, CustomStringConvertible {
    /// How the top of the exponent range is used.
    public enum Encoding: String, Sendable, Hashable, CaseIterable {
        /// IEEE 754: the all-ones exponent holds ±∞ and NaN; largest finite `(2 − 2^(1−p))·2^emax`.
        case ieee
        /// "fn" (finite, NaN only), as OCP fp8 e4m3fn: no infinities, the all-ones exponent holds finite
        /// numbers except the all-ones pattern, which is NaN; largest finite `(2 − 2^(2−p))·2^emax`.
        case fn
    }

    /// Short name used in reports, e.g. `"fp8-e5m2"`, `"bf16+sr"`, or the study's own name.
    public var name: String
    /// Precision `p` in bits, hidden bit included.
    public var precision: Int
    /// Exponent of the largest finite binade, `emax`.
    public var maximumExponent: Int
    /// Exponent of the smallest normal binade, `emin`.
    public var minimumNormalExponent: Int
    /// Gradual underflow below `2^emin`.
    public var hasSubnormals: Bool
    /// Whether ±∞ are members.
    public var hasInfinities: Bool
    /// What a result beyond the largest finite value becomes.
    public var overflow: OverflowBehaviour
    /// The rounding mode of every operation (stochastic rounding draws from `StochasticRounding.current`).
    public var rounding: RoundingMode
    /// The largest finite member.
    public var greatestFiniteMagnitude: Double

    /// A format from its parameters, with the defaults of `FloatFormat`: emin = 1 − emax, subnormals,
    /// IEEE encoding, overflow to ∞ (to NaN for the fn encoding), nearest-even rounding.
    public init(name: String, precision: Int, maximumExponent: Int, minimumNormalExponent: Int? = nil,
                hasSubnormals: Bool = true, encoding: Encoding = .ieee, overflow: OverflowBehaviour? = nil,
                rounding: RoundingMode = .nearestEven) {
        self.name = name
        self.precision = precision
        self.maximumExponent = maximumExponent
        self.minimumNormalExponent = minimumNormalExponent ?? 1 - maximumExponent
        self.hasSubnormals = hasSubnormals
        self.hasInfinities = encoding == .ieee
        self.overflow = overflow ?? (encoding == .ieee ? .infinity : .nan)
        self.rounding = rounding
        // Exponents outside binary64's range are rejected by `validate()`; clamp here so that the
        // power of two below is built from valid bits and the error names the parameter, not a NaN.
        let emax = min(max(maximumExponent, -1000), 1000), p = min(max(precision, 2), 52)
        self.greatestFiniteMagnitude = _pow2(emax) * (2 - _pow2((encoding == .ieee ? 1 : 2) - p))
    }

    /// The parameters of a compile-time format declaration, with its name and rounding mode.
    public init<F: FloatFormat>(_: F.Type) {
        name = F.name
        precision = F.precision
        maximumExponent = F.maximumExponent
        minimumNormalExponent = F.minimumNormalExponent
        hasSubnormals = F.hasSubnormals
        hasInfinities = F.hasInfinities
        overflow = F.overflow
        rounding = F.rounding
        greatestFiniteMagnitude = F.greatestFiniteMagnitude
    }

    /// The same format with another rounding mode, named `base+mode` (e.g. `bf16+sr`) unless a name is given.
    public func rounded(_ mode: RoundingMode, name: String? = nil) -> RuntimeFormat {
        var f = self
        f.rounding = mode
        f.name = name ?? (mode == .nearestEven ? self.name : "\(self.name)+\(mode.shortName)")
        return f
    }

    /// The parameters as the rounding code reads them.
    public var parameters: _FormatParameters {
        _FormatParameters(precision: precision, maximumExponent: maximumExponent, minimumNormalExponent: minimumNormalExponent,
                          greatestFiniteMagnitude: greatestFiniteMagnitude, hasSubnormals: hasSubnormals,
                          hasInfinities: hasInfinities, overflow: overflow, rounding: rounding)
    }

    /// Which encoding the parameters describe: `.fn` when there are no infinities and the largest finite
    /// value is `(2 − 2^(2−p))·2^emax`; `.ieee` otherwise.
    public var encoding: Encoding {
        !hasInfinities && greatestFiniteMagnitude == _pow2(maximumExponent) * (2 - _pow2(2 - precision)) ? .fn : .ieee
    }

    /// Unit roundoff: 2^−p for round to nearest, 2^(1−p) for the other modes.
    public var unitRoundoff: Double { rounding.isNearest ? _pow2(-precision) : _pow2(1 - precision) }

    /// Every parameter, in the canonical form that manifests and cache keys record:
    /// `p=8 emax=127 emin=-126 subnormals=yes infinities=yes max=3.3895313892515355e+38 overflow=infinity rounding=sr`.
    public var parameterDescription: String {
        "p=\(precision) emax=\(maximumExponent) emin=\(minimumNormalExponent) subnormals=\(hasSubnormals ? "yes" : "no") "
            + "infinities=\(hasInfinities ? "yes" : "no") max=\(greatestFiniteMagnitude) overflow=\(overflow.rawValue) "
            + "rounding=\(rounding.shortName)"
    }

    /// `name (parameters)`.
    public var description: String { "\(name) (\(parameterDescription))" }

    /// Checks that the parameters describe a format the simulation emulates exactly (the rules of
    /// `FloatFormat.validate()`, which calls this).
    /// - Throws: `FormatError.invalidParameter` naming the format, the parameter and its value.
    public func validate() throws(FormatError) {
        func bad(_ parameter: String, _ value: String, _ reason: String) -> FormatError {
            .invalidParameter(format: name, parameter: parameter, value: value, reason: reason)
        }
        let p = precision, emax = maximumExponent, emin = minimumNormalExponent
        if name.isEmpty { throw bad("name", "\"\"", "must not be empty") }
        if p < 2 || p > 25 {
            throw bad("precision", "\(p)", "must be in 2...25 (hidden bit included; products must be exact in binary64)")
        }
        if emax < 1 || emax > 300 { throw bad("maximumExponent", "\(emax)", "must be in 1...300") }
        if emin > 0 || emin < -300 { throw bad("minimumNormalExponent", "\(emin)", "must be in -300...0") }
        if emin >= emax {
            throw bad("minimumNormalExponent", "\(emin)", "must be below maximumExponent (\(emax))")
        }
        if overflow == .infinity && !hasInfinities {
            throw bad("overflow", ".infinity", "a format without infinities must saturate or give NaN")
        }
        let m = greatestFiniteMagnitude
        let quantum = _pow2(emax - p + 1)
        if !(m >= _pow2(emax)) || !(m < _pow2(emax + 1)) || (m / quantum).rounded(.towardZero) != m / quantum {
            throw bad("greatestFiniteMagnitude", "\(m)",
                      "must be a \(p)-bit number in the top binade [2^\(emax), 2^\(emax + 1))")
        }
    }
}

extension RuntimeFormat {
    /// The formats a study may name, with nearest-even rounding. `fp32`, `bf16` and `fp16` here are the
    /// parameters of binary32, bfloat16 and binary16 computed by the simulation (correctly rounded
    /// `+ − × ÷ √ fma`, elementary functions in binary64 rounded once); the compiled `Float`, `BFloat16`
    /// and `Float16` may differ from them in elementary functions and in BLAS summation orders.
    public static let catalogue: [RuntimeFormat] = [
        RuntimeFormat(name: "fp32", precision: 24, maximumExponent: 127),
        RuntimeFormat(name: "bf16", precision: 8, maximumExponent: 127),
        RuntimeFormat(name: "fp16", precision: 11, maximumExponent: 15),
        RuntimeFormat(TF32Format.self),
        RuntimeFormat(FP8E4M3Format.self),
        RuntimeFormat(FP8E4M3SaturatingFormat.self),
        RuntimeFormat(FP8E5M2Format.self),
        RuntimeFormat(FP8E5M2SaturatingFormat.self),
    ]

    /// The catalogue's names, with the rounding suffixes `named(_:)` accepts.
    public static var catalogueNames: [String] { catalogue.map(\.name) }

    /// A catalogue format by name, optionally with a rounding suffix: `bf16`, `fp8-e5m2+sr`, `fp16+rz`
    /// (suffixes are the short names of `RoundingMode`: rne, rz, ru, rd, ro, sr).
    /// - Throws: `FormatError.unknownFormat` listing the known names.
    public static func named(_ name: String) throws(FormatError) -> RuntimeFormat {
        let parts = name.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let known = catalogueNames.map { "\($0)[+\(RoundingMode.allCases.map(\.shortName).joined(separator: "|"))]" }
        guard let base = catalogue.first(where: { $0.name == parts[0] }) else {
            throw .unknownFormat(name: name, known: known)
        }
        guard parts.count == 2 else { return base }
        guard let mode = RoundingMode.allCases.first(where: { $0.shortName == parts[1] }) else {
            throw .unknownFormat(name: name, known: known)
        }
        return base.rounded(mode, name: name)
    }
}
