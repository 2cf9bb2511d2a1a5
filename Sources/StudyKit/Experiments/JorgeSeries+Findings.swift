import Foundation
import Scalars
import Optimizers

/// R5's verdict, tables and plots.
///
/// Verdict rule (also stated in `Studies/r5-jorge-series.toml`); reproduced iff (a), (b) and (c) hold:
/// - (a) *Small when ‖X‖ ≪ 1 and commuting.* In every commuting cell (synthetic stream, mixing θ = 0)
///   and every precision P whose bound is informative (`T(n+4)u_P < 0.1`), the error after every step t
///   stays below `B_t = exp(Σ_{k≤t} e_k) − 1` with `e_k = (15/128)·2^{1/4}·ρ_k³ + (n+4)u_P`. Why: with
///   commuting factors the update is exact per eigen-direction except for the truncation of the
///   alternating series `(1+y)^{-1/4}`, whose remainder is below its first omitted term `15y³/128`,
///   divided by `(1+y)^{-1/4} ≥ 2^{-1/4}` for y ≤ 1; per step, rounding adds at most γ_n for `L̂·P`,
///   two roundings in `P`, one in `s` and one in the rounded constant `s` (first order: `(n+4)u`).
///   For ρ ≪ u^{1/3} this is `B_t ≈ t(n+4)u`, a multiple of u.
/// - (b) *Grows with ‖X‖ and the commutator.* Over the fixed-rule fp64 cells of the synthetic streams
///   (fp64: the series error alone), Spearman's rank correlation of the final error with the median
///   series argument ρ(Y), within each mixing θ, and with the median commutator, within each β2,
///   is at least `correlation_threshold` in every group.
/// - (c) *Accumulates.* In every fixed-rule group, the median (over seeds) fp64 error after the last
///   step exceeds the one after step 1.
/// bf16 "degrades gracefully" (reported, not part of the verdict) iff no non-finite event occurs in bf16,
/// its median final error is below 1, and the rounding drift from the fp64 run scales like u: the
/// log–log slope of the median final drift against u over the low-precision formats lies in `slope_band`.
extension JorgeSeries {
    struct CellView {
        let stream: String, rule: String, beta2: String, mixing: Double?, seed: Int, n: Int
        let result: CellResult
        func series(_ metric: String) -> [Double] { result.series(metric).map(\.1) }
        func final(_ metric: String) -> Double { series(metric).last ?? .nan }
        var group: String { "\(stream), \(rule), β2=\(beta2)" }
    }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        let p = try? parameters(spec)
        let threshold = p?.correlationThreshold ?? 0.5, band = p?.slopeBand ?? [0.5, 1.5]
        let cells = results.map { r in
            CellView(stream: r.parameters["stream"] == "synthetic" ? "synthetic θ=\(r.parameters["mixing"]!)" : "mlp",
                     rule: r.parameters["rule"]!, beta2: r.parameters["beta2"]!,
                     mixing: r.parameters["stream"] == "synthetic" ? Double(r.parameters["mixing"]!) : nil, seed: r.seed,
                     n: Int(r.series("dimension").first?.1 ?? 0), result: r)
        }
        let precisions = ["fp64"] + (p?.precisions ?? []).filter { $0 != "fp64" }
        let groups = Array(Set(cells.map(\.group))).sorted()
        func u(_ precision: String) -> Double { PolicyCatalogue.entry(named: precision)?.weightUnitRoundoff ?? .nan }

        // Table: final error by group and precision.
        var table = "| stream | rule | β2 | median ρ(Y) | median commutator |" + precisions.map { " \($0) final error |" }.joined()
            + "\n|---|---|---|---:|---:|" + precisions.map { _ in "---:|" }.joined() + "\n"
        for g in groups {
            let cs = cells.filter { $0.group == g }
            let rho = Sample(cs.flatMap { $0.series("rho@fp64") }).median ?? .nan
            let comm = Sample(cs.flatMap { $0.series("commutator@fp64") }).median ?? .nan
            table += "| \(cs[0].stream) | \(cs[0].rule) | \(cs[0].beta2) | \(Fmt.sig(rho)) | \(Fmt.sig(comm)) |"
                + precisions.map { pr in " \(Fmt.medianIQR(cs.map { $0.final("error@\(pr)") })) |" }.joined() + "\n"
        }

