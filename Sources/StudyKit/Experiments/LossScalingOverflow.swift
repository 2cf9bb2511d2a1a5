import Foundation
import Scalars
import LinearAlgebra
import Networks

/// Claim R8 (Docs/Claims.md): fp16 overflow when KFAC's G = E[ĝĝᵀ] and Adam's v = E[g²] are formed from
/// loss-scaled gradients.
///
/// A fixed MLP (seeded Glorot weights, tanh, cross-entropy) sees a new seeded batch each step; its
/// backward pass runs in fp32 with loss scale S and exposes Sĝ (`LossScaling.afterStatistics`).
/// Modes per S: `unscale-after` stores Sĝ and Sg in fp16 and forms G and v from them in fp16
/// (per-operation rounding; G_batch = Σₙ (ĝₙĝₙᵀ)·(1/N), v ← β2·v + (1 − β2)·(g ⊙ g), G ← ρG + (1 − ρ)G_batch),
/// unscaling afterwards by two multiplications with 1/S; `unscale-before` divides by S in fp32 and
/// stores ĝ and g in fp16 before forming G and v in fp16; `fp32-factors` stores Sĝ, Sg in fp16 but
/// forms G and v in fp32. Prediction per (step, layer, tensor): the batch contribution overflows iff
/// (max |stored entry|)² exceeds the factor format's largest finite value (65504 for fp16).
enum LossScalingOverflow: Experiment {
    static let kind = StudyKind.lossScalingOverflow
    static let verdictRule = "overflow-iff-square-exceeds-65504"
    static let knownModes = ["unscale-after", "unscale-before", "fp32-factors"]

