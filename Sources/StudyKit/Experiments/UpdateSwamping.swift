import Foundation
import Scalars
import LinearAlgebra

/// Claim R7 (Docs/Claims.md): bf16 weight writes lose small SGD updates under round-to-nearest; stochastic
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
///
/// *Stall onset.* Near convergence every format stalls (fp32 too: |η·g| falls below half an fp32 ulp),
/// so a stalled fraction alone does not tell RNE-bf16 from fp32. The discriminating statistic is the
/// loss at which a variant first stalls (stalled fraction ≥ `stall_threshold`), relative to the fp64
/// final loss: RNE stalls far above the optimum, fp32 only at it.
///
/// *Spread law* (`accumulation` cells, one per SR seed): `accumulation_streams` streams add seeded
/// increments δ ~ U(0, 2⁻¹²) to x₀ = 1 in bf16, each δ below half an ulp of x (2⁻⁸), under SR and under
/// RNE, against the exact sum in Double. SR is unbiased, so its error is a martingale whose variance
/// grows by about δ·ulp per addition: the spread over streams grows like √n (slope ½ in log–log), not
/// like n. RNE never moves, so its error is the whole sum, n·E[δ] (slope 1): the n·u contrast.
enum UpdateSwamping: Experiment {
    static let kind = StudyKind.updateSwamping
    static let verdictRule = "rne-stalls-early-sr-kahan-recover-sr-spread-sqrt-n"
    static let knownVariants = ["rne", "sr", "kahan", "fp32-master", "fp32", "fp64"]

