import Foundation
import Scalars

/// R6's verdict, tables and plots.
///
/// Verdict rule (also stated in `Studies/r6-shampoo-roots.toml`); reproduced iff both hold:
/// - (a) *Residual ∝ κ·u.* For every method, the least-squares slope of log10 rootRes on log10(κ·u) over
///   all (cell, step, precision, ε) points with κ·u ≤ 1 and a finite positive residual lies in
///   `slope_band`. Why κ·u ≤ 1: the first-order perturbation bound (a relative change u of M moves
///   `X⁴M − I` by about κ·u) only holds there; beyond it the computed root is not a root of anything
///   near M and residuals saturate or explode (they are reported, not fitted).
/// - (b) *Low-rank early statistics are worst.* Per (precision, method, ε) group, the median residual
///   over the steps where the exact statistic is rank deficient exceeds the median over the later steps;
///   this must hold in at least `early_worse_fraction` of the groups where both phases exist and the two
///   medians differ (groups saturated at the same value in both phases say nothing and are counted
///   apart).
extension ShampooRoots {
    struct Point { let precision: String, method: String, epsilon: String, step: Int, seed: Int, kappa: Double, u: Double, residual: Double, early: Bool }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        let p = try? parameters(spec)
        let band = p?.slopeBand ?? [0.5, 1.5], needed = p?.earlyWorseFraction ?? 0.75
        let precisions = p?.precisions ?? [], methods = p?.methods ?? [], epsilons = (p?.epsilons ?? []).map { NumberText.short($0) }
        var points = [Point]()
        var iterations = [String: [Double]](), fallbacks = [String: (Int, Int)](), retryFailures = [String: Int]()
        var outcomes = [String: Int]()
        for r in results {
            let lowRank = Dictionary(r.series("low_rank"), uniquingKeysWith: { a, _ in a })
            for pr in precisions {
                let u = r.series("unit_roundoff@\(pr)").first?.1 ?? .nan
                for m in methods { for e in epsilons {
                    let name = "\(pr)/\(m)/\(e)"
                    let kappa = Dictionary(r.series("kappa@\(e)"), uniquingKeysWith: { a, _ in a })
                    for (t, res) in r.series("residual@\(name)") {
                        points.append(Point(precision: pr, method: m, epsilon: e, step: t, seed: r.seed, kappa: kappa[t] ?? .nan, u: u,
                                            residual: res, early: lowRank[t] == 1))
                    }
                    iterations[name, default: []] += r.series("iterations@\(name)").map(\.1)
                    let f = r.series("fallback@\(name)").map(\.1)
                    let old = fallbacks[name] ?? (0, 0)
                    fallbacks[name] = (old.0 + f.filter { $0 == 1 }.count, old.1 + f.count)
                    retryFailures[name, default: 0] += r.events.filter { $0.kind == "fallback-failed" && $0.detail == name }.count
                    outcomes[name, default: 0] += r.events.filter { $0.detail == name && $0.kind != "fallback-failed" }.count
                } }
            }
        }
        func group(_ pr: String, _ m: String, _ e: String) -> [Point] { points.filter { $0.precision == pr && $0.method == m && $0.epsilon == e } }

        // Table per (precision, method, ε).
        var table = "| precision | method | ε | median κ early | median κ late | rootRes early (median [IQR]) | rootRes late (median [IQR]) | Newton iterations (median) | non-converged | fallbacks | retry still above bound |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        var earlyWorse = 0, compared = 0, saturated = 0, missingPhase = 0
        var earlyRows = "| precision | method | ε | early median | late median | early worse? |\n|---|---|---:|---:|---:|---|\n"
        for pr in precisions { for m in methods { for e in epsilons {
            let g = group(pr, m, e), name = "\(pr)/\(m)/\(e)"
            let early = g.filter(\.early), late = g.filter { !$0.early }
            let f = fallbacks[name] ?? (0, 0)
            let it = Sample(iterations[name] ?? []).median
            table += "| \(pr) | \(m) | \(e) | \(Fmt.sig(Sample(early.map(\.kappa)).median ?? .nan)) | \(Fmt.sig(Sample(late.map(\.kappa)).median ?? .nan)) | \(Fmt.medianIQR(early.map(\.residual))) | \(Fmt.medianIQR(late.map(\.residual))) | \(m == "newton" ? it.map(Fmt.sig) ?? "–" : "–") | \(outcomes[name] ?? 0) | \(f.0) of \(f.1) | \(retryFailures[name] ?? 0) |\n"
            guard let em = Sample(early.map(\.residual)).median, let lm = Sample(late.map(\.residual)).median else { missingPhase += 1; continue }
            if em == lm { saturated += 1; continue }
            compared += 1
            if em > lm { earlyWorse += 1 }
            earlyRows += "| \(pr) | \(m) | \(e) | \(Fmt.sig(em)) | \(Fmt.sig(lm)) | \(em > lm ? "yes" : "no") |\n"
        } } }

