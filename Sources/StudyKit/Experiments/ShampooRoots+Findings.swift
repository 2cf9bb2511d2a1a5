import Foundation
import Scalars

/// R6's verdict, tables and plots.
///
/// Verdict rule (also stated in `Studies/r6-shampoo-roots.toml`): for every (method, format), the
/// least-squares slope of log10 rootRes on log10(κ·u) over that format's points with κ·u ≤ 1, with a 95%
/// bootstrap interval that resamples whole cells (one stream × seed: its steps are correlated). A
/// pair is reproduced when the interval lies inside `slope_band`, not reproduced when it lies wholly
/// outside, undecided otherwise; the verdict is the conjunction (`Judgement.all`). Why within a format:
/// pooling formats lets the decades between the formats' u carry the fit, so a pooled slope near 1 can
/// hide a flat residual inside each format. Why κ·u ≤ 1: the first-order perturbation bound (a relative
/// change u of M moves `X⁴M − I` by about κ·u) only holds there. Points with a non-finite residual
/// (an unusable root) cannot enter a log fit and are counted beside it.
///
/// Not judged, reported: early (rank-deficient) against later statistics. The raw comparison is close
/// to a tautology (early κ = (1 + ε)/ε by construction, so "early is worst" restates "the residual grows
/// with κ"); the report instead compares the amplification rootRes/(κ·u) of the two phases at κ·u ≤ 1
/// (a median difference with its interval), which asks whether rank deficiency hurts beyond its κ.
extension ShampooRoots {
    struct Point { let precision: String, method: String, epsilon: String, step: Int, cell: Int, seed: Int, kappa: Double, u: Double, residual: Double, early: Bool }

    /// The within-format fit of one (method, format).
    struct SlopeRow {
        let method: String, precision: String, fitted: Int, nonFinite: Int, aboveOne: Int
        let fit: LinearFit?, interval: ConfidenceInterval?, judgement: Bool?
    }

    static func withinFormatSlopes(_ points: [Point], methods: [String], precisions: [String], band: ClosedRange<Double>) -> [SlopeRow] {
        var rows = [SlopeRow]()
        for m in methods { for pr in precisions {
            let g = points.filter { $0.method == m && $0.precision == pr }
            let inRange = g.filter { $0.kappa * $0.u <= 1 }
            let usable = inRange.filter { $0.residual.isFinite && $0.residual > 0 }
            let cells = Array(Set(usable.map(\.cell))).sorted()
            let byCell = Dictionary(grouping: usable, by: \.cell)
            func fit(_ pick: [Int]) -> LinearFit? {
                let pts = pick.flatMap { byCell[cells[$0]] ?? [] }
                return try? Statistics.logLogSlope(x: pts.map { $0.kappa * $0.u }, y: pts.map(\.residual))
            }
            let full = fit(Array(cells.indices))
            var interval: ConfidenceInterval? = nil
            if let full, cells.count >= 2 {
                interval = ClusterBootstrap.interval(clusters: cells.count, estimate: full.slope) { fit($0)?.slope }.interval
            }
            rows.append(SlopeRow(method: m, precision: pr, fitted: usable.count, nonFinite: inRange.count - usable.count,
                                 aboveOne: g.count - inRange.count, fit: full, interval: interval,
                                 judgement: interval.flatMap { Judgement.inside($0, band: band) }))
        } }
        return rows
    }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        let p = try? parameters(spec)
        let band = (p?.slopeBand).map { $0[0]...$0[1] } ?? 0.5...1.5
        let precisions = p?.precisions ?? [], methods = p?.methods ?? [], epsilons = (p?.epsilons ?? []).map { NumberText.short($0) }
        var points = [Point]()
        var iterations = [String: [Double]](), fallbacks = [String: (Int, Int)](), retryFailures = [String: Int]()
        var outcomes = [String: [String: Int]]()
        for (cellIndex, r) in results.sorted(by: { $0.key < $1.key }).enumerated() {
            let lowRank = Dictionary(r.series("low_rank"), uniquingKeysWith: { a, _ in a })
            for pr in precisions {
                let u = r.series("unit_roundoff@\(pr)").first?.1 ?? .nan
                for m in methods { for e in epsilons {
                    let name = "\(pr)/\(m)/\(e)"
                    let kappa = Dictionary(r.series("kappa@\(e)"), uniquingKeysWith: { a, _ in a })
                    for (t, res) in r.series("residual@\(name)") {
                        points.append(Point(precision: pr, method: m, epsilon: e, step: t, cell: cellIndex, seed: r.seed, kappa: kappa[t] ?? .nan, u: u,
                                            residual: res, early: lowRank[t] == 1))
                    }
                    iterations[name, default: []] += r.series("iterations@\(name)").map(\.1)
                    let f = r.series("fallback@\(name)").map(\.1)
                    let old = fallbacks[name] ?? (0, 0)
                    fallbacks[name] = (old.0 + f.filter { $0 == 1 }.count, old.1 + f.count)
                    retryFailures[name, default: 0] += r.events.filter { $0.kind == "fallback-failed" && $0.detail == name }.count
                    for ev in r.events where ev.detail == name && ev.kind != "fallback-failed" && ev.kind != "fallback" {
                        outcomes[name, default: [:]][ev.kind, default: 0] += 1
                    }
                } }
            }
        }
        func group(_ pr: String, _ m: String, _ e: String) -> [Point] { points.filter { $0.precision == pr && $0.method == m && $0.epsilon == e } }

