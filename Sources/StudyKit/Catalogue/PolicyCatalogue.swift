import Scalars
import Optimizers

/// Runs generic code for a precision policy chosen by name: the one place where a study's string
/// becomes a type (ARCHITECTURE: "generic over the scalar type T, chosen once, by name, in one switch").
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
        let run: @Sendable (any PolicyVisitorBox) throws -> Any
    }

    static func entry<P: PrecisionPolicy>(_ name: String, _ p: P.Type, _ summary: String) -> Entry {
        Entry(name: name, summary: summary, weightUnitRoundoff: P.Weights.unitRoundoff) { try $0.open(p) }
    }

    public static let entries: [Entry] = [
        entry("fp64", Uniform<Double>.self, "everything in binary64"),
        entry("fp32", Uniform<Float>.self, "everything in binary32"),
        entry("tf32", Uniform<TF32>.self, "everything in tf32 (p = 11, fp32 range), nearest-even"),
        entry("fp16", Uniform<Float16>.self, "everything in binary16, Cholesky included"),
        entry("fp16-sim+sr", Uniform<Float16SR>.self, "everything in binary16 with stochastic rounding"),
        entry("bf16", Uniform<BFloat16>.self, "everything in bfloat16, Cholesky and inverses included (R2 setting c)"),
        entry("bf16-sim+sr", Uniform<BFloat16SR>.self, "everything in bfloat16 with stochastic rounding"),
        entry("bf16/fp32-inverses", MixedPolicy<BFloat16, BFloat16, Float, BFloat16>.self,
              "bf16 weights, statistics and moments; inverses and roots in fp32 (R2 setting b)"),
        entry("bf16/fp32-curvature", FloatCurvature<BFloat16>.self, "bf16 weights and moments; factors and inverses in fp32"),
        entry("fp16/fp32-curvature", FloatCurvature<Float16>.self, "fp16 weights and moments; factors and inverses in fp32"),
        entry("fp8-e4m3/fp32-curvature", FloatCurvature<FP8E4M3>.self, "fp8 e4m3 weights and moments; factors and inverses in fp32"),
    ]

    public static var names: [String] { entries.map(\.name) }
    public static func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// Calls `visitor.visit(P.self)` for the policy named `name` (which must be valid: checked at parse time).
    public static func visit<V: PolicyVisitor>(_ name: String, _ visitor: V) throws -> V.Output {
        guard let e = entry(named: name) else { preconditionFailure("unvalidated precision \(name)") }
        return try e.run(Box(visitor)) as! V.Output
    }

    struct Box<V: PolicyVisitor>: PolicyVisitorBox {
        let visitor: V
        init(_ v: V) { visitor = v }
        func open<P: PrecisionPolicy>(_ p: P.Type) throws -> Any { try visitor.visit(p) }
    }
}

/// Type-erased visitor (so the catalogue's closures need not be generic over the visitor).
public protocol PolicyVisitorBox {
    func open<P: PrecisionPolicy>(_ p: P.Type) throws -> Any
}

/// The MPFR reference precisions that exist as types.
public enum ReferenceCatalogue {
    public static let bits = [64, 113, 256, 1024]

    public static func visit<V: PolicyVisitor>(bits: Int, _ visitor: V) throws -> V.Output {
        switch bits {
        case 64: try visitor.visit(Uniform<BigFloat64>.self)
        case 113: try visitor.visit(Uniform<BigFloat113>.self)
        case 256: try visitor.visit(Uniform<BigFloat256>.self)
        case 1024: try visitor.visit(Uniform<BigFloat1024>.self)
        default: preconditionFailure("unvalidated reference precision \(bits)")
        }
    }
}
