import Foundation
import Networks

/// An upper-bound estimate of what a training study will need, computed before anything runs, so that
/// a study too large for the machine is stopped with a message instead of growing for minutes without
/// output (100,000 × 4096 data with three 4096-wide layers reached 7.3 GB before its first cell).
///
/// Memory counts the data (the full set and its split copies, in Double), every reference trajectory
/// held in memory (one Double per weight per shadowed step) and, per parallel cell, the weights with
/// their gradients and moments (8 copies) plus the Kronecker factors with their inverses and running
/// averages (6 copies of every factor), in the widest storage of the study's types. Work counts scalar
/// operations: forward and backward (6 × batch × weights per step) plus one cubic factorisation of
/// every factor per step (the worst refresh interval), weighted by the cost of the arithmetic (1 for a
/// native type, 20 for an emulated one, 400 for MPFR).
public struct ResourceEstimate: Sendable {
    public var memoryBytes: Double
    public var operations: Double

    /// The limits beyond which `run` asks for `--allow-large`: 8 GiB, and 10¹⁴ weighted operations
    /// (hours at the ~10⁹–10¹⁰ operations per second a core does on native types).
    public static let memoryLimit = 8.0 * 1_073_741_824
    public static let operationLimit = 1e14

    public var exceedsLimits: Bool { memoryBytes > Self.memoryLimit || operations > Self.operationLimit }

    public var summary: String {
        "estimated memory \(Fmt.sig(memoryBytes / 1_073_741_824)) GiB (limit \(Fmt.sig(Self.memoryLimit / 1_073_741_824))), "
            + "work \(Fmt.sig(operations)) weighted operations (limit \(Fmt.sig(Self.operationLimit)))"
    }

    /// nil for an experiment (their sizes are fixed by the experiment's own bounded parameters).
    public static func of(_ plan: StudyPlan, jobs: Int) -> ResourceEstimate? {
        guard let t = plan.spec.training else { return nil }
        let p = t.problem
        let (samples, features, outputs): (Double, Double, Double)
        if p.dataset.hasPrefix("synthetic") {
            (samples, features, outputs) = (Double(p.samples), Double(p.features), Double(p.outputs))
        } else if let d = try? BundledData.load(p.dataset) {
            (samples, features, outputs) = (Double(d.sampleCount), Double(d.featureCount), Double(d.outputCount))
        } else { return nil }
        let widths = [features] + p.hidden.map(Double.init) + [outputs]
        var weights = 0.0, factors = 0.0, cubic = 0.0
        for i in 0..<(widths.count - 1) {
            let a = widths[i] + 1, g = widths[i + 1]
            weights += a * g
            factors += a * a + g * g
            cubic += a * a * a + g * g * g
        }
        let batch = Double(t.batchSize), steps = Double(t.steps)
        let bytes = 8.0   // no training type stores more than 8 bytes (the emulated ones hold a Double)
        let referenceBytes = Double(max(8, t.referenceBits / 8 + 32))
        let perCell = (8 * weights + 6 * factors + 4 * batch * widths.reduce(0, +)) * bytes
        let cellCount = Double(plan.plannedCellCount + plan.tuningCells.count)
        let references = Double(plan.references.count)
        let memory = 3 * samples * (features + outputs) * 8
            + references * Double(t.referenceSteps) * weights * 8
            + Double(min(jobs, max(1, Int(cellCount)))) * max(perCell, (8 * weights + 6 * factors) * referenceBytes)
        let perStep = 6 * batch * weights + cubic
        // A plan awaiting its tuning stage lists no cells yet: count its planned cells at the dearest cost.
        let planned = plan.cells.isEmpty ? Double(plan.plannedCellCount) * (t.precisions.map(cost).max() ?? 1) : plan.cells.map { cost($0.precision) }.reduce(0, +)
        let cellWork = planned + plan.tuningCells.map { cost($0.precision) }.reduce(0, +)
        let work = perStep * steps * cellWork + perStep * Double(t.referenceSteps) * references * (t.referenceBits == 53 ? 1 : 400)
        return ResourceEstimate(memoryBytes: memory, operations: work)
    }

    static func cost(_ precision: String) -> Double {
        switch precision {
        case "fp64", "fp32", "fp16": 1
        default: 20
        }
    }
}