    struct Parameters {
        var scales: [Double], modes: [String]
        var widths: [Int], batch: Int, steps: Int
        var inputScale: Double, dataSeed: Int
        var beta2: Double, factorDecay: Double, epsilon: Double
    }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var p = try ExperimentParameters(spec).reader
        let scales = try p.doubleArray("scales", range: 1...0x1p30)
        let modes = try p.stringArray("modes", allowed: knownModes)
        let widths = try p.intArray("widths", range: 1...256)
        if widths.count < 2 { throw StudyError(file: spec.file, field: "experiment.widths", value: "\(widths)", reason: "needs input and output widths") }
        let out = Parameters(scales: scales, modes: modes, widths: widths, batch: try p.int("batch", range: 1...4096),
                             steps: try p.int("steps", range: 1...100_000), inputScale: try p.double("input_scale", range: 1e-6...1e6),
                             dataSeed: try p.int("data_seed", range: 0...1_000_000), beta2: try p.double("beta2", range: 0...1),
                             factorDecay: try p.double("factor_decay", range: 0...1), epsilon: try p.double("adam_epsilon", range: 0...1))
        try p.finish()
        return out
    }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        let p = try parameters(spec)
        let common = ["widths": p.widths.map(String.init).joined(separator: ","), "batch": "\(p.batch)", "steps": "\(p.steps)",
                      "input_scale": NumberText.short(p.inputScale), "data_seed": "\(p.dataSeed)", "beta2": NumberText.short(p.beta2),
                      "factor_decay": NumberText.short(p.factorDecay), "adam_epsilon": NumberText.short(p.epsilon)]
        var out = [PlannedCell]()
        var eps = common; eps["mode"] = "epsilon"; eps["scale"] = "1"
        out.append(PlannedCell(key: experimentKey(spec, "epsilon"), label: "Adam ε in fp16/bf16/fp32", optimizer: nil, precision: "epsilon", seed: 0, parameters: eps))
        for s in p.scales { for m in p.modes {
            var params = common; params["mode"] = m; params["scale"] = NumberText.short(s)
            out.append(PlannedCell(key: experimentKey(spec, "\(m)|\(s)"), label: "\(m) S=\(NumberText.short(s))", optimizer: nil,
                                   precision: m, seed: 0, parameters: params))
        } }
        return out
    }

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        if cell.precision == "epsilon" {
            var r = CellResult.experiment(cell)
            let e = ExperimentSupport.double(cell, "adam_epsilon")
            r.records.append(MetricRecord(step: 0, metric: "epsilon_fp16", layer: -1, value: Float16(e).doubleValue))
            r.records.append(MetricRecord(step: 0, metric: "epsilon_bf16", layer: -1, value: BFloat16(e).doubleValue))
            r.records.append(MetricRecord(step: 0, metric: "epsilon_fp32", layer: -1, value: Double(Float(e))))
            r.records.append(MetricRecord(step: 0, metric: "epsilon_requested", layer: -1, value: e))
            return r
        }
        return cell.precision == "fp32-factors" ? simulate(Float.self, cell) : simulate(Float16.self, cell)
    }

    /// Forms G and v in `F` for every step; records predicted and observed overflow of the batch contributions.
    static func simulate<F: Scalar>(_: F.Type, _ cell: PlannedCell) -> CellResult {
        var result = CellResult.experiment(cell)
        let mode = cell.precision, s = ExperimentSupport.double(cell, "scale")
        let widths = cell.parameters["widths"]!.split(separator: ",").map { Int($0)! }
        let nb = ExperimentSupport.int(cell, "batch"), steps = ExperimentSupport.int(cell, "steps")
        let inputScale = ExperimentSupport.double(cell, "input_scale"), seed = UInt64(ExperimentSupport.int(cell, "data_seed"))
        let beta2 = F(ExperimentSupport.double(cell, "beta2")), rho = F(ExperimentSupport.double(cell, "factor_decay"))
        let limit = F.greatestFiniteMagnitude.doubleValue
        do {
            let spec = try MLPSpec(widths: widths, activation: .tanh, loss: .crossEntropy, bias: true)
            let net = MLP<Float>(spec: spec, seed: seed, accumulation: .perOperation)
            let layers = spec.layerCount
            var gState = (0..<layers).map { l in Matrix<F>(rows: widths[l + 1], columns: widths[l + 1]) }
            var vState = (0..<layers).map { l in Matrix<F>(rows: spec.weightShape(l).rows, columns: spec.weightShape(l).columns) }
            let invS = F(1 / s), invN = F(1 / Double(nb))
            let stored: (Float) -> Float16 = { Float16($0) }   // fp16 storage of the exposed statistics
            var firstOverflow: (step: Int, tensor: String)? = nil
            for t in 1...steps {
                var rng = SplitMix64.stream(seed: seed &+ UInt64(t), "r8-batch")
                let x = Matrix<Float>(rows: widths[0], columns: nb) { _, _ in Float(rng.nextGaussian() * inputScale) }
                let labels = (0..<nb).map { _ in rng.nextInt(below: widths.last!) }
                let back = try net.backward(x, targets: .classes(labels), lossScaling: LossScaling(scale: s, unscale: .afterStatistics))
                for l in 0..<layers {
                    let st = back.layers[l]
                    // What is stored in fp16: scaled (after, fp32-factors) or unscaled (before).
                    let before = mode == "unscale-before"
                    let gh16 = st.outputGradients.map { stored(before ? $0 / Float(s) : $0) }
                    let g16 = st.gradient.map { stored(before ? $0 : $0 * Float(s)) }
                    let ghF = gh16.map { F($0.doubleValue) }, gF = g16.map { F($0.doubleValue) }
                    // Batch contributions in F.
                    let d = ghF.rows
                    var gBatch = Matrix<F>(rows: d, columns: d)
                    for n in 0..<nb { for i in 0..<d { for j in 0..<d { gBatch[i, j] = gBatch[i, j] + (ghF[i, n] * ghF[j, n]) * invN } } }
                    let gSquared = gF.map { $0 * $0 }
                    for (name, batchValue, storedValues) in [("G", gBatch, ghF), ("v", gSquared, gF)] {
                        let m = storedValues.elements.reduce(0.0) { max($0, abs($1.doubleValue)) }
                        let predicted = m * m > limit
                        let observed = !batchValue.isFinite
                        let band = m * m > 65504 && m * m < 65520 && limit == 65504
                        result.records.append(MetricRecord(step: t, metric: "\(name)_predicted", layer: l, value: predicted ? 1 : 0))
                        result.records.append(MetricRecord(step: t, metric: "\(name)_observed", layer: l, value: observed ? 1 : 0))
                        result.records.append(MetricRecord(step: t, metric: "\(name)_max_square", layer: l, value: m * m))
                        if band { result.records.append(MetricRecord(step: t, metric: "\(name)_band", layer: l, value: 1)) }
                        if observed && firstOverflow == nil {
                            firstOverflow = (t, "\(name)[\(l)]")
                            result.events.append(EventRecord(step: t, layer: l, kind: "first-overflow", detail: "\(name) batch contribution of layer \(l)", value: m * m))
                        }
                    }
                    if !gh16.isFinite { result.events.append(EventRecord(step: t, layer: l, kind: "overflow", detail: "stored ghat", value: st.outputGradients.maxNorm)) }
                    // States (EMA), then unscaling where it happens after.
                    gState[l] = try gState[l].scaled(by: rho).adding(gBatch.scaled(by: 1 - rho))
                    vState[l] = try vState[l].scaled(by: beta2).adding(gSquared.scaled(by: 1 - beta2))
                    for (name, state) in [("G", gState[l]), ("v", vState[l])] {
                        let unscaled = before ? state : state.scaled(by: invS).scaled(by: invS)
                        let inf = unscaled.elements.filter { $0.isInfinite }.count, nan = unscaled.elements.filter { $0.isNaN }.count
                        result.records.append(MetricRecord(step: t, metric: "\(name)_state_inf", layer: l, value: Double(inf)))
                        result.records.append(MetricRecord(step: t, metric: "\(name)_state_nan", layer: l, value: Double(nan)))
                        if inf + nan > 0 { result.events.append(EventRecord(step: t, layer: l, kind: "non-finite-state", detail: "\(name): \(inf) inf, \(nan) NaN", value: Double(inf + nan))) }
                    }
                }
                result.stepsCompleted = t
            }
            if let f = firstOverflow { result.divergenceStep = f.step; result.divergenceReason = "overflow in \(f.tensor)" }
        } catch {
            result.events.append(EventRecord(step: result.stepsCompleted + 1, layer: -1, kind: "error", detail: "\(error)", value: .nan))
        }
        return result
    }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        let p = try? parameters(spec)
        let cells = results.filter { $0.precision != "epsilon" }
        var table = "| mode | S | factor format | first overflow (step, tensor) | steps×tensors overflowing | predicted | agree | in rounding band | non-finite state entries at end (inf/NaN) |\n|---|---:|---|---|---:|---:|---:|---:|---:|\n"
        var disagreements = 0, bandCount = 0, comparisons = 0
        var afterOverflow = Set<Double>(), cleanOverflow = 0
        var points = [String: [(Double, Double)]]()
        for r in cells.sorted(by: { (Double($0.parameters["scale"]!)!, $0.precision) < (Double($1.parameters["scale"]!)!, $1.precision) }) {
            let sc = Double(r.parameters["scale"]!)!
            var observed = 0, predicted = 0, agree = 0, band = 0
            for name in ["G", "v"] {
                let obs = r.records.filter { $0.metric == "\(name)_observed" }, pre = r.records.filter { $0.metric == "\(name)_predicted" }
                let bands = Set(r.records.filter { $0.metric == "\(name)_band" }.map { "\($0.step)|\($0.layer)" })
                let sq = r.records.filter { $0.metric == "\(name)_max_square" }
                for (o, q) in zip(obs, pre) {
                    comparisons += 1
                    if o.value == 1 { observed += 1 }
                    if q.value == 1 { predicted += 1 }
                    if o.value == q.value { agree += 1 }
                    else if bands.contains("\(o.step)|\(o.layer)") { band += 1 }
                    else { disagreements += 1 }
                }
                for (o, m) in zip(obs, sq) { points["\(r.precision) \(o.value == 1 ? "overflow" : "finite")", default: []].append((sc, m.value)) }
            }
            bandCount += band
            if r.precision == "unscale-after" && observed > 0 { afterOverflow.insert(sc) }
            if r.precision != "unscale-after" && observed > 0 { cleanOverflow += 1 }
            let first = r.events.first { $0.kind == "first-overflow" }
            let lastInf = r.records.filter { $0.metric.hasSuffix("_state_inf") && $0.step == r.stepsCompleted }.reduce(0) { $0 + $1.value }
            let lastNaN = r.records.filter { $0.metric.hasSuffix("_state_nan") && $0.step == r.stepsCompleted }.reduce(0) { $0 + $1.value }
            table += "| \(r.precision) | \(NumberText.short(sc)) | \(r.precision == "fp32-factors" ? "fp32" : "fp16") | \(first.map { "step \($0.step), \($0.detail)" } ?? "none") | \(observed) | \(predicted) | \(agree) of \(obs(r)) | \(band) | \(Int(lastInf))/\(Int(lastNaN)) |\n"
        }
        let eps = results.first { $0.precision == "epsilon" }
        let e16 = eps?.series("epsilon_fp16").first?.1 ?? .nan, eb16 = eps?.series("epsilon_bf16").first?.1 ?? .nan
        let e32 = eps?.series("epsilon_fp32").first?.1 ?? .nan, eReq = eps?.series("epsilon_requested").first?.1 ?? .nan
        let epsSection = "## Adam's ε\n\n| format | stored ε |\n|---|---:|\n| requested | \(Fmt.sig(eReq)) |\n| fp16 | \(Fmt.sig(e16)) |\n| bf16 | \(Fmt.sig(eb16)) |\n| fp32 | \(Fmt.sig(e32)) |\n\nfp16's smallest subnormal is 2⁻²⁴ ≈ 5.96e-8, so ε = \(Fmt.sig(eReq)) rounds to \(Fmt.sig(e16)).\n"
        var reproduced: Bool? = nil
        if comparisons > 0, !afterOverflow.isEmpty, !e16.isNaN {
            reproduced = disagreements == 0 && cleanOverflow == 0 && e16 == 0
        }
        let evidence = "\(comparisons - disagreements - bandCount) of \(comparisons) (step, layer, tensor) batch contributions overflowed exactly when (S·max|entry|)² exceeded the factor format's maximum (\(disagreements) disagreements, \(bandCount) in the [65504, 65520) rounding band); unscale-after overflowed at S ∈ {\(afterOverflow.sorted().map(NumberText.short).joined(separator: ", "))}; \(cleanOverflow) unscale-before/fp32-factors cells overflowed; Adam ε = \(Fmt.sig(eReq)) stored in fp16 = \(Fmt.sig(e16))."
        var plot = ScatterPlot(title: "Largest squared stored entry per step and tensor, by loss scale", xLabel: "loss scale S", yLabel: "(max |stored entry|)²", logX: true, logY: true)
        for k in points.keys.sorted() { plot.series.append((k, points[k]!.filter { $0.1.isFinite && $0.1 > 0 })) }
        let scalesSeen = Set(cells.compactMap { Double($0.parameters["scale"] ?? "") }).sorted()
        plot.series.append(("fp16 maximum 65504", scalesSeen.map { ($0, 65504) }))
        let setup = """
        ## Setting

        \(p.map { "MLP \($0.widths.map(String.init).joined(separator: "-")) (tanh, cross-entropy, seeded weights held fixed), \($0.steps) steps with a new seeded batch of \($0.batch) (inputs × \(Fmt.sig($0.inputScale))); β2 = \(Fmt.sig($0.beta2)), factor EMA ρ = \(Fmt.sig($0.factorDecay)). " } ?? "")\
        Backward pass in fp32 with loss scale S; the exposed Sĝ and Sg (or ĝ and g when unscaling before) are stored in fp16. \
        Predicted overflow of a batch contribution: (max |stored entry|)² > largest finite value of the factor format (65504 in fp16). \
        Observed: a non-finite entry of G_batch or g ⊙ g. The markers "fp16 maximum 65504" mark the threshold; overflowing points whose square is infinite are not drawn.
        """
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: [setup, "## Overflow by mode and loss scale\n\n" + table, epsSection],
                             plots: [("max-square-by-scale.svg", plot.svg)])
    }

    static func obs(_ r: CellResult) -> Int { r.records.filter { $0.metric.hasSuffix("_observed") }.count }
}