    struct Parameters {
        var variants: [String]
        var dimension: Int, samples: Int
        var noise: Double, learningRate: Double
        var steps: Int, recordEvery: Int
        var dataSeed: Int, srSeeds: [Int]
        var sanitySteps: Int
        var tolerance: Double, stallThreshold: Double
        var accumulationLengths: [Int], accumulationStreams: Int
        var spreadBand: [Double]
    }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var p = try ExperimentParameters(spec).reader
        let variants = try p.stringArray("variants", allowed: knownVariants)
        let out = Parameters(variants: variants, dimension: try p.int("dimension", range: 1...2000), samples: try p.int("samples", range: 1...20000),
                             noise: try p.double("noise", range: 0...100), learningRate: try p.double("learning_rate", range: 1e-8...10),
                             steps: try p.int("steps", range: 1...1_000_000), recordEvery: try p.int("record_every", range: 1...1_000_000),
                             dataSeed: try p.int("data_seed", range: 0...1_000_000), srSeeds: try p.intArray("sr_seeds", range: 0...1_000_000),
                             sanitySteps: try p.int("sanity_steps", range: 1...1_000_000),
                             tolerance: try p.double("tolerance", range: 0...10), stallThreshold: try p.double("stall_threshold", range: 0...1),
                             accumulationLengths: try p.intArray("accumulation_lengths", range: 1...65_536),
                             accumulationStreams: try p.int("accumulation_streams", range: 2...100_000),
                             spreadBand: try p.band("spread_band", range: 0...2))
        if Set(out.accumulationLengths).count < 3 {
            throw StudyError(file: spec.file, field: "experiment.accumulation_lengths", value: "\(out.accumulationLengths)", reason: "needs at least 3 distinct lengths to fit a slope")
        }
        try p.finish()
        return out
    }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        let p = try parameters(spec)
        let common = ["dimension": "\(p.dimension)", "samples": "\(p.samples)", "noise": NumberText.short(p.noise),
                      "learning_rate": NumberText.short(p.learningRate), "steps": "\(p.steps)", "record_every": "\(p.recordEvery)",
                      "data_seed": "\(p.dataSeed)", "sanity_steps": "\(p.sanitySteps)", "stall_threshold": NumberText.short(p.stallThreshold)]
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
        for s in p.srSeeds {
            let params = ["variant": "accumulation", "lengths": p.accumulationLengths.map(String.init).joined(separator: ","),
                          "streams": "\(p.accumulationStreams)"]
            out.append(PlannedCell(key: experimentKey(spec, "accumulation|\(s)"), label: "accumulation seed=\(s)",
                                   optimizer: nil, precision: "accumulation", seed: s, parameters: params))
        }
        return out
    }

    typealias SR = SimulatedFloat<Rounded<BFloat16Format, Stochastic>>

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        StochasticRounding.withContext(seed: UInt64(cell.seed), stream: cell.key.hashValueStable) {
            switch cell.precision {
            case "sanity": sanity(cell)
            case "accumulation": accumulation(cell)
            default: train(cell)
            }
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

    /// The spread law: `streams` bf16 sums under SR and RNE against the exact sum (see the type's doc).
    /// Records at each length n: `sr_spread` (sample standard deviation over streams of the SR error),
    /// `sr_mean_error` (its mean, ≈ 0 if SR is unbiased), `rne_error` (median |RNE error|).
    static func accumulation(_ cell: PlannedCell) -> CellResult {
        var result = CellResult.experiment(cell)
        let lengths = cell.parameters["lengths"]!.split(separator: ",").map { Int($0)! }.sorted()
        let streams = ExperimentSupport.int(cell, "streams"), longest = lengths.last!
        var srErrors = [[Double]](repeating: [], count: lengths.count), rneErrors = srErrors
        for k in 0..<streams {
            var rng = SplitMix64.stream(seed: UInt64(cell.seed), "accumulation-\(k)")
            var sr = SR(1.0), rne = BFloat16(1.0), exact = 1.0
            var next = 0
            for i in 1...longest {
                // δ is a bf16 value below 2⁻¹², so the Double sum of ≤ 65 536 of them is exact to far below bf16's ulp.
                let delta = BFloat16(Double(rng.next() >> 11) * 0x1p-53 * 0x1p-12)
                sr = sr + SR(delta.doubleValue); rne = rne + delta; exact += delta.doubleValue
                if i == lengths[next] {
                    srErrors[next].append(sr.doubleValue - exact); rneErrors[next].append(abs(rne.doubleValue - exact))
                    next += 1
                }
            }
        }
        for (i, n) in lengths.enumerated() {
            let e = srErrors[i], mean = e.reduce(0, +) / Double(e.count)
            let sd = (e.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(e.count - 1)).squareRoot()
            result.records.append(MetricRecord(step: n, metric: "sr_spread", layer: -1, value: sd))
            result.records.append(MetricRecord(step: n, metric: "sr_mean_error", layer: -1, value: mean))
            result.records.append(MetricRecord(step: n, metric: "rne_error", layer: -1, value: Sample(rneErrors[i]).median ?? .nan))
        }
        result.stepsCompleted = longest
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
        let stallThreshold = ExperimentSupport.double(cell, "stall_threshold")
        var onset: (step: Int, loss: Double)? = nil
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
            if onset == nil && frac >= stallThreshold { onset = (t, loss) }
            if t % every == 0 || t == steps { result.records.append(MetricRecord(step: t, metric: "stall_fraction", layer: -1, value: frac)) }
            if t > steps - max(1, steps / 10) { stallTail.append(frac) }
            result.stepsCompleted = t
        }
        let (final, _) = lossAndGradient(weights())
        result.records.append(MetricRecord(step: result.stepsCompleted, metric: "loss", layer: -1, value: final))
        result.records.append(MetricRecord(step: result.stepsCompleted, metric: "final_stall_fraction", layer: -1,
                                           value: stallTail.isEmpty ? .nan : stallTail.reduce(0, +) / Double(stallTail.count)))
        // Stall onset: the loss before the first update whose stalled fraction reached the threshold;
        // no record when the variant never stalled that much (a NaN record would not compare equal to
        // itself, and the determinism check compares records).
        if let onset { result.records.append(MetricRecord(step: onset.step, metric: "stall_onset_loss", layer: -1, value: onset.loss)) }
        result.finalLoss = final
        return result
    }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        do { return try judged(spec, results) } catch { return .unreadable(error) }
    }

    /// SR's final-loss excess over fp32 against the tolerance, from the bootstrap interval of the
    /// median over seeds: inside [−tol, tol] recovered; wholly above tol not recovered; otherwise
    /// undecided. Any non-finite excess (a diverged seed) is not recovered.
    static func srRecovers(_ excess: [Double], tolerance: Double) -> Bool? {
        if excess.contains(where: { !$0.isFinite }) { return false }
        guard excess.count >= SlopeJudgement.minimumSeeds, let c = Bootstrap.median(excess) else { return nil }
        if c.lower >= -tolerance && c.upper <= tolerance { return true }
        if c.lower > tolerance { return false }
        return nil
    }

    /// RNE stalls before converging, judged on the stall-onset excess (L_onset − L_fp64)/L_fp64: RNE's
    /// must exceed the tolerance, and the control fp32's must not (else the statistic does not
    /// discriminate and the criterion is undecided). A variant that never stalls has onset NaN: for
    /// fp32 that passes the control, for RNE it is "did not stall".
    static func rneStallsEarly(rneOnsetExcess: Double, fp32OnsetExcess: Double, tolerance: Double) -> Bool? {
        if !(fp32OnsetExcess.isNaN || fp32OnsetExcess <= tolerance) { return nil }
        if rneOnsetExcess.isNaN { return false }
        return rneOnsetExcess > tolerance
    }

    /// The report; every threshold is read from the study file, and a parameter that does not parse
    /// is an error naming the field, never a built-in default.
    static func judged(_ spec: StudySpec, _ results: [CellResult]) throws(StudyError) -> StudyFindings {
        let p = try parameters(spec)
        let tol = p.tolerance, stallMin = p.stallThreshold
        let spreadBand = p.spreadBand[0]...p.spreadBand[1]
        func of(_ v: String) -> [CellResult] { results.filter { $0.precision == v } }
        func finals(_ v: String) -> [Double] { of(v).map { $0.divergenceStep == nil ? $0.finalLoss : .nan } }
        func stall(_ v: String) -> [Double] { of(v).compactMap { $0.series("final_stall_fraction").first?.1 } }
        func onsets(_ v: String) -> [Double] { of(v).compactMap { $0.series("stall_onset_loss").first?.1 } }
        func onsetSteps(_ v: String) -> [Double] { of(v).compactMap { c in c.series("stall_onset_loss").first.map { Double($0.0) } } }
        let l32 = Sample(finals("fp32")).median, l64 = Sample(finals("fp64")).median
        func excess(_ l: Double) -> Double { l32.map { (l - $0) / $0 } ?? .nan }
        func onsetExcess(_ l: Double) -> Double { l64.map { (l - $0) / $0 } ?? .nan }
        let order = ["fp64", "fp32", "fp32-master", "kahan", "sr", "rne"].filter { !of($0).isEmpty }
        var table = "| variant | cells | final loss (median [IQR]) | relative excess over fp32 | stalled fraction, last 10 % of steps | first stall (fraction ≥ \(Fmt.sig(stallMin))): step | loss excess over fp64 at first stall | diverged |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for v in order {
            let f = finals(v), on = onsets(v)
            let onText = on.allSatisfy(\.isNaN) ? "never" : Fmt.medianIQR(on.map(onsetExcess))
            let stepText = on.allSatisfy(\.isNaN) ? "–" : Fmt.medianIQR(onsetSteps(v))
            table += "| \(v) | \(of(v).count) | \(Fmt.medianIQR(f)) | \(Fmt.medianIQR(f.map(excess))) | \(Fmt.medianIQR(stall(v))) | \(stepText) | \(onText) | \(of(v).filter { $0.divergenceStep != nil }.count) |\n"
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
        // Spread law: per-seed log–log slopes of SR's spread (and of RNE's error, the contrast) in n.
        let acc = of("accumulation")
        func slopes(_ metric: String) -> (slopes: [Double], excluded: Int) {
            var out = [Double](), excluded = 0
            for c in acc {
                let s = c.series(metric)
                let lf = (try? Statistics.logLogSlope(x: s.map { Double($0.0) }, y: s.map(\.1))) ?? nil
                out.append(lf?.slope ?? .nan); excluded += lf?.excludedCount ?? s.count
            }
            return (out, excluded)
        }
        let srSlopes = slopes("sr_spread"), rneSlopes = slopes("rne_error")
        let spread = SlopeJudgement(slopes: srSlopes.slopes, band: spreadBand)
        let rneLaw = SlopeJudgement(slopes: rneSlopes.slopes, band: spreadBand)
        let lengths = p.accumulationLengths.sorted()
        let u = 0x1p-8   // bf16 unit roundoff 2⁻⁸ (8 significand bits)
        var spreadTable = "| n | SR spread over streams (median [95 % CI] over seeds) | spread / (√n·u) | SR mean error | RNE median abs. error | RNE error / (n·u) |\n|---:|---:|---:|---:|---:|---:|\n"
        func at(_ metric: String, _ n: Int) -> [Double] { acc.compactMap { c in c.series(metric).first { $0.0 == n }?.1 } }
        func ciText(_ v: [Double]) -> String {
            guard let c = Bootstrap.median(v) else { return "–" }
            return "\(Fmt.sig(c.estimate)) [\(Fmt.sig(c.lower)), \(Fmt.sig(c.upper))]"
        }
        for n in lengths {
            let sp = at("sr_spread", n), re = at("rne_error", n)
            spreadTable += "| \(n) | \(ciText(sp)) | \(Fmt.sig((Sample(sp).median ?? .nan) / (Double(n).squareRoot() * u))) | \(Fmt.sig(Sample(at("sr_mean_error", n)).median ?? .nan)) | \(ciText(re)) | \(Fmt.sig((Sample(re).median ?? .nan) / (Double(n) * u))) |\n"
        }
        spreadTable += "\nFitted log–log slope in n, median [95 % CI] over seeds: SR spread \(spread.text) (band [\(Fmt.sig(spreadBand.lowerBound)), \(Fmt.sig(spreadBand.upperBound))]: \(spread.label)); RNE error \(rneLaw.text) (the n·u contrast, not judged). Points left out of the fits (non-finite or ≤ 0): SR \(srSlopes.excluded), RNE \(rneSlopes.excluded).\n"

        // Verdict: every criterion must hold; an undecided one makes the verdict undecided.
        let rneOnset = onsetExcess(Sample(onsets("rne")).median ?? .nan)
        let fp32Onset = onsetExcess(Sample(onsets("fp32")).median ?? .nan)
        let rneEx = Sample(finals("rne").map(excess)).median ?? .nan
        let srEx = finals("sr").map(excess), kahanEx = Sample(finals("kahan").map(excess)).median ?? .nan
        let stallsEarly = rneStallsEarly(rneOnsetExcess: rneOnset, fp32OnsetExcess: fp32Onset, tolerance: tol)
        let plateau: Bool? = rneEx.isNaN ? nil : rneEx > tol
        let sr = srRecovers(srEx, tolerance: tol)
        let kahan: Bool? = kahanEx.isNaN ? nil : abs(kahanEx) <= tol
        let sane: Bool? = rneFinal.isNaN ? nil : rneFinal == 1
        let criteria: [(String, Bool?)] = [("RNE stalls before converging", stallsEarly), ("RNE plateaus above fp32", plateau),
                                           ("SR recovers fp32", sr), ("Kahan recovers fp32", kahan), ("sanity 1 + 0.001", sane),
                                           ("SR spread ∝ √n", spread.reproduced)]
        let reproduced = allHold(criteria.map(\.1))
        let srCI = Bootstrap.median(srEx)
        let evidence = "RNE first stalls at loss excess \(Fmt.sig(rneOnset)) over fp64 (fp32 control: \(fp32Onset.isNaN ? "never stalls" : Fmt.sig(fp32Onset))); RNE final excess over fp32 \(Fmt.sig(rneEx)) (needs > \(Fmt.sig(tol))); SR excess median \(srCI.map { "\(Fmt.sig($0.estimate)) [\(Fmt.sig($0.lower)), \(Fmt.sig($0.upper))]" } ?? "–") over \(srEx.count) seeds and Kahan excess \(Fmt.sig(kahanEx)) (need within ±\(Fmt.sig(tol))); SR spread slope in n \(spread.text) (band [\(Fmt.sig(spreadBand.lowerBound)), \(Fmt.sig(spreadBand.upperBound))]), RNE error slope \(rneLaw.text); sanity: 1 + 0.001 × \(nSanity) in bf16 RNE = \(Fmt.sig(rneFinal))."
        let criteriaTable = "| criterion | outcome |\n|---|---|\n" + criteria.map { "| \($0.0) | \(Verdict(reproduced: $0.1, evidence: "").label) |" }.joined(separator: "\n") + "\n"
        // Plots: loss curves (SR: median over seeds); stall fraction against the loss excess over fp64
        // (the verdict's variable); the spread law.
        var lossSeries = [PlotSeries](), stallSeries = [PlotSeries]()
        for v in order {
            let cells = of(v)
            guard let first = cells.first else { continue }
            let steps = first.series("loss").map(\.0)
            let losses = steps.indices.map { i in Sample(cells.compactMap { $0.series("loss").count > i ? $0.series("loss")[i].1 : nil }).median ?? .nan }
            lossSeries.append(PlotSeries(name: v == "sr" ? "sr (median of \(cells.count))" : v, points: zip(steps, losses).map { PlotPoint(x: Double(max($0, 1)), y: $1) }))
            // Loss is recorded before update t at step t − 1; the stalled fraction of update t at step t.
            let lossAt = Dictionary(first.series("loss").map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
            let pts = first.series("stall_fraction").compactMap { s -> PlotPoint? in
                guard let l = lossAt[s.0 - 1], let l64 else { return nil }
                let e = (l - l64) / l64
                return e > 0 ? PlotPoint(x: e, y: s.1) : nil
            }
            stallSeries.append(PlotSeries(name: v == "sr" ? "sr (seed \(first.seed))" : v, points: pts))
        }
        let lossPlot = SVGPlot(title: "Least-squares SGD with bf16 weight writes", x: PlotAxis("step", scale: .log10), y: PlotAxis("loss", scale: .log10), series: lossSeries).render()
        let stallPlot = SVGPlot(title: "Fraction of non-zero updates lost in the write, against distance to the optimum", x: PlotAxis("(L − L_fp64)/L_fp64 (> 0 only)", scale: .log10), y: PlotAxis("stalled fraction"), series: stallSeries).render()
        var spreadPlot = ScatterPlot(title: "Error of n bf16 additions of δ < ½ulp", xLabel: "n", yLabel: "SR spread over streams; RNE |error|", logX: true, logY: true)
        spreadPlot.series.append(("SR spread (per seed)", acc.flatMap { $0.series("sr_spread").map { (Double($0.0), $0.1) } }))
        spreadPlot.series.append(("RNE |error| (per seed)", acc.flatMap { $0.series("rne_error").map { (Double($0.0), $0.1) } }))
        spreadPlot.fit = (try? Statistics.logLogSlope(x: acc.flatMap { $0.series("sr_spread").map { Double($0.0) } }, y: acc.flatMap { $0.series("sr_spread").map(\.1) })) ?? nil
        let setup = """
        ## Setting

        d = \(p.dimension), n = \(p.samples), noise σ = \(Fmt.sig(p.noise)), η = \(Fmt.sig(p.learningRate)), \(p.steps) full-batch steps from w = 0; \
        gradient and intended update in Double from the stored weights; only the write differs between variants. \
        Relative excess = (L − L_fp32)/L_fp32 at the last step; tolerance \(Fmt.sig(tol)); SR over \(p.srSeeds.count) seeds, judged on the \
        95 % bootstrap interval of the median excess (inside ±tol: recovered; wholly above: not; otherwise undecided).

        *Why not the stalled fraction at the end:* near the optimum every format stalls, fp32 included (its last-10 % stalled \
        fraction is in the table), so that number does not discriminate. The verdict uses the loss at which a variant *first* \
        loses ≥ \(Fmt.sig(stallMin)) of its non-zero updates, relative to the fp64 final loss: RNE stalls far from the optimum, \
        fp32 at it (the control: fp32's onset excess must be ≤ tol).

        *Spread law:* \(p.accumulationStreams) streams per SR seed add δ ~ U(0, 2⁻¹²), rounded to bf16, to x₀ = 1 in bf16 (every δ is \
        below half an ulp of x, 2⁻⁸), for n = \(lengths.map(String.init).joined(separator: ", ")) additions, against the exact sum. \
        SR's error has mean ≈ 0 and variance ≈ n·E[δ]·ulp, so its spread grows like √n; RNE never moves, so its error is the sum \
        itself, ≈ n·E[δ]. The spread per (√n·u) is constant in n when the law holds; its level √(E[δ]/ulp)·2 depends on δ, not on n.
        """
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: [setup, "## Criteria\n\n" + criteriaTable, "## Final loss and stalled updates\n\n" + table,
                                        "## Spread of SR over n additions\n\n" + spreadTable, sanity],
                             plots: [("loss.svg", lossPlot), ("stall-fraction.svg", stallPlot), ("spread-vs-n.svg", spreadPlot.svg)])
    }
}
