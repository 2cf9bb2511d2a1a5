import Foundation
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// The shadow a low-precision cell is compared with: the same optimizer configuration, data,
/// initialisation and batch order, run in MPFR (`BigFloat`) for the first `steps` steps.
public struct ReferenceTrajectory: Codable, Sendable, Hashable {
    public var bits: Int
    /// `weights[t-1]`: all weights after step t, flattened layer by layer, rounded to Double.
    public var weights: [[Double]]
    public var losses: [Double]
    /// Set when the reference itself diverged (then later steps are absent).
    public var divergenceStep: Int?
}

/// What one training cell needs besides its policy.
struct TrainingJob: Sendable {
    let spec: TrainingSpec
    let data: ProblemData
    let optimizer: OptimizerConfig
    let precision: String
    let seed: Int
    let key: String
    let reference: ReferenceTrajectory?
    /// Record the one-step local errors (`local_error`, `local_gradient_error`) for the steps the
    /// reference shadows. Off, nothing else changes: the cell's trajectory is bit-identical either way.
    var localError = true
    /// Keep only monitors whose name matches one of these (a trailing `*` is a prefix match).
    func keeps(_ monitor: String) -> Bool {
        spec.monitors.contains { $0.hasSuffix("*") ? monitor.hasPrefix($0.dropLast()) : $0 == monitor }
    }
}

/// Trains one cell in policy `P`. Numeric failures end the cell as a recorded divergence, never a crash.
struct TrainingVisitor: PolicyVisitor {
    let job: TrainingJob

    func visit<P: PrecisionPolicy>(_: P.Type) throws -> CellResult {
        try StochasticRounding.withContext(seed: UInt64(job.seed), stream: streamKey) {
            try run(P.self)
        }
    }

    /// The cell's stochastic-rounding stream (a function of its key).
    var streamKey: UInt64 { StochasticRounding.mix64(UInt64(truncatingIfNeeded: job.key.hashValueStable)) }

