import Foundation
import Scalars
import LinearAlgebra

/// PAPER-CLAIMS R7: bf16 weight writes lose small SGD updates under round-to-nearest; stochastic
/// rounding, Kahan compensation and an fp32 master copy recover them.
///
/// Full-batch SGD on least squares f(w) = ‖Xw − y‖²/(2n) with seeded Gaussian X (n × d), w* and
/// noise. The gradient g = Xᵀ(Xw − y)/n and the intended update u = η·g are computed in Double from
/// the stored weights (the study isolates the write). Variants of the write w ← w − u:
/// `rne` bf16 round-to-nearest-even of the exact difference; `sr` bf16 stochastic rounding (one cell
/// per seed); `kahan` bf16 weights with a bf16 compensation buffer c (y = bf16(−u) − c; t = w + y;
/// c = (t − w) − y; w = t, every operation bf16 RNE); `fp32-master` an fp32 master m ← m − u in fp32
/// with bf16 copy bf16(m) used for the gradient; baselines `fp32` and `fp64` (weights in that type).
/// A stalled update is an entry whose intended update is non-zero but whose stored value did not change.
enum UpdateSwamping: Experiment {
    static let kind = StudyKind.updateSwamping
    static let knownVariants = ["rne", "sr", "kahan", "fp32-master", "fp32", "fp64"]

