import Scalars

/// Pointwise nonlinearities, evaluated in `T` (elementary functions of `Real`, faithful in `T`).
public enum Activation: String, CaseIterable, Sendable, Hashable, Codable {
    case identity, tanh, relu, sigmoid, gelu

    @inlinable
    public func apply<T: Scalar>(_ x: T) -> T {
        switch self {
        case .identity: x
        case .tanh: T.tanh(x)
        case .relu: x > 0 ? x : T.zero
        case .sigmoid: 1 / (1 + T.exp(-x))
        case .gelu: x * (1 + T.erf(x / T.sqrt(2))) / 2
        }
    }

    /// φ'(s), from the pre-activation `s` and the activation value `a = φ(s)` (whichever is cheaper).
    @inlinable
    public func derivative<T: Scalar>(preActivation s: T, activation a: T) -> T {
        switch self {
        case .identity: 1
        case .tanh: 1 - a * a
        case .relu: s > 0 ? 1 : T.zero
        case .sigmoid: a * (1 - a)
        case .gelu:
            // Φ(s) + s·φ(s), φ the standard normal density
            (1 + T.erf(s / T.sqrt(2))) / 2 + s * T.exp(-(s * s) / 2) / T.sqrt(2 * T.pi)
        }
    }
}

/// Per-sample losses; the training loss is their mean (Docs/Optimizers.md §1.1).
public enum LossFunction: String, CaseIterable, Sendable, Hashable, Codable {
    /// ℓ_n = logsumexp(s_n) − s_n[y_n], computed with the maximum subtracted (finite for any finite logits).
    case crossEntropy = "cross-entropy"
    /// ℓ_n = ½‖s_n − y_n‖² (the ½ makes ĝ_n = s_n − y_n and the GGN's loss Hessian the identity).
    case meanSquaredError = "mse"
}
