import Scalars
import LinearAlgebra

/// Which type holds and computes each role of an optimizer's state (Docs/PrecisionPolicies.md).
///
/// Roles: weights and gradients; Kronecker factors / statistics; inverses and roots; optimizer
/// moments (momentum, Adam's m and v). Values cross roles through Double (exact for every format
/// contained in binary64) and are rounded once into the destination type.
public protocol PrecisionPolicy: Sendable {
    associatedtype Weights: Scalar
    associatedtype Factors: Scalar
    associatedtype Inverses: Scalar
    associatedtype Moments: Scalar
}

extension PrecisionPolicy {
    /// e.g. `bf16` for a uniform policy, `w=bf16,f=fp32,i=fp32,m=bf16` otherwise.
    @inlinable public static var name: String {
        let names = [Weights.formatName, Factors.formatName, Inverses.formatName, Moments.formatName]
        return Set(names).count == 1 ? names[0]
            : "w=\(Weights.formatName),f=\(Factors.formatName),i=\(Inverses.formatName),m=\(Moments.formatName)"
    }
}

/// Everything in `T` — including Cholesky and inverses (claim R2's setting (c) for `BFloat16`, Docs/Claims.md).
public enum Uniform<T: Scalar>: PrecisionPolicy {
    public typealias Weights = T
    public typealias Factors = T
    public typealias Inverses = T
    public typealias Moments = T
}

/// Weights, gradients and moments in `T`; curvature factors and their inverses in Float — how the
/// SINGD paper ran KFAC "in bf16" (claim R2's setting (b), Docs/Claims.md).
public enum FloatCurvature<T: Scalar>: PrecisionPolicy {
    public typealias Weights = T
    public typealias Factors = Float
    public typealias Inverses = Float
    public typealias Moments = T
}

/// Arithmetic settings shared by every optimizer of a cell (Docs/Optimizers.md §1.3).
public struct ArithmeticSettings: Sendable, Hashable {
    /// Reductions (matrix products, dot products).
    public var accumulation: AccumulationModel
    /// Elementwise statements.
    public var elementwise: ElementwiseModel

    public init(accumulation: AccumulationModel = .perOperation, elementwise: ElementwiseModel = .perOperation) {
        self.accumulation = accumulation; self.elementwise = elementwise
    }

    public var name: String { "\(accumulation.name)/\(elementwise.rawValue)" }
}

/// How an elementwise statement such as `v ← β v + (1−β) g²` is rounded (§1.3 item 2).
public enum ElementwiseModel: String, Sendable, Hashable, CaseIterable, Codable {
    /// Every primitive operation rounded to the storage type.
    case perOperation = "per-op"
    /// The statement evaluated in Float and rounded once to the storage type (PyTorch's fp16/bf16 kernels).
    case fused
}

/// Converts through Double, rounding once into `U`.
@inlinable
public func convert<T: Scalar, U: Scalar>(_ m: Matrix<T>, to _: U.Type = U.self) -> Matrix<U> {
    if T.self == U.self { return m as! Matrix<U> }
    return m.converted(to: U.self)
}
