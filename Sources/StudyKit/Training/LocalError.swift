import Foundation
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// What the reference precision computes from a low-precision cell's point at step t: the gradient
/// at the cell's weights and the update of one reference step from the cell's optimizer state.
struct LocalReference: Sendable {
    /// Event kind recorded when the reference step gives no usable update (`local_error` is then NaN).
    static let failureEvent = "local-error-unavailable"

    /// ∇ of the batch loss at the cell's weights, flattened layer by layer, rounded to Double.
    var gradient: [Double]?
    /// Δθ_ref = θ_ref − θ, formed in the reference precision and rounded once to Double (forming it
    /// from Double-rounded weights would add an error of u_fp64·‖θ‖/‖Δθ‖, large for small steps).
    var delta: [Double]?
    /// Why `delta` (and possibly `gradient`) is missing.
    var failure: String?
}

/// One reference step from a low-precision cell's state (the *one-step local error*).
///
/// The cell's weights (exact in Double) and its exported optimizer state (`OptimizerState`, exact in
/// Double) are imported into MPFR — exactly, since `BigFloat` holds every Double — and the same
/// optimizer configuration, built for the reference policy with the reference's settings (per-op
/// accumulation and elementwise statements, as `ReferenceVisitor`), takes one step on the same batch.
/// One backward pass gives both the reference gradient (for `local_gradient_error`) and the layer
/// statistics of the step; the reference step's monitors and events are not kept. Cost: one backward
/// pass and one optimizer step in MPFR per shadowed step (a `BigFloat` Cholesky per KFAC refresh), which
/// is why studies bound `reference_steps`.
/// Failures (the state does not import, a shape error, a fallback abort, non-finite values) are
/// returned as a reason, never thrown or crashed on.
struct ReferenceLocalStep: PolicyVisitor {
    let network: MLPSpec
    let weights: [Matrix<Double>]
    let data: Dataset
    let indices: [Int]
    let optimizer: OptimizerConfig
    let state: OptimizerState
    let step: Int

    func visit<P: PrecisionPolicy>(_: P.Type) throws -> LocalReference {
        typealias W = P.Weights
        var out = LocalReference()
        let start = weights.map { $0.converted(to: W.self) }
        let backward: BackwardResult<W>
        let batch = Batch<W>(data, indices: indices)
        do {
            let net = try MLP<W>(spec: network, weights: start, accumulation: .perOperation)
            backward = try net.backward(batch.inputs, targets: batch.targets)
        } catch {
            out.failure = "reference backward failed: \(error)"
            return out
        }
        out.gradient = backward.layers.flatMap { $0.gradient.elements.map(\.doubleValue) }
        let settings = ArithmeticSettings(accumulation: .perOperation, elementwise: .perOperation)
        do {
            let opt = try OptimizerCatalogue.make(optimizer, settings: settings, policy: P.self)
            try opt.importState(state)
            var w = start
            let curvature = opt.needsCurvature
                ? CurvatureAccess(network: network, accumulation: .perOperation, inputs: batch.inputs, targets: batch.targets) : nil
            let report = try opt.step(weights: &w, layers: backward.layers, step: step, loss: backward.loss.doubleValue, curvature: curvature)
            if report.aborted {
                out.failure = "reference step aborted by the fallback policy: " + report.events.map(\.description).joined(separator: "; ")
                return out
            }
            var delta = [Double]()
            delta.reserveCapacity(weights.reduce(0) { $0 + $1.count })
            for (after, before) in zip(w, start) {
                for (a, b) in zip(after.elements, before.elements) { delta.append((a - b).doubleValue) }
            }
            if let i = delta.firstIndex(where: { !$0.isFinite }) {
                out.failure = "non-finite reference update (parameter \(i): \(delta[i]))"
                return out
            }
            out.delta = delta
        } catch {
            out.failure = "reference step failed: \(error)"
        }
        return out
    }
}

extension StudyPlan {
    /// Runs one training cell of this plan in this process, without the cache (tests, diagnostics):
    /// the cell's MPFR reference trajectory first when the study has one, then the cell. With
    /// `localError: false` the one-step reference (`local_error`, `local_gradient_error`) is skipped and
    /// nothing else changes: the low-precision trajectory is bit-identical either way.
    public func runTrainingCell(_ cell: PlannedCell, localError: Bool = true) throws -> CellResult {
        guard let t = spec.training, let o = cell.optimizer else {
            throw StudyError(file: spec.file, field: "kind", value: "\(spec.kind)", reason: "not a training cell")
        }
        BLAS.ensureSingleThreaded()
        let data = try ProblemData(t.problem, file: spec.file)
        let reference = try referenceKey(o, seed: cell.seed).map { _ in
            try ReferenceCatalogue.visit(bits: t.referenceBits, ReferenceVisitor(spec: t, data: data, optimizer: o, seed: cell.seed))
        }
        var job = TrainingJob(spec: t, data: data, optimizer: o, precision: cell.precision, seed: cell.seed, key: cell.key, reference: reference)
        job.localError = localError
        return try t.visitPrecision(cell.precision, TrainingVisitor(job: job))
    }
}
