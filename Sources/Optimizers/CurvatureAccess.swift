import Scalars
import LinearAlgebra
import Networks

/// What a second-order finish needs from the model on the current mini-batch (KFAC-LM, Docs/Optimizers.md
/// §4.4 steps 4'–6'): the batch loss at displaced weights and GGN-vector products.
///
/// Both are evaluated in the weights' type `T` with the model's own accumulation model; the optimizer
/// decides in which type it combines the results.
public struct CurvatureAccess<T: Scalar>: Sendable {
    /// Mean loss of the batch at `weights` (without any regularisation term).
    public let loss: @Sendable (_ weights: [Matrix<T>]) throws(NetworkError) -> T
    /// `G v` for the exact GGN `G` (Fisher for softmax cross-entropy) of the batch's mean loss at `weights`.
    public let ggnProduct: @Sendable (_ weights: [Matrix<T>], _ direction: [Matrix<T>]) throws(NetworkError) -> [Matrix<T>]

    @inlinable
    public init(loss: @escaping @Sendable ([Matrix<T>]) throws(NetworkError) -> T,
                ggnProduct: @escaping @Sendable ([Matrix<T>], [Matrix<T>]) throws(NetworkError) -> [Matrix<T>]) {
        self.loss = loss; self.ggnProduct = ggnProduct
    }

    /// The access of an MLP of architecture `network` on the batch `(inputs, targets)`
    /// (`MLP.loss`, `MLP.ggnProduct`, with products under `accumulation`).
    @inlinable
    public init(network: MLPSpec, accumulation: AccumulationModel, inputs: Matrix<T>, targets: Targets<T>) {
        loss = { (w: [Matrix<T>]) throws(NetworkError) -> T in
            try MLP(spec: network, weights: w, accumulation: accumulation).loss(inputs, targets: targets)
        }
        ggnProduct = { (w: [Matrix<T>], v: [Matrix<T>]) throws(NetworkError) -> [Matrix<T>] in
            try MLP(spec: network, weights: w, accumulation: accumulation).ggnProduct(inputs, targets: targets, direction: v)
        }
    }
}
