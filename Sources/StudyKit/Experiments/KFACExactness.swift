import Foundation
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// Claim R10 of Docs/Claims.md (calibration): for deep linear networks with MSE, KFAC's block A ⊗ G equals the
/// exact GGN block.
///
/// KFAC side, in the cell's format: the Optimizers module's `KFAC` itself takes one step, and its own
/// factors A, G (the `factorsA`/`factorsG` that `exportState()` exports as `factors_A`/`factors_G`,
/// read directly so that MPFR values are not rounded to Double) are compared. It is fed the layer
/// inputs Ā that `MLP.backward` exposes and, as output statistics, the type-2 ("exact") columns
/// Ĝ = [B₁ᵀ … B_Nᵀ] from `outputJacobianTransposes` (d_o × N·d_L): KFAC divides both products by the
/// number of input columns N, so its G is (1/N) Σₙ BₙᵀBₙ, the loss Hessian of ½‖f − y‖² being I. At
/// the first statistics update KFAC's EMA weight is ε₁ = 0, so the stored factor is the batch
/// statistic itself. Exact side, independently in MPFR-256: a forward pass written here,
/// Bₙ = W_L D ⋯ D W_{l+1} (D = diag φ'(s)), the per-sample Jacobian Jₙ = āₙᵀ ⊗ Bₙ (column-stacking vec)
/// assembled entry by entry, and GGN = (1/N) Σₙ JₙᵀJₙ. The componentwise ratio
/// |A ⊗ G − GGN|ᵢⱼ / (γ_k(u)·Mᵢⱼ) with M = (1/N)Σₙ (|āₙ||āₙ|ᵀ) ⊗ (|B|ᵀ|B|) (magnitudes through |W|)
/// and k = N·d_L + 2L(w + 1) + 4 (G's entries are sums of N·d_L products) must be ≤ 1 for the linear networks. A tanh network is a control: its
/// KFAC block is not exact (Bₙ depends on the sample), so its ratio must exceed 1, which shows that
/// the comparison can fail.
enum KFACExactness: Experiment {
    static let kind = StudyKind.kfacExactness
    static let verdictRule = "all-linear-blocks-within-bound-and-control-caught"

