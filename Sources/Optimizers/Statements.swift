import Scalars
import LinearAlgebra

/// Elementwise statements under the cell's `ElementwiseModel` (ALGORITHMS.md §1.3 item 2): `per-op`
/// rounds every primitive operation to `T`; `fused` evaluates the whole statement in Float and rounds
/// once to `T` (PyTorch's fp16/bf16 kernels). For `T` at least as precise as Float (fp32, fp64, MPFR)
/// `fused` is per-op in `T`, as PyTorch computes fp32/fp64 tensors in their own type: evaluating a
/// Double statement in Float would lose precision, not model a kernel. Shared by Shampoo and Jorge.
enum Statement {
    @inlinable
    static func inFloat<T: Scalar>(_ fused: Bool, _: T.Type) -> Bool { fused && T.significandPrecision < 24 }

    /// `a·x + b·y`. With `a = 1` the per-op product is exact, so this is also `x + b·y`.
    @inlinable
    static func axpby<T: Scalar>(_ fused: Bool, _ a: T, _ x: T, _ b: T, _ y: T) -> T {
        inFloat(fused, T.self) ? T(Double(Float(a.doubleValue) * Float(x.doubleValue) + Float(b.doubleValue) * Float(y.doubleValue))) : a * x + b * y
    }

    /// `g / (√s + ε)` (AdaGrad graft).
    @inlinable
    static func adagrad<T: Scalar>(_ fused: Bool, _ g: T, _ s: T, _ eps: T) -> T {
        inFloat(fused, T.self) ? T(Double(Float(g.doubleValue) / (Float(s.doubleValue).squareRoot() + Float(eps.doubleValue)))) : g / (s.squareRoot() + eps)
    }

    /// `‖X‖_F` in `T`: squares and sum under the accumulation model, then one square root in `T`
    /// (§1.3 item 4: scalars from reductions are held in `T`).
    @inlinable
    static func frobenius<T: Scalar>(_ m: Matrix<T>, accumulation: AccumulationModel) -> T {
        let e = m.elements
        return (try! Reduction.dot(e, e, accumulation: accumulation)).squareRoot()
    }
}
