import Scalars
import Optimizers

/// A precision declared in a study file, role by role, with formats chosen at run time
/// (Docs/StudyFormat.md, "Precisions declared role by role"):
///
/// ```toml
/// precisions = ["fp32", { name = "e5m2-w", weights = "fp8-e5m2", factors = "bf16", inverses = "fp32", moments = "bf16" },
///               { name = "p10e5-sr", all = { precision = 10, emax = 15, rounding = "stochastic" } }]
/// ```
///
/// Every role computes through `RuntimeFloat` (the simulated arithmetic of `SimulatedFloat`, with the
/// parameters read at run time), so any combination runs without recompiling. The compiled catalogue
/// policies keep their own fast types; a declared `fp32` role is binary32's format simulated, which
/// rounds every `+ − × ÷ √ fma` exactly as `Float` does but may differ from it in elementary functions
/// and in BLAS summation orders.
public struct RolePrecision: Sendable, Hashable, Codable {
    /// The name reports, verdicts and cell labels use.
    public var name: String
    public var weights: RuntimeFormat
    public var factors: RuntimeFormat
    public var inverses: RuntimeFormat
    public var moments: RuntimeFormat

    public init(name: String, weights: RuntimeFormat, factors: RuntimeFormat, inverses: RuntimeFormat, moments: RuntimeFormat) {
        self.name = name; self.weights = weights; self.factors = factors; self.inverses = inverses; self.moments = moments
    }

    /// Every role in `format`.
    public init(uniform format: RuntimeFormat, name: String) {
        self.init(name: name, weights: format, factors: format, inverses: format, moments: format)
    }

    /// In slot order: `RuntimeSlot0` … `RuntimeSlot3` hold weights, factors, inverses, moments.
    public var formats: [RuntimeFormat] { [weights, factors, inverses, moments] }

    /// Whether every role has the same parameters. Such a precision runs as one type for all roles
    /// (`Uniform`), so it converts nothing between roles and, under stochastic rounding, draws exactly
    /// the random numbers a compiled uniform policy of that format draws.
    public var isUniform: Bool { Set(formats.map(\.parameterDescription)).count == 1 }

    /// Each role's name and every parameter: what reports and manifests record, and what cell keys
    /// contain (so a changed parameter is a new cell, never a cached one).
    public var summary: String {
        let roles = [("weights", weights), ("factors", factors), ("inverses", inverses), ("moments", moments)]
        return roles.map { "\($0.0) \($0.1.name) (\($0.1.parameterDescription))" }.joined(separator: "; ")
    }

    /// Runs `visitor` with this precision's policy type, its formats in the calling thread's table.
    func visit<V: PolicyVisitor>(_ visitor: V) throws -> V.Output {
        try RuntimeFormats.withFormats(formats) {
            if isUniform {
                try visitor.visit(Uniform<RuntimeFloat<RuntimeSlot0>>.self)
            } else {
                try visitor.visit(MixedPolicy<RuntimeFloat<RuntimeSlot0>, RuntimeFloat<RuntimeSlot1>,
                                              RuntimeFloat<RuntimeSlot2>, RuntimeFloat<RuntimeSlot3>>.self)
            }
        }
    }
}

/// Reading declared formats out of a study file: a catalogue name (`"bf16"`, `"fp8-e5m2+sr"`) or a table
/// of parameters. Errors name the field and the value.
enum RolePrecisionParser {
    static let roles = ["weights", "factors", "inverses", "moments"]

    /// `{ name = …, weights = …, factors = …, inverses = …, moments = … }` or `{ name = …, all = … }`.
    static func parse(_ value: ConfigValue, file: String, path: String) throws(StudyError) -> RolePrecision {
        var t = try TableReader(file: file, path: path, value)
        let name = try t.string("name")
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.+/".contains($0) }) else {
            throw StudyError(file: file, field: "\(path).name", value: "\"\(name)\"",
                             reason: "must be a non-empty name of letters, digits and - _ . + /")
        }
        if PolicyCatalogue.entry(named: name) != nil {
            throw StudyError(file: file, field: "\(path).name", value: "\"\(name)\"",
                             reason: "is a catalogue precision; a declared precision needs a name of its own")
        }
        var formats: [RuntimeFormat] = []
        if let all = t.raw("all") {
            let given = roles.filter { t.table[$0] != nil }
            if let role = given.first {
                throw StudyError(file: file, field: "\(path).\(role)", value: t.table[role]!.description,
                                 reason: "give either `all` or the four roles, not both")
            }
            formats = Array(repeating: try format(all, file: file, path: "\(path).all"), count: 4)
        } else {
            for role in roles {
                guard let v = t.raw(role) else {
                    throw StudyError(file: file, field: "\(path).\(role)", value: "(missing)",
                                     reason: "a declared precision gives weights, factors, inverses and moments (or `all`)")
                }
                formats.append(try format(v, file: file, path: "\(path).\(role)"))
            }
        }
        try t.finish()
        return RolePrecision(name: name, weights: formats[0], factors: formats[1], inverses: formats[2], moments: formats[3])
    }

    /// One role's format: a catalogue name with an optional rounding suffix, or a parameter table.
    static func format(_ value: ConfigValue, file: String, path: String) throws(StudyError) -> RuntimeFormat {
        if case .string(let s) = value {
            do { return try RuntimeFormat.named(s) } catch {
                throw StudyError(file: file, field: path, value: "\"\(s)\"",
                                 reason: "unknown format (known: \(RuntimeFormat.catalogueNames.joined(separator: ", ")), each optionally with +rz, +ru, +rd, +ro or +sr)")
            }
        }
        var t = try TableReader(file: file, path: path, value)
        let precision = try t.int("precision", range: 2...25)
        let emax = try t.int("emax", range: 1...300)
        let emin = try t.int("emin", default: 1 - emax, range: -300...0)
        let encoding = RuntimeFormat.Encoding(rawValue: try t.string("encoding", default: "ieee",
                                                                     allowed: RuntimeFormat.Encoding.allCases.map(\.rawValue)))!
        let overflowDefault: OverflowBehaviour = encoding == .ieee ? .infinity : .nan
        let overflow = OverflowBehaviour(rawValue: try t.string("overflow", default: overflowDefault.rawValue,
                                                                allowed: OverflowBehaviour.allCases.map(\.rawValue)))!
        let roundingNames = ["nearest-even", "toward-zero", "up", "down", "odd", "stochastic"]
        let rounding = RoundingMode.allCases[roundingNames.firstIndex(of: try t.string("rounding", default: "nearest-even",
                                                                                        allowed: roundingNames))!]
        let subnormals = try t.bool("subnormals", default: true)
        let name = try t.optionalString("name")
            ?? "p\(precision)e\(emax)" + (rounding == .nearestEven ? "" : "+\(rounding.shortName)")
        try t.finish()
        let f = RuntimeFormat(name: name, precision: precision, maximumExponent: emax, minimumNormalExponent: emin,
                              hasSubnormals: subnormals, encoding: encoding, overflow: overflow, rounding: rounding)
        do { try f.validate() } catch {
            guard case let .invalidParameter(_, parameter, value, reason) = error else {
                throw StudyError(file: file, field: path, value: value.description, reason: "\(error)")
            }
            let key = ["precision": "precision", "maximumExponent": "emax", "minimumNormalExponent": "emin",
                       "overflow": "overflow", "greatestFiniteMagnitude": "encoding", "name": "name"][parameter] ?? parameter
            throw StudyError(file: file, field: "\(path).\(key)", value: key == "overflow" ? "\"\(overflow.rawValue)\"" : value, reason: reason)
        }
        return f
    }
}