        // Fits of residual against κ·u.
        var fits = [String: LinearFit]()
        var fitTable = "| method | points with κ·u ≤ 1 | fitted slope | R² | in [\(Fmt.sig(band[0])), \(Fmt.sig(band[1]))]? |\n|---|---:|---:|---:|---|\n"
        for m in methods {
            let g = points.filter { $0.method == m && $0.kappa * $0.u <= 1 }
            let fit = try? Statistics.logLogSlope(x: g.map { $0.kappa * $0.u }, y: g.map(\.residual))
            if let fit { fits[m] = fit }
            fitTable += "| \(m) | \(fit?.count ?? 0) | \(fit.map { Fmt.sig($0.slope) } ?? "–") | \(fit.map { Fmt.sig($0.rSquared) } ?? "–") | \(fit.map { $0.slope >= band[0] && $0.slope <= band[1] ? "yes" : "no" } ?? "–") |\n"
        }
        let okA: Bool? = methods.isEmpty || fits.count < methods.count ? nil : methods.allSatisfy { fits[$0]!.slope >= band[0] && fits[$0]!.slope <= band[1] }
        let fraction = compared == 0 ? Double.nan : Double(earlyWorse) / Double(compared)
        let okB: Bool? = compared == 0 ? nil : fraction >= needed
        let reproduced: Bool? = okA == nil || okB == nil ? nil : (okA! && okB!)
        let totalFallbacks = fallbacks.values.reduce(0) { $0 + $1.0 }, totalRoots = fallbacks.values.reduce(0) { $0 + $1.1 }
        let worst = points.filter { $0.residual.isFinite }.max { $0.residual < $1.residual }
        let slopes = methods.map { "\($0) \(fits[$0].map { Fmt.sig($0.slope) } ?? "–")" }.joined(separator: ", ")
        let evidence = "(a) log–log slope of rootRes against κ·u (κ·u ≤ 1): \(slopes), band [\(Fmt.sig(band[0])), \(Fmt.sig(band[1]))]; (b) early (rank-deficient) median residual above the late one in \(earlyWorse) of \(compared) groups (needed fraction \(Fmt.sig(needed)); \(saturated) saturated, \(missingPhase) without both phases); \(totalFallbacks) of \(totalRoots) roots needed a higher-precision retry; largest finite residual \(worst.map { "\(Fmt.sig($0.residual)) (\($0.precision)/\($0.method)/ε=\($0.epsilon), step \($0.step))" } ?? "–")."

        // Plots.
        var plots = [(name: String, svg: String)]()
        // One point per (precision, method, ε, step): medians over streams and seeds (the fit above uses every point).
        var scatter = ScatterPlot(title: "Root residual against κ·u (medians over streams × seeds)", xLabel: "κ(L + ελ_max I)·u",
                                  yLabel: "‖X⁴M − I‖_F/√d", logX: true, logY: true)
        for pr in precisions { for m in methods {
            var xy = [(Double, Double)]()
            for e in epsilons {
                let g = group(pr, m, e)
                for (_, atStep) in Dictionary(grouping: g, by: \.step).sorted(by: { $0.key < $1.key }) {
                    xy.append((Sample(atStep.map { $0.kappa * $0.u }).median ?? .nan, Sample(atStep.map(\.residual)).median ?? .nan))
                }
            }
            scatter.series.append(("\(pr) \(m)", xy))
        } }
        scatter.fit = methods.first.flatMap { fits[$0] }
        plots.append(("residual-vs-kappa-u.svg", scatter.svg))
        if let e = epsilons.dropFirst(epsilons.count / 2).first {
            let steps = points.map(\.step).max() ?? 1
            let xs = (1...max(1, steps)).map(Double.init)
            var series = [PlotSeries]()
            for pr in precisions { for m in methods {
                let seeds = Array(Set(points.map(\.seed))).sorted()
                let runs = seeds.map { s in
                    points.filter { $0.precision == pr && $0.method == m && $0.epsilon == e && $0.seed == s }.sorted { $0.step < $1.step }.map(\.residual)
                }
                series.append(PlotSeries.medianWithInterquartileBand(name: "\(pr) \(m)", x: xs, runs: runs, colorIndex: series.count))
            } }
            plots.append(("residual-vs-step.svg", SVGPlot(title: "Root residual by step, ε = \(e) (median, IQR over streams × seeds)",
                                                          x: PlotAxis("step"), y: PlotAxis("‖X⁴M − I‖_F/√d", scale: .log10), series: series).render()))
        }

        let operational = """
        ## Operationalisation

        The statistic L_t (β2 = \(p.map { NumberText.short($0.beta2) } ?? "–"); 1 = plain sum) is accumulated exactly in MPFR-113 from \
        each seeded gradient stream; M = L + ε·λ_max(L)·I is Shampoo's relative ridge. Each precision policy rounds L into its factor \
        and inverse types, and the library's `inverseRootEigen` (Jacobi in the format) or `inverseRootNewton` (coupled Newton, \
        tolerance \(p.map { NumberText.short($0.newtonTolerance) } ?? "–"), at most \(p.map { "\($0.newtonMaxIterations)" } ?? "–") iterations) computes X. \
        rootRes = ‖X⁴M − I‖_F/√d is evaluated in MPFR-113 from the rounded X; u is the unit roundoff of the policy's inverse type. \
        "Early" steps are those where the exact L_t is rank deficient (λ_min ≤ 1e-20·λ_max in MPFR), so κ(M) ≈ (1+ε)/ε. A fallback is a \
        root whose residual exceeds \(p.map { NumberText.short($0.fallbackResidual) } ?? "–") (or is unusable): it is recomputed by the same method in fp32, or in \
        fp64 from fp32/fp64. Non-converged counts every outcome other than `converged` (Newton in low precision normally stops on the \
        1.2× divergence guard, ALGORITHMS.md K3).
        """
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: [operational,
                                        "## Residuals, iterations and fallbacks (over streams, seeds and steps)\n\n" + table,
                                        "## (a) Residual against κ·u\n\n" + fitTable,
                                        "## (b) Early (rank-deficient) against later statistics\n\n" + earlyRows],
                             plots: plots)
    }
}