    func run<P: PrecisionPolicy>(_: P.Type) throws -> CellResult {
        typealias W = P.Weights
        let spec = job.spec
        let accumulation = try AccumulationModel(name: spec.accumulation)
        let settings = ArithmeticSettings(accumulation: accumulation, elementwise: ElementwiseModel(rawValue: spec.elementwise)!)
        var net = MLP<W>(spec: job.data.network, seed: UInt64(job.seed), accumulation: accumulation)
        let optimizer = try OptimizerCatalogue.make(job.optimizer, settings: settings, policy: P.self)
        let schedule = try BatchSchedule(sampleCount: job.data.train.sampleCount, batchSize: spec.batchSize, seed: UInt64(job.seed))
        var result = CellResult(key: job.key, optimizer: job.optimizer.label, method: job.optimizer.method, precision: job.precision,
                                seed: job.seed, parameters: job.optimizer.parameters.mapValues(\.description),
                                records: [], events: [], divergenceStep: nil, divergenceReason: nil, stepsCompleted: 0,
                                finalLoss: .nan, finalTestLoss: .nan, finalTestAccuracy: .nan,
                                roundedConstants: optimizer.constants.entries.map { "\($0.name) = \($0.value) → \($0.rounded) (\($0.format))" })
        var initialLoss = Double.nan
        func record(_ t: Int, _ metric: String, _ layer: Int, _ value: Double) {
            result.records.append(MetricRecord(step: t, metric: metric, layer: layer, value: value))
        }
        func diverge(_ t: Int, _ reason: String) {
            result.divergenceStep = t; result.divergenceReason = reason
        }
        func evaluate(_ t: Int) {
            do {
                let (loss, accuracy) = try net.evaluate(job.data.test)
                record(t, "test_loss", -1, loss); record(t, "test_accuracy", -1, accuracy)
                result.finalTestLoss = loss; result.finalTestAccuracy = accuracy
            } catch {
                // Recorded, not dropped: the step simply has no test values, and the report says why.
                result.events.append(EventRecord(step: t, layer: -1, kind: "test-evaluation-failed", detail: "\(error)", value: .nan))
            }
        }
        result.reference = job.reference.map {
            ReferenceOutcome(bits: $0.bits, planned: spec.referenceSteps, completed: $0.weights.count, divergenceStep: $0.divergenceStep)
        }
        evaluate(0)
        // Dynamic loss scaling (when the study applies it to this precision): a skipped step does not
        // reach the optimizer, so the optimizer counts its own steps (`optimizerStep`), as AMP does.
        let scaling = spec.lossScaling.applies(to: job.precision)
        var scaler = DynamicLossScaler(initialScale: spec.lossScaling.initialScale, growthInterval: spec.lossScaling.growthInterval)
        var optimizerStep = 0
        for t in 1...spec.steps {
            let indices = schedule.indices(step: t)
            let batch = Batch<W>(job.data.train, indices: indices)
            let lossScaling = scaling ? LossScaling(scale: scaler.scale, unscale: spec.lossScaling.unscale) : .none
            let backward = try net.backward(batch.inputs, targets: batch.targets, lossScaling: lossScaling)
            let loss = backward.loss.doubleValue
            if t == 1 { initialLoss = loss }
            record(t, "loss", -1, loss)
            result.finalLoss = loss
            for e in backward.events {
                result.events.append(EventRecord(step: t, layer: e.layer, kind: "network-\(e.kind.rawValue)",
                                                 detail: "\(e.tensor) ×\(e.count)", value: Double(e.count)))
            }
            // One-step local errors: the reference step from the *same* low-precision weights and
            // optimizer state on the same batch, taken before the low-precision step changes them.
            var skip = false
            if scaling {
                // Finite gradients and exposed statistics, or the step is skipped and S halved.
                let finite = backward.layers.allSatisfy { $0.gradient.isFinite && $0.outputGradients.isFinite }
                let before = scaler.scale
                skip = !scaler.update(gradientsFinite: finite)
                record(t, "loss_scale", -1, before)
                if skip {
                    result.events.append(EventRecord(step: t, layer: -1, kind: "loss-scale-backoff",
                                                     detail: "S \(NumberText.short(before)) → \(NumberText.short(scaler.scale))", value: scaler.scale))
                    result.events.append(EventRecord(step: t, layer: -1, kind: "skipped-step", detail: "non-finite scaled gradient", value: before))
                } else if scaler.scale > before {
                    result.events.append(EventRecord(step: t, layer: -1, kind: "loss-scale-growth",
                                                     detail: "S \(NumberText.short(before)) → \(NumberText.short(scaler.scale))", value: scaler.scale))
                }
            }
            var local: (before: [Double], reference: LocalReference)? = nil
            if job.localError, !skip, let ref = job.reference, t <= ref.weights.count + 1, t <= spec.referenceSteps,
               (t - 1) % spec.localErrorEvery == 0 {
                let before = net.weights.map { $0.converted(to: Double.self) }
                let reference = referenceStep(bits: ref.bits, weights: before, state: optimizer.exportState(), indices: indices, step: optimizerStep + 1)
                let low = backward.layers.flatMap { $0.gradient.elements.map(\.doubleValue) }
                record(t, "local_gradient_error", -1, reference.gradient.map { relativeDistance(low, $0) } ?? .nan)
                local = (before.flatMap(\.elements), reference)
            }
            guard loss.isFinite else { diverge(t, "non-finite loss \(loss)"); break }
            if t > 1, loss > spec.divergenceFactor * initialLoss {
                diverge(t, "loss \(NumberText.short(loss)) above \(NumberText.short(spec.divergenceFactor))× the initial \(NumberText.short(initialLoss))"); break
            }
            if skip {
                result.stepsCompleted = t
                if let ref = job.reference, t <= ref.weights.count {
                    record(t, "drift", -1, relativeDistance(net.weights.flatMap { $0.elements.map(\.doubleValue) }, ref.weights[t - 1]))
                }
                if t % spec.evaluateEvery == 0 || t == spec.steps { evaluate(t) }
                continue
            }
            optimizerStep += 1
            let report: StepReport
            let curvature = optimizer.needsCurvature
                ? CurvatureAccess(network: job.data.network, accumulation: accumulation, inputs: batch.inputs, targets: batch.targets) : nil
            do { report = try optimizer.step(weights: &net.weights, layers: backward.layers, step: optimizerStep, loss: loss, curvature: curvature) } catch {
                throw StudyError(file: job.spec.problem.dataset, field: "optimizer", value: job.optimizer.label, reason: "\(error)")
            }
            result.stepsCompleted = t
            if let local, !report.aborted {
                // local_error = ‖Δθ_low − Δθ_ref‖/‖Δθ_ref‖; Δθ_low = θ_new − θ_old subtracted in Double, in index order.
                if let deltaRef = local.reference.delta {
                    var deltaLow = [Double](), i = 0
                    deltaLow.reserveCapacity(local.before.count)
                    for w in net.weights { for x in w.elements { deltaLow.append(x.doubleValue - local.before[i]); i += 1 } }
                    record(t, "local_error", -1, relativeDistance(deltaLow, deltaRef))
                } else {
                    record(t, "local_error", -1, .nan)
                    result.events.append(EventRecord(step: t, layer: -1, kind: LocalReference.failureEvent,
                                                     detail: local.reference.failure ?? "no reference step", value: .nan))
                }
            }
            let recordMonitors = (t - 1) % spec.recordEvery == 0 || t == spec.steps
            if recordMonitors {
                for m in report.monitors where job.keeps(m.name) { record(t, m.name, m.layer, m.value) }
                // Preconditioner activity (always kept): per layer, and the largest over layers.
                let departures = PreconditionerActivity.departures(optimizer.exportState())
                if !departures.isEmpty {
                    for l in departures.keys.sorted() { record(t, PreconditionerActivity.metric, l, departures[l]!) }
                    let values = departures.values
                    record(t, PreconditionerActivity.metric, -1, values.contains { $0.isNaN } ? .nan : values.max()!)
                }
            }
            for e in report.events {
                // On the training-step axis (they differ once a loss-scaled step was skipped).
                result.events.append(EventRecord(step: e.step + t - optimizerStep, layer: e.layer, kind: e.kind.rawValue, detail: e.detail, value: e.value))
            }
            if let ref = job.reference, t <= ref.weights.count {
                let theta = net.weights.flatMap { $0.elements.map(\.doubleValue) }
                record(t, "drift", -1, relativeDistance(theta, ref.weights[t - 1]))
            }
            if report.aborted { diverge(t, "aborted by the fallback policy"); break }
            if let l = net.weights.firstIndex(where: { !$0.isFinite }) { diverge(t, "non-finite weights in layer \(l)"); break }
            if t % spec.evaluateEvery == 0 || t == spec.steps { evaluate(t) }
        }
        result.records.sort { ($0.metric, $0.layer, $0.step) < ($1.metric, $1.layer, $1.step) }
        return result
    }

