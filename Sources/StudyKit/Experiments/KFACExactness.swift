import Foundation
import Scalars
import LinearAlgebra
import Networks

/// PAPER-CLAIMS R10 (calibration): for deep linear networks with MSE, KFAC's block A ⊗ G equals the
/// exact GGN block.
///
/// KFAC side, in the cell's format through the library: A = ĀĀᵀ/N from the inputs `MLP.backward`
/// exposes, G = (1/N) Σₙ JₙJₙᵀ from `outputJacobianTransposes` (the type-2 statistic; the loss
/// Hessian of ½‖f − y‖² is I). Exact side, independently in MPFR-256: a forward pass written here,
/// Bₙ = W_L D ⋯ D W_{l+1} (D = diag φ'(s)), the per-sample Jacobian Jₙ = āₙᵀ ⊗ Bₙ (column-stacking vec)
/// assembled entry by entry, and GGN = (1/N) Σₙ JₙᵀJₙ. The componentwise ratio
/// |A ⊗ G − GGN|ᵢⱼ / (γ_k(u)·Mᵢⱼ) with M = (1/N)Σₙ (|āₙ||āₙ|ᵀ) ⊗ (|B|ᵀ|B|) (magnitudes through |W|)
/// and k = N + 2L(w + 1) + 4 must be ≤ 1 for the linear networks. A tanh network is a control: its
/// KFAC block is not exact (Bₙ depends on the sample), so its ratio must exceed 1, which shows that
/// the comparison can fail.
enum KFACExactness: Experiment {
    static let kind = StudyKind.kfacExactness

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
            // KFAC side, in T, through the library.
            let net = try MLP<T>(spec: spec, weights: w64.map { $0.converted(to: T.self) }, accumulation: .perOperation)
            let back = try net.backward(x64.converted(to: T.self), targets: .values(y64.converted(to: T.self)))
            var gK = (0..<layers).map { l in Matrix<T>(rows: widths[l + 1], columns: widths[l + 1]) }
            for s in 0..<n {
                let jt = try net.outputJacobianTransposes(x64.converted(to: T.self).columns(s..<(s + 1)))
                for l in 0..<layers { gK[l] = try gK[l].adding(Matrix.product(jt[l], .none, jt[l], .transposed, accumulation: .perOperation)) }
            }
            // Exact side, in MPFR-256, from the Double weights and inputs.
            let wB = w64.map { $0.converted(to: B.self) }, wAbs = w64.map { $0.map { abs($0) } }
            let gamma = T.gammaBound(n + 2 * layers * ((widths.max() ?? 1) + 1) + 4)
            var worst = 0.0
            for l in 0..<layers {
                let aK = try Matrix.product(back.layers[l].inputs, .none, back.layers[l].inputs, .transposed, accumulation: .perOperation).map { $0 / T(Double(n)) }
                let kfac = aK.kronecker(gK[l].map { $0 / T(Double(n)) }).map { ExperimentSupport.mpfr($0) }
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

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        var table = "| format | activation | bias | seed | layer | ‖A⊗G − GGN‖_F/‖GGN‖_F | γ_k(u) | max ratio to γ_k·M | within bound? |\n|---|---|---|---:|---:|---:|---:|---:|---|\n"
        var linearOK = 0, linearAll = 0, controlCaught = 0, controlAll = 0, errors = 0
        var worstLinear = 0.0, smallestControl = Double.infinity
        var plot = ScatterPlot(title: "KFAC block against exact GGN, componentwise, in units of γ_k(u)·M", xLabel: "layer", yLabel: "max |A⊗G − GGN| / (γ_k·M)", logY: true)
        var series = [String: [(Double, Double)]]()
        let sorted = results.sorted { ($0.precision, $0.parameters["activation"]!, $0.parameters["bias"]!, $0.seed) < ($1.precision, $1.parameters["activation"]!, $1.parameters["bias"]!, $1.seed) }
        for r in sorted {
            let act = r.parameters["activation"]!, linear = act == "identity"
            if r.stepsCompleted == 0 { errors += 1; continue }
            let ratios = r.records.filter { $0.metric == "bound_ratio" }
            for rec in ratios {
                let rel = r.records.first { $0.metric == "relative_difference" && $0.layer == rec.layer }?.value ?? .nan
                let gamma = r.records.first { $0.metric == "gamma" && $0.layer == rec.layer }?.value ?? .nan
                let ok = rec.value <= 1
                table += "| \(r.precision) | \(act) | \(r.parameters["bias"]!) | \(r.seed) | \(rec.layer) | \(Fmt.sig(rel)) | \(Fmt.sig(gamma)) | \(Fmt.sig(rec.value)) | \(ok ? "yes" : "no") |\n"
                series["\(r.precision) \(act) \(r.parameters["bias"]!) bias", default: []].append((Double(rec.layer), max(rec.value, 1e-300)))
                if linear { linearAll += 1; if ok { linearOK += 1 }; worstLinear = max(worstLinear, rec.value) }
                else if rec.layer < (r.parameters["widths"]!.split(separator: ",").count - 2) {
                    // the last layer's block is exact for any activation (B = I): only earlier layers are a control
                    controlAll += 1; if !ok { controlCaught += 1 }; smallestControl = min(smallestControl, rec.value)
                }
            }
        }
        for k in series.keys.sorted() { plot.series.append((k, series[k]!)) }
        let reproduced: Bool? = linearAll == 0 || errors > 0 ? nil : (linearOK == linearAll && controlCaught == controlAll)
        let evidence = "\(linearOK) of \(linearAll) linear-network layer blocks within the componentwise bound γ_k(u)·M (worst ratio \(Fmt.sig(worstLinear))); control (non-linear, layers below the last): \(controlCaught) of \(controlAll) blocks exceed it (smallest ratio \(controlAll == 0 ? "–" : Fmt.sig(smallestControl))); \(errors) cells failed."
        let setup = """
        ## Setting and bound

        KFAC's block A ⊗ G from the library's exposed statistics (Ā of `backward`, G from `outputJacobianTransposes`, both averaged over N samples) \
        is compared entry by entry with the exact GGN block (1/N)Σₙ JₙᵀJₙ assembled independently in MPFR-256 from the weights. \
        Stated bound: |A⊗G − GGN|ᵢⱼ ≤ γ_k(u)·Mᵢⱼ with M the same quantity computed from |W| and |x| and k = N + 2L(w_max + 1) + 4, \
        u the unit roundoff of the format the KFAC side ran in (MPFR-256: 2⁻²⁵⁶). Weights are seeded Gaussians (scale 1/√fan-in), inputs and targets seeded Gaussians. \
        The last layer's block is exact for any activation (its Jacobian does not depend on the sample beyond ā), so only lower layers of the control network count as control blocks. \
        Weight sharing (expand/reduce) is not covered: the library has no shared-weight layers.
        """
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: [setup, "## Blocks\n\n" + table],
                             plots: [("bound-ratio.svg", plot.svg)])
    }
}