    struct Parameters {
        var variants: [String]
        var dimension: Int, samples: Int
        var noise: Double, learningRate: Double
        var steps: Int, recordEvery: Int
        var dataSeed: Int, srSeeds: [Int]
        var sanitySteps: Int
        var tolerance: Double, stallThreshold: Double
    }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var p = try ExperimentParameters(spec).reader
        let variants = try p.stringArray("variants", allowed: knownVariants)
        let out = Parameters(variants: variants, dimension: try p.int("dimension", range: 1...2000), samples: try p.int("samples", range: 1...20000),
                             noise: try p.double("noise", range: 0...100), learningRate: try p.double("learning_rate", range: 1e-8...10),
                             steps: try p.int("steps", range: 1...1_000_000), recordEvery: try p.int("record_every", range: 1...1_000_000),
                             dataSeed: try p.int("data_seed", range: 0...1_000_000), srSeeds: try p.intArray("sr_seeds", range: 0...1_000_000),
                             sanitySteps: try p.int("sanity_steps", range: 1...1_000_000),
                             tolerance: try p.double("tolerance", range: 0...10), stallThreshold: try p.double("stall_threshold", range: 0...1))
        try p.finish()
        return out
    }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        let p = try parameters(spec)
        let common = ["dimension": "\(p.dimension)", "samples": "\(p.samples)", "noise": NumberText.short(p.noise),
                      "learning_rate": NumberText.short(p.learningRate), "steps": "\(p.steps)", "record_every": "\(p.recordEvery)",
                      "data_seed": "\(p.dataSeed)", "sanity_steps": "\(p.sanitySteps)"]
        var out = [PlannedCell]()
        func add(_ v: String, seed: Int) {
            var params = common; params["variant"] = v
            out.append(PlannedCell(key: experimentKey(spec, "\(v)|\(seed)"), label: v == "sr" ? "sr seed=\(seed)" : v,
                                   optimizer: nil, precision: v, seed: seed, parameters: params))
        }
        add("sanity", seed: 0)
        for v in p.variants {
            if v == "sr" { for s in p.srSeeds { add(v, seed: s) } } else { add(v, seed: 0) }
        }
        return out
    }

    typealias SR = SimulatedFloat<Rounded<BFloat16Format, Stochastic>>

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        StochasticRounding.withContext(seed: UInt64(cell.seed), stream: cell.key.hashValueStable) {
            cell.precision == "sanity" ? sanity(cell) : train(cell)
        }
    }

    /// 1.0 + 0.001, repeated, in bf16 under RNE and under SR.
    static func sanity(_ cell: PlannedCell) -> CellResult {
        var result = CellResult.experiment(cell)
        let n = ExperimentSupport.int(cell, "sanity_steps")
        var x = BFloat16(1.0), s = SR(1.0)
        let dx = BFloat16(0.001), ds = SR(0.001)
        var moved = 0
        for _ in 0..<n { let before = x; x = x + dx; if x != before { moved += 1 } ; s = s + ds }
        result.records.append(MetricRecord(step: n, metric: "sanity_rne_final", layer: -1, value: x.doubleValue))
        result.records.append(MetricRecord(step: n, metric: "sanity_rne_moves", layer: -1, value: Double(moved)))
        result.records.append(MetricRecord(step: n, metric: "sanity_sr_final", layer: -1, value: s.doubleValue))
        result.records.append(MetricRecord(step: n, metric: "sanity_exact_final", layer: -1, value: 1 + Double(n) * BFloat16(0.001).doubleValue))
        result.stepsCompleted = n
        result.finalLoss = x.doubleValue
        return result
    }

    static func train(_ cell: PlannedCell) -> CellResult {
        var result = CellResult.experiment(cell)
        let d = ExperimentSupport.int(cell, "dimension"), n = ExperimentSupport.int(cell, "samples")
        let noise = ExperimentSupport.double(cell, "noise"), eta = ExperimentSupport.double(cell, "learning_rate")
        let steps = ExperimentSupport.int(cell, "steps"), every = ExperimentSupport.int(cell, "record_every")
        let seed = UInt64(ExperimentSupport.int(cell, "data_seed"))
        let x = ExperimentSupport.gaussian(rows: n, columns: d, seed: seed, "swamp-X").elements
        let wStar = ExperimentSupport.gaussian(rows: d, columns: 1, seed: seed, "swamp-w").elements
        let eps = ExperimentSupport.gaussian(rows: n, columns: 1, seed: seed, "swamp-noise").elements
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n { var s = 0.0; for j in 0..<d { s += x[i * d + j] * wStar[j] }; y[i] = s + noise * eps[i] }
        func lossAndGradient(_ w: [Double]) -> (Double, [Double]) {
            var g = [Double](repeating: 0, count: d), loss = 0.0
            for i in 0..<n {
                var r = -y[i]
                for j in 0..<d { r += x[i * d + j] * w[j] }
                loss += r * r
                for j in 0..<d { g[j] += x[i * d + j] * r }
            }
            return (loss / Double(2 * n), g.map { $0 / Double(n) })
        }
        // State of each variant; `stored` is the value of record whose changes count as moves.
        var w64 = [Double](repeating: 0, count: d)
        var w32 = [Float](repeating: 0, count: d)
        var wb = [BFloat16](repeating: 0, count: d), cb = [BFloat16](repeating: 0, count: d)
        var ws = [SR](repeating: 0, count: d)
        let variant = cell.precision
        func weights() -> [Double] {
            switch variant {
            case "fp64": w64
            case "fp32", "fp32-master": variant == "fp32" ? w32.map(Double.init) : wb.map(\.doubleValue)
            case "sr": ws.map(\.doubleValue)
            default: wb.map(\.doubleValue)
            }
        }
        var stallTail = [Double]()
        for t in 1...steps {
            let (loss, g) = lossAndGradient(weights())
            if !loss.isFinite {
                result.divergenceStep = t; result.divergenceReason = "non-finite loss"
                result.events.append(EventRecord(step: t, layer: -1, kind: "non-finite", detail: "loss", value: loss)); break
            }
            if t == 1 || t % every == 0 { result.records.append(MetricRecord(step: t - 1, metric: "loss", layer: -1, value: loss)) }
            var intended = 0, stalled = 0
            for j in 0..<d {
                let u = eta * g[j]
                if u != 0 { intended += 1 }
                let changed: Bool
                switch variant {
                case "fp64": let o = w64[j]; w64[j] = o - u; changed = w64[j] != o
                case "fp32", "fp32-master":
                    // fp32 master (for fp32-master, w32 is the master and wb its bf16 copy)
                    let o = w32[j]; w32[j] = o - Float(u); changed = w32[j] != o
                    if variant == "fp32-master" { wb[j] = BFloat16(Double(w32[j])) }
                case "rne": let o = wb[j]; wb[j] = BFloat16(o.doubleValue - u); changed = wb[j] != o
                case "sr": let o = ws[j]; ws[j] = SR(o.doubleValue - u); changed = ws[j] != o
                case "kahan":
                    let o = wb[j]
                    let yk = BFloat16(-u) - cb[j]
                    let tk = o + yk
                    cb[j] = (tk - o) - yk
                    wb[j] = tk; changed = tk != o
                default: changed = true
                }
                if u != 0 && !changed { stalled += 1 }
            }
            let frac = intended == 0 ? 0 : Double(stalled) / Double(intended)
            if t % every == 0 || t == steps { result.records.append(MetricRecord(step: t, metric: "stall_fraction", layer: -1, value: frac)) }
            if t > steps - max(1, steps / 10) { stallTail.append(frac) }
            result.stepsCompleted = t
        }
        let (final, _) = lossAndGradient(weights())
        result.records.append(MetricRecord(step: result.stepsCompleted, metric: "loss", layer: -1, value: final))
        result.records.append(MetricRecord(step: result.stepsCompleted, metric: "final_stall_fraction", layer: -1,
                                           value: stallTail.isEmpty ? .nan : stallTail.reduce(0, +) / Double(stallTail.count)))
        result.finalLoss = final
        return result
    }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        let p = try? parameters(spec)
        let tol = p?.tolerance ?? 0.05, stallMin = p?.stallThreshold ?? 0.9
        func of(_ v: String) -> [CellResult] { results.filter { $0.precision == v } }
        func finals(_ v: String) -> [Double] { of(v).map { $0.divergenceStep == nil ? $0.finalLoss : .nan } }
        func stall(_ v: String) -> [Double] { of(v).compactMap { $0.series("final_stall_fraction").first?.1 } }
        let l32 = Sample(finals("fp32")).median
        func excess(_ l: Double) -> Double { l32.map { (l - $0) / $0 } ?? .nan }
        let order = ["fp64", "fp32", "fp32-master", "kahan", "sr", "rne"].filter { !of($0).isEmpty }
        var table = "| variant | cells | final loss (median [IQR]) | relative excess over fp32 | stalled fraction, last 10 % of steps | diverged |\n|---|---:|---:|---:|---:|---:|\n"
        for v in order {
            let f = finals(v)
            table += "| \(v) | \(of(v).count) | \(Fmt.medianIQR(f)) | \(Fmt.medianIQR(f.map(excess))) | \(Fmt.medianIQR(stall(v))) | \(of(v).filter { $0.divergenceStep != nil }.count) |\n"
        }
        let sanityCell = of("sanity").first
        let rneFinal = sanityCell?.series("sanity_rne_final").first?.1 ?? .nan
        let rneMoves = sanityCell?.series("sanity_rne_moves").first?.1 ?? .nan
        let srFinal = sanityCell?.series("sanity_sr_final").first?.1 ?? .nan
        let exactFinal = sanityCell?.series("sanity_exact_final").first?.1 ?? .nan
        let nSanity = sanityCell?.stepsCompleted ?? 0
        let sanity = """
        ## Sanity case

        x ← x + 0.001 repeated \(nSanity) times from x = 1 in bf16: RNE ends at \(Fmt.sig(rneFinal)) after \(Fmt.sig(rneMoves)) moves; \
        SR ends at \(Fmt.sig(srFinal)); exact sum of the bf16 increment: \(Fmt.sig(exactFinal)). (0.001 is below half an ulp of 1 in bf16, 2⁻⁸ ≈ 0.0039.)
        """
        // Verdict
        let rneEx = Sample(finals("rne").map(excess)).median, rneStall = Sample(stall("rne")).median
        let srEx = finals("sr").map(excess), kahanEx = Sample(finals("kahan").map(excess)).median
        var reproduced: Bool? = nil
        if let l32, l32.isFinite, let rneEx, let rneStall, !srEx.isEmpty, let kahanEx, !rneFinal.isNaN {
            let srMax = srEx.contains(where: \.isNaN) ? Double.infinity : srEx.max()!
            reproduced = rneFinal == 1 && rneStall >= stallMin && rneEx > tol && srMax <= tol && kahanEx <= tol
        }
        let srText = srEx.isEmpty ? "–" : "max \(Fmt.sig(srEx.max()!)) over \(srEx.count) seeds (median \(Fmt.sig(Sample(srEx).median ?? .nan)))"
        let evidence = "fp32 final loss \(Fmt.sig(l32 ?? .nan)); RNE: excess \(Fmt.sig(rneEx ?? .nan)), stalled fraction \(Fmt.sig(rneStall ?? .nan)) (needs > \(Fmt.sig(tol)) and ≥ \(Fmt.sig(stallMin))); SR excess \(srText), Kahan excess \(Fmt.sig(kahanEx ?? .nan)) (need ≤ \(Fmt.sig(tol))); sanity: 1 + 0.001 × \(nSanity) in bf16 RNE = \(Fmt.sig(rneFinal))."
        // Plots: loss curves (SR: median over seeds) and stall fraction.
        var lossSeries = [PlotSeries](), stallSeries = [PlotSeries]()
        for v in order {
            let cells = of(v)
            guard let first = cells.first else { continue }
            let steps = first.series("loss").map(\.0)
            let losses = steps.indices.map { i in Sample(cells.compactMap { $0.series("loss").count > i ? $0.series("loss")[i].1 : nil }).median ?? .nan }
            lossSeries.append(PlotSeries(name: v == "sr" ? "sr (median of \(cells.count))" : v, points: zip(steps, losses).map { PlotPoint(x: Double(max($0, 1)), y: $1) }))
            let ss = first.series("stall_fraction")
            let stalls = ss.indices.map { i in Sample(cells.compactMap { $0.series("stall_fraction").count > i ? $0.series("stall_fraction")[i].1 : nil }).median ?? .nan }
            stallSeries.append(PlotSeries(name: v, points: zip(ss, stalls).map { PlotPoint(x: Double($0.0), y: $1) }))
        }
        let lossPlot = SVGPlot(title: "Least-squares SGD with bf16 weight writes", x: PlotAxis("step", scale: .log10), y: PlotAxis("loss", scale: .log10), series: lossSeries).render()
        let stallPlot = SVGPlot(title: "Fraction of non-zero updates lost in the write", x: PlotAxis("step"), y: PlotAxis("stalled fraction"), series: stallSeries).render()
        let setup = """
        ## Setting

        \(p.map { "d = \($0.dimension), n = \($0.samples), noise σ = \(Fmt.sig($0.noise)), η = \(Fmt.sig($0.learningRate)), \($0.steps) full-batch steps from w = 0; " } ?? "")\
        gradient and intended update in Double from the stored weights; only the write differs between variants. \
        Relative excess = (L − L_fp32)/L_fp32 at the last step; tolerance \(Fmt.sig(tol)).
        """
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: [setup, "## Final loss and stalled updates\n\n" + table, sanity],
                             plots: [("loss.svg", lossPlot), ("stall-fraction.svg", stallPlot)])
    }
}