    struct Parameters {
        var formats: [String], widths: [Int], bias: [String], samples: Int, seeds: [Int], control: String
    }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var p = try ExperimentParameters(spec).reader
        let formats = try p.stringArray("formats")
        try ExperimentSupport.validateFormats(formats, key: "formats", spec: spec)
        let widths = try p.intArray("widths", range: 1...32)
        if widths.count < 2 { throw StudyError(file: spec.file, field: "experiment.widths", value: "\(widths)", reason: "needs input and output widths") }
        let bias = try p.stringArray("bias")
        for (i, b) in bias.enumerated() where b != "with" && b != "without" {
            throw StudyError(file: spec.file, field: "experiment.bias[\(i)]", value: "\"\(b)\"", reason: "must be \"with\" or \"without\"")
        }
        let control = try p.string("control_activation", allowed: ["none"] + Activation.allCases.filter { $0 != .identity }.map(\.rawValue))
        let out = Parameters(formats: formats, widths: widths, bias: bias, samples: try p.int("samples", range: 1...256),
                             seeds: try p.intArray("seeds", range: 0...1_000_000), control: control)
        try p.finish()
        return out
    }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        let p = try parameters(spec)
        let activations = ["identity"] + (p.control == "none" ? [] : [p.control])
        var out = [PlannedCell]()
        for f in p.formats { for b in p.bias { for a in activations { for s in p.seeds {
            let params = ["format": f, "bias": b, "activation": a, "widths": p.widths.map(String.init).joined(separator: ","), "samples": "\(p.samples)"]
            out.append(PlannedCell(key: experimentKey(spec, "\(f)|\(b)|\(a)|\(s)"), label: "\(f) \(a) \(b) bias seed=\(s)",
                                   optimizer: nil, precision: f, seed: s, parameters: params))
        } } } }
        return out
    }

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        let format = try ExperimentSupport.format(named: cell.precision)
        return compare(format, cell)
    }

    static func compare<T: Scalar>(_: T.Type, _ cell: PlannedCell) -> CellResult {
        typealias B = BigFloat256
        var result = CellResult.experiment(cell)
        let widths = cell.parameters["widths"]!.split(separator: ",").map { Int($0)! }
        let bias = cell.parameters["bias"] == "with", activation = Activation(rawValue: cell.parameters["activation"]!)!
        let n = ExperimentSupport.int(cell, "samples"), seed = UInt64(cell.seed)
        do {
            let spec = try MLPSpec(widths: widths, activation: activation, loss: .meanSquaredError, bias: bias)
            let layers = spec.layerCount
            let w64 = (0..<layers).map { l in ExperimentSupport.gaussian(rows: spec.weightShape(l).rows, columns: spec.weightShape(l).columns, seed: seed, "r10-W\(l)", scale: 1 / Double(widths[l]).squareRoot()) }
            let x64 = ExperimentSupport.gaussian(rows: widths[0], columns: n, seed: seed, "r10-x")
            let y64 = ExperimentSupport.gaussian(rows: widths.last!, columns: n, seed: seed, "r10-y")
            // KFAC side, in T: the optimizer itself, one step on the batch's type-2 statistics.
            let net = try MLP<T>(spec: spec, weights: w64.map { $0.converted(to: T.self) }, accumulation: .perOperation)
            let back = try net.backward(x64.converted(to: T.self), targets: .values(y64.converted(to: T.self)))
            var columns = (0..<layers).map { _ in [Matrix<T>]() }
            for s in 0..<n {
                let jt = try net.outputJacobianTransposes(x64.converted(to: T.self).columns(s..<(s + 1)))
                for l in 0..<layers { columns[l].append(jt[l]) }
            }
            let dL = widths.last!
            let stats = (0..<layers).map { l in
                let jts = columns[l]
                return LayerStatistics(inputs: back.layers[l].inputs,
                                       outputGradients: Matrix<T>(rows: widths[l + 1], columns: n * dL) { r, c in jts[c / dL][r, c % dL] },
                                       gradient: back.layers[l].gradient)
            }
            var h = KFAC<Uniform<T>>.Hyperparameters()
            h.statisticsInterval = 1; h.inverseInterval = 1; h.klClip = nil; h.expensiveMonitors = false; h.learningRate = 1e-3
            var kfacOpt = KFAC<Uniform<T>>(h)
            var weights = w64.map { $0.converted(to: T.self) }
            let report = try kfacOpt.step(weights: &weights, layers: stats, step: 1)
            for e in report.events { result.events.append(EventRecord(step: 1, layer: e.layer, kind: e.kind.rawValue, detail: e.detail, value: e.value)) }
            // Exact side, in MPFR-256, from the Double weights and inputs.
            let wB = w64.map { $0.converted(to: B.self) }, wAbs = w64.map { $0.map { abs($0) } }
            // γ_k with k = N·d_L (G's sums) + 2L(w_max + 1) (the Jacobian's backward products) + 4 (division, Kronecker product, margin).
            let gamma = T.gammaBound(n * widths.last! + 2 * layers * ((widths.max() ?? 1) + 1) + 4)
            var worst = 0.0
            for l in 0..<layers {
                let kfac = kfacOpt.factorsA[l].kronecker(kfacOpt.factorsG[l]).map { ExperimentSupport.mpfr($0) }
                let dOut = widths[l + 1], dIn = spec.weightShape(l).columns
                var ggn = Matrix<B>(rows: dOut * dIn, columns: dOut * dIn)
                var mag = Matrix<Double>(rows: dOut * dIn, columns: dOut * dIn)
                for s in 0..<n {
                    // forward: ā_k for every layer, pre-activations s_k
                    var a = (0..<widths[0]).map { B(x64[$0, s]) }, aAbs = (0..<widths[0]).map { abs(x64[$0, s]) }
                    var abars = [[B]](), abarsAbs = [[Double]](), pre = [[B]]()
                    for k in 0..<layers {
                        let ab = bias ? a + [B(1)] : a, abAbs = bias ? aAbs + [1] : aAbs
                        abars.append(ab); abarsAbs.append(abAbs)
                        let sk = (0..<widths[k + 1]).map { i in (0..<ab.count).reduce(B(0)) { $0 + wB[k][i, $1] * ab[$1] } }
                        pre.append(sk)
                        a = k == layers - 1 ? sk : sk.map { activation.apply($0) }
                        aAbs = (0..<widths[k + 1]).map { i in (0..<abAbs.count).reduce(0.0) { $0 + wAbs[k][i, $1] * abAbs[$1] } }
                    }
                    // B_l = W_L D_{L−1} ⋯ D_l (d_L × d_o), magnitudes through |W|
                    var bm = Matrix<B>.identity(widths.last!), bAbs = Matrix<Double>.identity(widths.last!)
                    for k in stride(from: layers - 1, to: l, by: -1) {
                        let din = widths[k]
                        bm = Matrix(rows: bm.rows, columns: din) { r, c in
                            (0..<bm.columns).reduce(B(0)) { $0 + bm[r, $1] * wB[k][$1, c] } * activation.derivative(preActivation: pre[k - 1][c], activation: activation.apply(pre[k - 1][c]))
                        }
                        bAbs = Matrix(rows: bAbs.rows, columns: din) { r, c in (0..<bAbs.columns).reduce(0.0) { $0 + bAbs[r, $1] * wAbs[k][$1, c] } }
                    }
                    let ab = abars[l], abAbs = abarsAbs[l]
                    // J (d_L × d_o·d_i), column c = j·d_o + i: ∂f/∂W_ij = B[:, i]·ā_j
                    let jac = Matrix<B>(rows: bm.rows, columns: dOut * dIn) { o, c in bm[o, c % dOut] * ab[c / dOut] }
                    let jacAbs = Matrix<Double>(rows: bm.rows, columns: dOut * dIn) { o, c in bAbs[o, c % dOut] * abAbs[c / dOut] }
                    for i in 0..<(dOut * dIn) { for j in 0..<(dOut * dIn) {
                        var sum = B(0), sAbs = 0.0
                        for o in 0..<jac.rows { sum += jac[o, i] * jac[o, j]; sAbs += jacAbs[o, i] * jacAbs[o, j] }
                        ggn[i, j] = ggn[i, j] + sum / B(Double(n)); mag[i, j] += sAbs / Double(n)
                    } }
                }
                var ratio = 0.0
                for i in 0..<ggn.rows { for j in 0..<ggn.columns {
                    let diff = abs((kfac[i, j] - ggn[i, j]).doubleValue)
                    if diff > 0 { ratio = max(ratio, mag[i, j] > 0 ? diff / (gamma * mag[i, j]) : .infinity) }
                } }
                let rel = ExperimentSupport.relativeFrobenius(kfac, ggn)
                result.records.append(MetricRecord(step: 1, metric: "bound_ratio", layer: l, value: ratio))
                result.records.append(MetricRecord(step: 1, metric: "relative_difference", layer: l, value: rel))
                result.records.append(MetricRecord(step: 1, metric: "gamma", layer: l, value: gamma))
                worst = max(worst, ratio)
            }
            result.finalLoss = worst
            result.stepsCompleted = 1
        } catch {
            result.events.append(EventRecord(step: 1, layer: -1, kind: "error", detail: "\(error)", value: .nan))
        }
        return result
    }

    /// The verdict rule. Reproduced: every linear block within the bound and every control block
    /// outside it. Not reproduced: some linear block outside the bound (its maximum, not a median:
    /// exactness fails at one block). Undecided: failed cells, no linear blocks, or a control that
    /// the comparison does not catch (then it could not have failed, and "within" says nothing).
    static func rule(linearWithin: Int, linearAll: Int, controlCaught: Int, controlAll: Int, failedCells: Int) -> Bool? {
        if failedCells > 0 || linearAll == 0 { return nil }
        if linearWithin < linearAll { return false }
        if controlAll == 0 || controlCaught < controlAll { return nil }
        return true
    }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        var table = "| format | activation | bias | layer | seeds | ‖A⊗G − GGN‖_F/‖GGN‖_F, median [95 % CI] | γ_k(u) | max over seeds of the ratio to γ_k·M | within bound? |\n|---|---|---|---:|---:|---:|---:|---:|---|\n"
        var linearOK = 0, linearAll = 0, controlCaught = 0, controlAll = 0, errors = 0
        var worstLinear = 0.0, smallestControl = Double.infinity
        var plot = ScatterPlot(title: "KFAC's own factors against the exact GGN, componentwise, in units of γ_k(u)·M", xLabel: "layer", yLabel: "max |A⊗G − GGN| / (γ_k·M)", logY: true)
        var series = [String: [(Double, Double)]]()
        var groups = [String: [(CellResult, MetricRecord)]]()
        for r in results {
            if r.stepsCompleted == 0 { errors += 1; continue }
            for rec in r.records where rec.metric == "bound_ratio" {
                groups["\(r.precision)|\(r.parameters["activation"]!)|\(r.parameters["bias"]!)|\(rec.layer)", default: []].append((r, rec))
            }
        }
        for key in groups.keys.sorted() {
            let g = groups[key]!, r0 = g[0].0, layer = g[0].1.layer
            let act = r0.parameters["activation"]!, linear = act == "identity"
            let ratios = g.map(\.1.value)
            let rels = g.map { c in c.0.records.first { $0.metric == "relative_difference" && $0.layer == layer }?.value ?? .nan }
            let gamma = r0.records.first { $0.metric == "gamma" && $0.layer == layer }?.value ?? .nan
            // NaN counts as outside the bound: a comparison that failed never passes.
            let worst = ratios.contains { $0.isNaN } ? Double.nan : ratios.max()!
            let ok = worst <= 1
            let relCI = Bootstrap.median(rels).map { "\(Fmt.sig($0.estimate)) [\(Fmt.sig($0.lower)), \(Fmt.sig($0.upper))]" } ?? "–"
            table += "| \(r0.precision) | \(act) | \(r0.parameters["bias"]!) | \(layer) | \(g.count) | \(relCI) | \(Fmt.sig(gamma)) | \(Fmt.sig(worst)) | \(ok ? "yes" : "no") |\n"
            for v in ratios { series["\(r0.precision) \(act) \(r0.parameters["bias"]!) bias", default: []].append((Double(layer), max(v, 1e-300))) }
            for v in ratios {
                if linear { linearAll += 1; if v <= 1 { linearOK += 1 }; worstLinear = max(worstLinear, v.isNaN ? .infinity : v) }
                else if layer < (r0.parameters["widths"]!.split(separator: ",").count - 2) {
                    // the last layer's block is exact for any activation (B = I): only earlier layers are a control
                    controlAll += 1; if !(v <= 1) { controlCaught += 1 }; smallestControl = min(smallestControl, v)
                }
            }
        }
        for k in series.keys.sorted() { plot.series.append((k, series[k]!)) }
        let reproduced = rule(linearWithin: linearOK, linearAll: linearAll, controlCaught: controlCaught, controlAll: controlAll, failedCells: errors)
        let seeds = Set(results.map(\.seed)).count
        let evidence = "KFAC's own factors after one step, \(seeds) seeds: \(linearOK) of \(linearAll) linear-network layer blocks within the componentwise bound γ_k(u)·M (worst ratio \(Fmt.sig(worstLinear))); control (non-linear, layers below the last): \(controlCaught) of \(controlAll) blocks exceed it (smallest ratio \(controlAll == 0 ? "–" : Fmt.sig(smallestControl))); \(errors) cells failed."
        let setup = """
        ## Setting and bound

        The Optimizers module's `KFAC` (factored, statistics and inverses every step, no KL clip) takes one step in the cell's format. \
        It is fed the layer inputs Ā of `backward` and, as its output statistics, the type-2 columns Ĝ = [B₁ᵀ … B_Nᵀ] from \
        `outputJacobianTransposes` (the loss Hessian of ½‖f − y‖² is I); KFAC divides both products by N and, at its first statistics \
        update (EMA weight ε₁ = 0), stores the batch statistic itself. Its own factors A and G (the `factors_A`, `factors_G` of its \
        exported state, read in the format itself) form A ⊗ G, which is compared entry by entry with the exact GGN block \
        (1/N)Σₙ JₙᵀJₙ assembled independently in MPFR-256 from the weights (no code shared with the network or the optimizer). \
        Stated bound: |A⊗G − GGN|ᵢⱼ ≤ γ_k(u)·Mᵢⱼ with M the same quantity computed from |W| and |x| and k = N·d_L + 2L(w_max + 1) + 4 \
        (G's entries are sums of N·d_L products), u the unit roundoff of the format KFAC ran in (MPFR-256: 2⁻²⁵⁶). The verdict uses \
        the *maximum* ratio over seeds and blocks: exactness fails at a single block. Weights are seeded Gaussians (scale 1/√fan-in), \
        inputs and targets seeded Gaussians. The last layer's block is exact for any activation (its Jacobian does not depend on the \
        sample beyond ā), so only lower layers of the control network count as control blocks; if the control were not caught, the \
        verdict would be undecided (the comparison could not have failed). Weight sharing (expand/reduce) is not covered: the library \
        has no shared-weight layers. KFAC's inverses are not compared: with damping, (A + γI)⁻¹ ⊗ (G + γI)⁻¹ is not the damped GGN \
        inverse even in exact arithmetic, so there is no exact statement to test.
        """
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: [setup, "## Blocks (per format, activation, bias and layer, over seeds)\n\n" + table],
                             plots: [("bound-ratio.svg", plot.svg)])
    }
}