        // (a) bound on commuting cells.
        var boundTable = "| precision | u | T(n+4)u | commuting cells checked | steps checked | violations | worst error / bound |\n|---|---:|---:|---:|---:|---:|---:|\n"
        var checkedA = 0, violationsA = 0
        let commuting = cells.filter { $0.mixing == 0 }
        for pr in precisions {
            let up = u(pr)
            var checkedCells = 0, steps = 0, violations = 0, worst = 0.0, informative = 0.0
            for c in commuting {
                let err = c.series("error@\(pr)"), rho = c.series("rho@\(pr)")
                informative = Double(err.count * (c.n + 4)) * up
                guard informative < 0.1, err.count == rho.count else { continue }
                checkedCells += 1
                var sum = 0.0
                for t in err.indices {
                    sum += 15.0 / 128 * Double.pow(2, 0.25) * Double.pow(rho[t].isFinite ? rho[t] : .infinity, 3) + Double(c.n + 4) * up
                    let bound = Double.exp(sum) - 1
                    steps += 1
                    if !(err[t] <= bound) { violations += 1 }
                    if bound > 0 { worst = max(worst, err[t] / bound) }
                }
            }
            checkedA += checkedCells; violationsA += violations
            boundTable += "| \(pr) | \(Fmt.sig(up)) | \(commuting.isEmpty ? "–" : Fmt.sig(informative)) | \(checkedCells) | \(steps) | \(violations) | \(checkedCells > 0 ? Fmt.sig(worst) : "–") |\n"
        }
        let okA: Bool? = checkedA == 0 ? nil : violationsA == 0

        // (b) rank correlations on the synthetic fixed-rule fp64 cells.
        let fixedSynthetic = cells.filter { $0.rule == "fixed" && $0.mixing != nil }
        var corrTable = "| grouping | group | cells | Spearman(final error, median ρ(Y)) | Spearman(final error, median commutator) |\n|---|---|---:|---:|---:|\n"
        var corrValues = [Double](), corrMissing = 0
        for m in Array(Set(fixedSynthetic.compactMap(\.mixing))).sorted() {
            let cs = fixedSynthetic.filter { $0.mixing == m }
            let r = RootStatisticsSupport.spearman(cs.map { Sample($0.series("rho@fp64")).median ?? .nan }, cs.map { $0.final("error@fp64") })
            if let r { corrValues.append(r) } else { corrMissing += 1 }
            corrTable += "| mixing θ | \(NumberText.short(m)) | \(cs.count) | \(r.map(Fmt.sig) ?? "–") | |\n"
        }
        for b in Array(Set(fixedSynthetic.map(\.beta2))).sorted() {
            let cs = fixedSynthetic.filter { $0.beta2 == b }
            let r = RootStatisticsSupport.spearman(cs.map { Sample($0.series("commutator@fp64")).median ?? .nan }, cs.map { $0.final("error@fp64") })
            if let r { corrValues.append(r) } else { corrMissing += 1 }
            corrTable += "| β2 | \(b) | \(cs.count) | | \(r.map(Fmt.sig) ?? "–") |\n"
        }
        let okB: Bool? = corrValues.isEmpty ? nil : corrValues.allSatisfy { $0 >= threshold }

        // (c) accumulation in fixed-rule groups.
        var accTable = "| group | median fp64 error after step 1 | after the last step | grew? |\n|---|---:|---:|---|\n"
        var grew = 0, accGroups = 0
        for g in groups where g.contains(", fixed, ") {
            let cs = cells.filter { $0.group == g }
            let first = Sample(cs.map { $0.series("error@fp64").first ?? .nan }).median ?? .nan
            let last = Sample(cs.map { $0.final("error@fp64") }).median ?? .nan
            accGroups += 1
            if last > first { grew += 1 }
            accTable += "| \(g) | \(Fmt.sig(first)) | \(Fmt.sig(last)) | \(last > first ? "yes" : "no") |\n"
        }
        let okC: Bool? = accGroups == 0 ? nil : grew == accGroups