    /// The reference gradient and step from the cell's weights and exported optimizer state (see
    /// `ReferenceLocalStep`). It runs in a stochastic-rounding context of its own, so it never takes
    /// indices from the cell's stream (the reference types draw none today; this keeps it so). Any
    /// failure becomes a `LocalReference` with a reason, never an error.
    func referenceStep(bits: Int, weights: [Matrix<Double>], state: OptimizerState, indices: [Int], step t: Int) -> LocalReference {
        let visitor = ReferenceLocalStep(network: job.data.network, weights: weights, data: job.data.train, indices: indices,
                                         optimizer: job.optimizer, state: state, step: t)
        do {
            return try StochasticRounding.withContext(seed: UInt64(job.seed), stream: ~streamKey) {
                try ReferenceCatalogue.visit(bits: bits, visitor)
            }
        } catch {
            return LocalReference(gradient: nil, delta: nil, failure: "reference at \(ReferenceCatalogue.name(bits: bits)): \(error)")
        }
    }
}

/// ‖a − b‖ / ‖b‖ in Double, in index order (NaN if `b` is zero or the lengths differ).
func relativeDistance(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .nan }
    var num = 0.0, den = 0.0
    for i in a.indices { let d = a[i] - b[i]; num += d * d; den += b[i] * b[i] }
    return den > 0 ? (num / den).squareRoot() : .nan
}

/// Runs the reference trajectory of a (optimizer, seed) pair in MPFR.
struct ReferenceVisitor: PolicyVisitor {
    let spec: TrainingSpec
    let data: ProblemData
    let optimizer: OptimizerConfig
    let seed: Int

    func visit<P: PrecisionPolicy>(_: P.Type) throws -> ReferenceTrajectory {
        typealias W = P.Weights
        let settings = ArithmeticSettings(accumulation: .perOperation, elementwise: .perOperation)
        var net = MLP<W>(spec: data.network, seed: UInt64(seed), accumulation: .perOperation)
        let opt = try OptimizerCatalogue.make(optimizer, settings: settings, policy: P.self)
        let schedule = try BatchSchedule(sampleCount: data.train.sampleCount, batchSize: spec.batchSize, seed: UInt64(seed))
        var out = ReferenceTrajectory(bits: spec.referenceBits, weights: [], losses: [], divergenceStep: nil)
        for t in 1...max(1, spec.referenceSteps) {
            let batch = Batch<W>(data.train, indices: schedule.indices(step: t))
            let b = try net.backward(batch.inputs, targets: batch.targets)
            let loss = b.loss.doubleValue
            out.losses.append(loss)
            guard loss.isFinite else { out.divergenceStep = t; break }
            // The cells' own criterion, so that "the reference diverged too" compares like with like.
            if t > 1, loss > spec.divergenceFactor * out.losses[0] { out.divergenceStep = t; break }
            let curvature = opt.needsCurvature
                ? CurvatureAccess(network: data.network, accumulation: .perOperation, inputs: batch.inputs, targets: batch.targets) : nil
            let report = try opt.step(weights: &net.weights, layers: b.layers, step: t, loss: loss, curvature: curvature)
            if report.aborted || net.weights.contains(where: { !$0.isFinite }) { out.divergenceStep = t; break }
            out.weights.append(net.weights.flatMap { $0.elements.map(\.doubleValue) })
        }
        return out
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: a hash that, unlike `hashValue`, is the same in every process.
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