        // Table per (precision, method, ε).
        var table = "| precision | method | ε | median κ·u early | median κ·u late | rootRes early (median [IQR]) | rootRes late (median [IQR]) | Newton iterations (median) | outcomes other than converged | fallbacks | retry still above bound |\n|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n"
        for pr in precisions { for m in methods { for e in epsilons {
            let g = group(pr, m, e), name = "\(pr)/\(m)/\(e)"
            let early = g.filter(\.early), late = g.filter { !$0.early }
            let f = fallbacks[name] ?? (0, 0)
            let it = Sample(iterations[name] ?? []).median
            let other = (outcomes[name] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            table += "| \(pr) | \(m) | \(e) | \(Fmt.sig(Sample(early.map { $0.kappa * $0.u }).median ?? .nan)) | \(Fmt.sig(Sample(late.map { $0.kappa * $0.u }).median ?? .nan)) | \(Fmt.medianIQR(early.map(\.residual))) | \(Fmt.medianIQR(late.map(\.residual))) | \(m == "newton" ? it.map(Fmt.sig) ?? "–" : "–") | \(other.isEmpty ? "0" : other) of \(g.count) | \(f.0) of \(f.1) | \(retryFailures[name] ?? 0) |\n"
        } } }

        // (a) within-format fits.
        let rows = withinFormatSlopes(points, methods: methods, precisions: precisions, band: band)
        var fitTable = "| method | format | points fitted (κ·u ≤ 1) | non-finite residuals left out | points with κ·u > 1 (not fitted) | slope [95% CI] | R² | verdict part |\n|---|---|---:|---:|---:|---:|---:|---|\n"
        for r in rows {
            fitTable += "| \(r.method) | \(r.precision) | \(r.fitted) | \(r.nonFinite) | \(r.aboveOne) | \(r.interval?.text ?? "–") | \(r.fit.map { Fmt.sig($0.rSquared) } ?? "–") | \(Judgement.word(r.judgement)) |\n"
        }
        var pooled = "| method | pooled slope over all formats (for comparison only) |\n|---|---:|\n"
        for m in methods {
            let g = points.filter { $0.method == m && $0.kappa * $0.u <= 1 }
            let fit = try? Statistics.logLogSlope(x: g.map { $0.kappa * $0.u }, y: g.map(\.residual))
            pooled += "| \(m) | \(fit.map { Fmt.sig($0.slope) } ?? "–") |\n"
        }
        let reproduced = Judgement.all(rows.map(\.judgement))

        // Early against late, normalised by κ·u (reported).
        var earlyTable = "| precision | method | early points (κ·u ≤ 1) | late points | median log10(rootRes/(κ·u)) early − late [95% CI] | early worse beyond κ·u? |\n|---|---|---:|---:|---:|---|\n"
        for pr in precisions { for m in methods {
            let g = points.filter { $0.precision == pr && $0.method == m && $0.kappa * $0.u <= 1 && $0.residual.isFinite && $0.residual > 0 }
            let early = g.filter(\.early).map { log10($0.residual / ($0.kappa * $0.u)) }, late = g.filter { !$0.early }.map { log10($0.residual / ($0.kappa * $0.u)) }
            let d = Bootstrap.medianDifference(late, early)
            earlyTable += "| \(pr) | \(m) | \(early.count) | \(late.count) | \(d?.text ?? "–") | \(d.map { Comparison($0) == .higher ? "yes" : (Comparison($0) == .lower ? "no (better)" : "undecided") } ?? "–") |\n"
        } }

        // Newton's stopping rule against u; fallbacks against what the format can deliver.
        let tolerance = p?.newtonTolerance ?? .nan, bound = p?.fallbackResidual ?? .nan
        var stopTable = "| precision | u | Newton tolerance / u | Newton roots converged | stopped by the divergence guard | stopped by the iteration cap | eigen roots with rootRes > fallback bound | of which κ·u > bound (beyond what u allows) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for pr in precisions {
            let u = points.first { $0.precision == pr }?.u ?? .nan
            let names = epsilons.map { "\(pr)/newton/\($0)" }
            let total = points.filter { $0.precision == pr && $0.method == "newton" }.count
            let guardCount = names.reduce(0) { $0 + (outcomes[$1]?["divergence-guard"] ?? 0) }
            let cap = names.reduce(0) { $0 + (outcomes[$1]?["iteration-cap"] ?? 0) }
            let nonFinite = names.reduce(0) { $0 + (outcomes[$1]?["non-finite"] ?? 0) }
            let eigen = points.filter { $0.precision == pr && $0.method == "eigen" }
            let eigenAbove = eigen.filter { !($0.residual <= bound) }
            stopTable += "| \(pr) | \(Fmt.sig(u)) | \(Fmt.sig(tolerance / u)) | \(total - guardCount - cap - nonFinite) of \(total) | \(guardCount) | \(cap) | \(eigenAbove.count) of \(eigen.count) | \(eigenAbove.filter { $0.kappa * $0.u > bound }.count) |\n"
        }

