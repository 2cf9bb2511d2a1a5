import Scalars
import Optimizers

/// Runs generic code for a precision policy chosen by name: the one place where a study's string
/// becomes a type (Docs/PrecisionPolicies.md: code is generic over the scalar type, chosen once, by name, in one switch).
public protocol PolicyVisitor {
    associatedtype Output
    func visit<P: PrecisionPolicy>(_ policy: P.Type) throws -> Output
}

/// Weights, factors, inverses and moments each in their own type.
public enum MixedPolicy<W: Scalar, F: Scalar, I: Scalar, M: Scalar>: PrecisionPolicy {
    public typealias Weights = W
    public typealias Factors = F
    public typealias Inverses = I
    public typealias Moments = M
}

public typealias BFloat16SR = SimulatedFloat<Rounded<BFloat16Format, Stochastic>>
public typealias Float16SR = SimulatedFloat<Rounded<Float16Format, Stochastic>>

/// The precision policies a study may name.
public enum PolicyCatalogue {
    public struct Entry: Sendable {
        public let name: String
        public let summary: String
        /// The unit roundoff of the weights' type (used by verdicts and plots).
        public let weightUnitRoundoff: Double
    }

    /// Calls `visitor.visit(P.self)` with the policy type named `name`; nil for an unknown name.
    ///
    /// The one switch from names to types. It is generic over the visitor, so each call site with a
    /// concrete visitor gets its own copy in which every `visit` is a direct call with a concrete
    /// policy, and the optimizer, network and linear-algebra code under it is specialised for that
    /// policy. (A table of closures over a type-erased visitor cannot do that: the visitor's generic
    /// `visit` is then reached through an existential and runs unspecialised, with every scalar
    /// operation a witness call; measured in the profile of R2 before this switch existed.)
    @inline(__always)
    static func dispatch<V: PolicyVisitor>(_ name: String, _ visitor: V) throws -> V.Output? {
        switch name {
        case "fp64": try visitor.visit(Uniform<Double>.self)
        case "fp32": try visitor.visit(Uniform<Float>.self)
        case "tf32": try visitor.visit(Uniform<TF32>.self)
        case "fp16": try visitor.visit(Uniform<Float16>.self)
        // A run-time format (`RolePrecision`): the compiled `SimulatedFloat` type's arithmetic, bit for bit
        // (tests), without a specialisation of every optimizer of its own in the build.
        case "fp16-sim+sr": try RolePrecision(uniform: RuntimeFormat(Rounded<Float16Format, Stochastic>.self), name: name).visit(visitor)
        case "bf16": try visitor.visit(Uniform<BFloat16>.self)
        case "bf16-sim+sr": try visitor.visit(Uniform<BFloat16SR>.self)
        case "bf16/fp32-inverses": try visitor.visit(MixedPolicy<BFloat16, BFloat16, Float, BFloat16>.self)
        case "bf16/fp32-curvature": try visitor.visit(FloatCurvature<BFloat16>.self)
        case "fp16/fp32-curvature": try visitor.visit(FloatCurvature<Float16>.self)
        case "fp8-e4m3/fp32-curvature": try visitor.visit(FloatCurvature<FP8E4M3>.self)
        default: nil
        }
    }

    /// The catalogue, in the order reports list it: each name must have its case in `dispatch`.
    static let described: [(name: String, summary: String)] = [
        ("fp64", "everything in binary64"),
        ("fp32", "everything in binary32"),
        ("tf32", "everything in tf32 (p = 11, fp32 range), nearest-even"),
        ("fp16", "everything in binary16, Cholesky included"),
        ("fp16-sim+sr", "everything in binary16 with stochastic rounding (a run-time format)"),
        ("bf16", "everything in bfloat16, Cholesky and inverses included (R2 setting c)"),
        ("bf16-sim+sr", "everything in bfloat16 with stochastic rounding"),
        ("bf16/fp32-inverses", "bf16 weights, statistics and moments; inverses and roots in fp32 — KFAC's inverses, SINGD/IKFAC's K and C, Jorge's and Shampoo's roots, MKOR's inverses (R2 setting b)"),
        ("bf16/fp32-curvature", "bf16 weights and moments; factors and inverses in fp32"),
        ("fp16/fp32-curvature", "fp16 weights and moments; factors and inverses in fp32"),
        ("fp8-e4m3/fp32-curvature", "fp8 e4m3 weights and moments; factors and inverses in fp32"),
    ]

    struct WeightUnitRoundoff: PolicyVisitor {
        func visit<P: PrecisionPolicy>(_: P.Type) -> Double { P.Weights.unitRoundoff }
    }

    public static let entries: [Entry] = described.map { d in
        guard let u = try? dispatch(d.name, WeightUnitRoundoff()) else {
            preconditionFailure("precision \(d.name) is described but has no case in PolicyCatalogue.dispatch")
        }
        return Entry(name: d.name, summary: d.summary, weightUnitRoundoff: u)
    }

    public static var names: [String] { entries.map(\.name) }
    public static func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// Calls `visitor.visit(P.self)` for the policy named `name` (which must be valid: checked at parse time).
    public static func visit<V: PolicyVisitor>(_ name: String, _ visitor: V) throws -> V.Output {
        guard let output = try dispatch(name, visitor) else { preconditionFailure("unvalidated precision \(name)") }
        return output
    }
}

/// The reference precisions that exist as types: MPFR at 64…1024 bits, and binary64 (53 bits) for a
/// problem too large for an MPFR run of every cell's trajectory — a control whose own rounding
/// (u = 1.1e-16) is far below that of the formats it checks, though not exact arithmetic.
public enum ReferenceCatalogue {
    public static let bits = [53, 64, 113, 256, 1024]

    /// How reports name the reference: `MPFR-113`, or `fp64` for 53 bits.
    public static func name(bits: Int) -> String { bits == 53 ? "fp64" : "MPFR-\(bits)" }

    public static func visit<V: PolicyVisitor>(bits: Int, _ visitor: V) throws -> V.Output {
        switch bits {
        case 53: try visitor.visit(Uniform<Double>.self)
        case 64: try visitor.visit(Uniform<BigFloat64>.self)
        case 113: try visitor.visit(Uniform<BigFloat113>.self)
        case 256: try visitor.visit(Uniform<BigFloat256>.self)
        case 1024: try visitor.visit(Uniform<BigFloat1024>.self)
        default: preconditionFailure("unvalidated reference precision \(bits)")
        }
    }
}
