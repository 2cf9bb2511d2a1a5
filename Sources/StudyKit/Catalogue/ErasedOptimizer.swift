import LinearAlgebra
import Networks
import Optimizers

/// Any optimizer for policy `P`, behind one concrete type, so a cell can hold "the optimizer the study
/// named" without knowing which struct it is.
public final class ErasedOptimizer<P: PrecisionPolicy> {
    public let name: String
    public let constants: RoundedConstants
    private let stepper: (inout [Matrix<P.Weights>], [LayerStatistics<P.Weights>], Int) throws(ShapeError) -> StepReport

    public init<O: Optimizer>(_ optimizer: O) where O.Policy == P {
        var o = optimizer
        name = o.name
        constants = o.constants
        stepper = { (w: inout [Matrix<P.Weights>], l: [LayerStatistics<P.Weights>], t: Int) throws(ShapeError) -> StepReport in
            try o.step(weights: &w, layers: l, step: t)
        }
    }

    public func step(weights: inout [Matrix<P.Weights>], layers: [LayerStatistics<P.Weights>], step t: Int) throws(ShapeError) -> StepReport {
        try stepper(&weights, layers, t)
    }
}