        // Rounding drift against u (graceful degradation).
        let low = precisions.filter { $0 != "fp64" }
        var driftTable = "| precision | u | median final drift from fp64 | drift / u | median final error | non-finite events |\n|---|---:|---:|---:|---:|---:|\n"
        var us = [Double](), drifts = [Double]()
        for pr in low {
            let d = Sample(cells.map { $0.final("drift@\(pr)") }).median ?? .nan
            let e = Sample(cells.map { $0.final("error@\(pr)") }).median ?? .nan
            let nonFinite = cells.reduce(0) { $0 + $1.result.events.filter { $0.kind == "non-finite" && $0.detail.hasPrefix("\(pr):") }.count }
            us.append(u(pr)); drifts.append(d)
            driftTable += "| \(pr) | \(Fmt.sig(u(pr))) | \(Fmt.sig(d)) | \(Fmt.sig(d / u(pr))) | \(Fmt.sig(e)) | \(nonFinite) |\n"
        }
        let driftFit = try? Statistics.logLogSlope(x: us, y: drifts)
        var graceful = "bf16 not run"
        if low.contains("bf16") {
            let nonFinite = cells.reduce(0) { $0 + $1.result.events.filter { $0.kind == "non-finite" && $0.detail.hasPrefix("bf16:") }.count }
            let e = Sample(cells.map { $0.final("error@bf16") }).median ?? .nan
            let slopeOK = driftFit.map { $0.slope >= band[0] && $0.slope <= band[1] } ?? false
            let ok = nonFinite == 0 && e < 1 && slopeOK
            graceful = "bf16 degrades \(ok ? "gracefully" : "not gracefully") (non-finite events \(nonFinite), median final error \(Fmt.sig(e)), drift-vs-u slope \(driftFit.map { Fmt.sig($0.slope) } ?? "–") against [\(Fmt.sig(band[0])), \(Fmt.sig(band[1]))])"
        }

        // The rounded keep-s scale: a systematic per-step factor error in every fixed-rule update.
        let betas = Array(Set(cells.filter { $0.rule == "fixed" }.compactMap { Double($0.beta2) })).sorted()
        let lastStep = cells.map { $0.series("error@fp64").count }.max() ?? 0
        var scaleTable = "| β2 | s = β2^{-1/4} |" + low.map { " \($0): (s_T/s − 1)·T |" }.joined() + "\n|---:|---:|" + low.map { _ in "---:|" }.joined() + "\n"
        for b in betas {
            let exact = Double.pow(b, -0.25)
            scaleTable += "| \(NumberText.short(b)) | \(Fmt.sig(exact)) |" + low.map { pr in
                guard let type = try? ExperimentSupport.format(named: pr) else { return " – |" }
                let rel = roundedThroughFormat(type, exact) / exact - 1
                return " \(Fmt.sig(rel * Double(lastStep))) |"
            }.joined() + "\n"
        }

        // Flops.
        let dims = Array(Set(cells.map(\.n))).sorted()
        var flopTable = "| n (side of L) | Jorge update 10n³ | eigh + Q·diag·Qᵀ 11n³ | coupled Newton per iteration 8n³ | Jorge / eigh |\n|---:|---:|---:|---:|---:|\n"
        for n in dims {
            let c = Double(n * n * n)
            flopTable += "| \(n) | \(Fmt.sig(10 * c)) | \(Fmt.sig(11 * c)) | \(Fmt.sig(8 * c)) | \(Fmt.sig(10.0 / 11)) |\n"
        }

        let parts: [Bool?] = [okA, okB, okC]
        let reproduced: Bool? = parts.contains { $0 == nil } ? nil : parts.allSatisfy { $0 == true }
        let minCorr = corrValues.min()
        let evidence = "(a) \(violationsA) bound violations over \(checkedA) commuting cell×precision runs; (b) smallest Spearman correlation \(minCorr.map(Fmt.sig) ?? "–") over \(corrValues.count) groups (threshold \(Fmt.sig(threshold))\(corrMissing > 0 ? ", \(corrMissing) undefined" : "")); (c) error grew from step 1 to the last step in \(grew) of \(accGroups) fixed-rule groups; \(graceful)."