        let totalFallbacks = fallbacks.values.reduce(0) { $0 + $1.0 }, totalRoots = fallbacks.values.reduce(0) { $0 + $1.1 }
        let slopes = rows.map { "\($0.method)/\($0.precision) \($0.interval?.text ?? "–")" }.joined(separator: ", ")
        let decided = rows.filter { $0.judgement != nil }.count
        let evidence = "Within-format slopes of log rootRes on log κ·u (κ·u ≤ 1, 95% CI over cells) against [\(Fmt.sig(band.lowerBound)), \(Fmt.sig(band.upperBound))]: \(slopes); \(rows.filter { $0.judgement == true }.count) inside, \(rows.filter { $0.judgement == false }.count) outside, \(rows.count - decided) undecided; \(totalFallbacks) of \(totalRoots) roots needed a higher-precision retry."

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
        // No pooled fit line: the verdict uses the within-format slopes tabled above.
        plots.append(("residual-vs-kappa-u.svg", scatter.svg))
        if let e = epsilons.dropFirst(epsilons.count / 2).first {
            let steps = points.map(\.step).max() ?? 1
            let xs = (1...max(1, steps)).map(Double.init)
            var series = [PlotSeries]()
            for pr in precisions { for m in methods {
                let cellIndices = Array(Set(points.map(\.cell))).sorted()
                let runs = cellIndices.map { c in
                    points.filter { $0.precision == pr && $0.method == m && $0.epsilon == e && $0.cell == c }.sorted { $0.step < $1.step }.map(\.residual)
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
        1.2× divergence guard, Docs/Optimizers.md K3).
        """
        let mechanism = """
        Newton's test ‖Y − I‖_max ≤ tol with tol = \(Fmt.sig(tolerance)) is a fixed number: where tol/u < 1 (table) it asks for \
        Y = X⁴M, itself formed in the format, to be closer to I than the format's spacing near 1, so the loop can only end on \
        the divergence guard or the iteration cap. A Newton root that "did not converge" there is the stopping rule being out \
        of reach, not necessarily a bad root: its residual (first table) says how good the kept iterate is. The fallback bound \
        \(Fmt.sig(bound)) asks for a residual that first-order theory allows only while κ·u is below about that bound; the last \
        column counts the eigen roots above the bound whose κ·u already exceeds it — roots the format cannot deliver, where a \
        retry in higher precision is what "inverse roots need high precision" predicts. A relative ridge ε·λ_max below u·λ_max \
        is lost when added to λ_max in the format, and in fp16 ε = 1e-8 and 1e-12 underflow to 0 outright, so the format \
        roots the unridged L: its κ is then set by the rounding noise on L's zero eigenvalues, not by 1/ε (identical fp16/bf16 \
        rows for different ε are this effect), and an eigenvalue that is exactly 0 gives the non-finite eigen roots.
        """
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: [operational,
                                        "## Residuals, iterations and fallbacks (over streams, seeds and steps)\n\n" + table,
                                        "## Residual against κ·u within each format (the verdict)\n\n" + fitTable + "\n" + pooled,
                                        "## Newton's stopping rule and the fallbacks\n\n" + stopTable + "\n" + mechanism,
                                        "## Early (rank-deficient) against later statistics, beyond κ·u (reported, not judged)\n\n" + earlyTable],
                             plots: plots)
    }
}
