import LinearAlgebra
import Networks
import Optimizers

/// Any optimizer for policy `P`, behind one concrete type, so a cell can hold "the optimizer the study
/// named" without knowing which struct it is.
public final class ErasedOptimizer<P: PrecisionPolicy> {
    public let name: String
    public let constants: RoundedConstants
    /// Whether `step` needs the batch's `CurvatureAccess` (KFAC-LM); the caller may pass nil otherwise.
    public let needsCurvature: Bool
    private let stepper: (inout [Matrix<P.Weights>], [LayerStatistics<P.Weights>], Int, Double, CurvatureAccess<P.Weights>?) throws(ShapeError) -> StepReport
    private let exporter: () -> OptimizerState
    private let importer: (OptimizerState) throws(OptimizerStateError) -> Void

    public init<O: Optimizer>(_ optimizer: O) where O.Policy == P {
        var o = optimizer      // one box shared by the three closures
        name = o.name
        constants = o.constants
        needsCurvature = false
        stepper = { (w: inout [Matrix<P.Weights>], l: [LayerStatistics<P.Weights>], t: Int, _: Double, _: CurvatureAccess<P.Weights>?) throws(ShapeError) -> StepReport in
            try o.step(weights: &w, layers: l, step: t)
        }
        exporter = { o.exportState() }
        importer = { (s: OptimizerState) throws(OptimizerStateError) in try o.importState(s) }
    }

    /// MKOR-H decides its switch from the losses (§8.7), which the optimizer protocol does not pass.
    init(_ optimizer: MKOR<P>, observesLoss: Bool) {
        var o = optimizer
        name = o.name
        constants = o.constants
        needsCurvature = false
        stepper = { (w: inout [Matrix<P.Weights>], l: [LayerStatistics<P.Weights>], t: Int, loss: Double, _: CurvatureAccess<P.Weights>?) throws(ShapeError) -> StepReport in
            if observesLoss { o.observe(loss: loss) }
            return try o.step(weights: &w, layers: l, step: t)
        }
        exporter = { o.exportState() }
        importer = { (s: OptimizerState) throws(OptimizerStateError) in try o.importState(s) }
    }

    /// KFAC; in KFAC-LM (`finish = lm`) it needs the batch's loss and GGN products (§4.4 steps 4'–6'),
    /// which the optimizer protocol does not pass.
    init(kfac optimizer: KFAC<P>) {
        var o = optimizer
        name = o.name
        constants = o.constants
        needsCurvature = o.hyperparameters.finish == .lm
        stepper = { (w: inout [Matrix<P.Weights>], l: [LayerStatistics<P.Weights>], t: Int, _: Double, c: CurvatureAccess<P.Weights>?) throws(ShapeError) -> StepReport in
            try o.step(weights: &w, layers: l, step: t, curvature: c)
        }
        exporter = { o.exportState() }
        importer = { (s: OptimizerState) throws(OptimizerStateError) in try o.importState(s) }
    }

    /// One step; `loss` is the batch loss of this step, in Double (used only by loss-aware methods);
    /// `curvature` the batch's loss and GGN products (used only when `needsCurvature`).
    public func step(weights: inout [Matrix<P.Weights>], layers: [LayerStatistics<P.Weights>], step t: Int, loss: Double,
                     curvature: CurvatureAccess<P.Weights>? = nil) throws(ShapeError) -> StepReport {
        try stepper(&weights, layers, t, loss, curvature)
    }

    /// The wrapped optimizer's complete state (`Optimizer.exportState`): exact for every policy whose
    /// types are contained in binary64; draws no stochastic-rounding bits.
    public func exportState() -> OptimizerState { exporter() }

    /// Replaces the wrapped optimizer's state by one the same configuration exported in any policy
    /// (`Optimizer.importState`); on error the optimizer is unchanged.
    public func importState(_ state: OptimizerState) throws(OptimizerStateError) { try importer(state) }
}