        // Plots.
        var plots = [(name: String, svg: String)]()
        let steps = cells.map { $0.series("error@fp64").count }.max() ?? 0
        let xs = (1...max(1, steps)).map(Double.init)
        func stepPlot(_ title: String, _ series: [(String, [CellView], String)]) -> String {
            SVGPlot(title: title, x: PlotAxis("step"), y: PlotAxis("‖L̂ − L^{-1/4}‖_F / ‖L^{-1/4}‖_F", scale: .log10),
                    series: series.enumerated().map { i, s in
                        PlotSeries.medianWithInterquartileBand(name: s.0, x: xs, runs: s.1.map { $0.series(s.2) }, colorIndex: i)
                    }).render()
        }
        let rules = Array(Set(cells.map { "\($0.rule) β2=\($0.beta2)" })).sorted()
        if let firstStream = Array(Set(cells.map(\.stream))).sorted().first {
            plots.append(("error-vs-step.svg", stepPlot("Jorge vs exact root, \(firstStream), fp32 (median, IQR over seeds)",
                rules.map { r in (r, cells.filter { $0.stream == firstStream && "\($0.rule) β2=\($0.beta2)" == r }, "error@fp32") })))
        }
        if let g = groups.first(where: { $0.hasPrefix("mlp") }) ?? groups.first {
            plots.append(("error-vs-step-precisions.svg", stepPlot("Jorge vs exact root by precision, \(g)",
                precisions.map { pr in (pr, cells.filter { $0.group == g }, "error@\(pr)") })))
        }
        var xPlot = ScatterPlot(title: "Final error against the series argument (fp64: series error only)", xLabel: "median ρ(Y)",
                                yLabel: "final relative error", logX: true, logY: true)
        for s in Array(Set(cells.map { "\($0.stream) \($0.rule)" })).sorted() {
            xPlot.series.append((s, cells.filter { "\($0.stream) \($0.rule)" == s }.map { (Sample($0.series("rho@fp64")).median ?? .nan, $0.final("error@fp64")) }))
        }
        plots.append(("error-vs-x.svg", xPlot.svg))
        var cPlot = ScatterPlot(title: "Final error against the commutator (fixed rule, fp64)", xLabel: "median ‖[L, GGᵀ]‖/(‖L‖‖GGᵀ‖)",
                                yLabel: "final relative error", logX: true, logY: true)
        for b in Array(Set(cells.filter { $0.rule == "fixed" }.map(\.beta2))).sorted() {
            cPlot.series.append(("β2=\(b)", cells.filter { $0.rule == "fixed" && $0.beta2 == b }.map {
                (Sample($0.series("commutator@fp64")).median ?? .nan, $0.final("error@fp64")) }))
        }
        plots.append(("error-vs-commutator.svg", cPlot.svg))

        let operational = """
        ## Operationalisation

        Each cell steps the library's `Jorge` (keep-s, `L̂₀ = ε^{-1/4}I`, ε = \(p.map { Fmt.sig($0.epsilon) } ?? "–")) on one seeded \
        gradient stream in every precision policy and compares its left root `L̂_t` after every step with `L_t^{-1/4}` of the statistic \
        it stands for, accumulated exactly in MPFR-113 (fixed rule: the study's β2; adaptive/clamped: the run's own β_eff = 1/(1+c_t)) \
        and rooted by the library's eigen route in MPFR-113. ρ(Y) and ‖X‖ are Jorge's own monitors; the commutator is \
        ‖[L_{t−1}, G_tG_tᵀ]‖_F/(‖L_{t−1}‖_F‖G_tG_tᵀ‖_F) of the exact statistic. The drift is the distance of a format's `L̂` from \
        the fp64 run's (rounding only). Gradients are rounded once to the format's weight type before the step (as in training). \
        Verdict rule: see `Studies/r5-jorge-series.toml` ([verdict]) and the doc comment of `JorgeSeries+Findings.swift`.
        """
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: [operational,
                                        "## Final relative error (median [IQR] over seeds)\n\n" + table,
                                        "## (a) Commuting cells against the truncation + rounding bound\n\n" + boundTable,
                                        "## (b) Rank correlations (synthetic streams, fixed rule, fp64)\n\n" + corrTable,
                                        "## (c) Accumulation over steps (fp64)\n\n" + accTable,
                                        "## Rounding drift from the fp64 run\n\n" + driftTable
                                            + "\nFitted log–log slope of median drift against u: \(driftFit.map { "\(Fmt.sig($0.slope)) (R² \(Fmt.sig($0.rSquared)))" } ?? "–"). \(graceful).\n",
                                        "## The rounded scale s of the fixed rule\n\nEvery fixed-rule update multiplies L̂ by s rounded to the format; its relative error accumulates linearly over the T steps (a floor under the fp16/bf16 errors above when it is not 0).\n\n" + scaleTable,
                                        "## Flops per step (closed form)\n\n" + flopTable],
                             plots: plots)
    }
}

/// `x` rounded once to the format `T` (through Double; exact for formats inside binary64), as Double.
func roundedThroughFormat<T: Scalar>(_: T.Type, _ x: Double) -> Double { T(x).doubleValue }
