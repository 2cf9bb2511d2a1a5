import Foundation

/// Tables, plots and the verdict of a training study.
enum TrainingFindings {
    static func findings(_ spec: StudySpec, _ results: [CellResult]) throws -> StudyFindings {
        let t = spec.training!
        var groups = [String: [CellResult]]()
        for r in results { groups["\(r.optimizer)\u{1}\(r.precision)", default: []].append(r) }
        let labels = t.optimizers.map(\.label)
        var sections = [String]()
        let controlPrecision: String? = if case .string(let c)? = spec.verdictRule["control"] { c } else { nil }

        // Summary table: one row per optimizer configuration × precision, statistics over seeds.
        var rows = [[String]]()
        for p in t.precisions { for o in labels {
            let g = groups["\(o)\u{1}\(p)"] ?? []
            let diverged = g.filter { $0.divergenceStep != nil }
            let drift = g.compactMap { $0.series("drift").last?.1 }
            // One value per seed (the cell's median over the shadowed steps), then median [q1, q3] over seeds.
            let local = g.compactMap { Sample($0.series("local_error").map(\.1)).median }
            let localGradient = g.compactMap { Sample($0.series("local_gradient_error").map(\.1)).median }
            var kinds = [String: Int]()
            for r in g { for e in r.events { kinds[e.kind, default: 0] += 1 } }
            var causes = [DivergenceCause: Int]()
            for r in g {
                let control = controlPrecision.flatMap { c in results.first { $0.optimizer == r.optimizer && $0.seed == r.seed && $0.precision == c } }
                causes[DivergenceAttribution.attribute(r, steps: t.steps, control: control).cause, default: 0] += 1
            }
            let causeText = diverged.isEmpty ? "0" : "\(diverged.count) (\(causes[.precision] ?? 0) / \(causes[.hyperparameter] ?? 0) / \(causes[.uncontrolled] ?? 0))"
            rows.append([o, p, "\(g.count)", causeText,
                         PrecisionRobustness.activity(g).map(Fmt.sig) ?? "–",
                         diverged.isEmpty ? "–" : Fmt.medianIQR(diverged.map { Double($0.divergenceStep!) }),
                         Fmt.medianIQR(g.map { $0.finalWindowLoss(steps: t.steps) ?? .infinity }), Fmt.medianIQR(g.map(\.finalTestAccuracy)),
                         Fmt.medianIQR(drift), Fmt.medianIQR(local), Fmt.medianIQR(localGradient),
                         kinds.isEmpty ? "–" : kinds.keys.sorted().map { "\($0) ×\(kinds[$0]!)" }.joined(separator: ", ")])
        } }
        let table = MarkdownTable(columns: ["optimizer", "precision", "seeds", "diverged (precision / hyperparameter / uncontrolled)",
                                            "activity (median max departure)", "divergence step", "final train loss (mean of the last 10% of steps; ∞ if diverged)",
                                            "final test accuracy", "drift at last reference step", "local error", "local gradient error", "events"]
                                    .map { MarkdownTable.Column($0) }, rows: rows)
        sections.append("## Summary over seeds (median [q1, q3])\n\n" + (try table.rendered()))
        sections.append("""
            Drift is ‖θ − θ_ref‖/‖θ_ref‖ against the \(ReferenceCatalogue.name(bits: t.referenceBits)) run of the same optimizer, seed, data and \
            initialisation, over \(t.referenceSteps == t.steps ? "the whole trajectory" : "its first \(t.referenceSteps) steps"). The local error is the one-step error \
            ‖Δθ̂ − Δθ‖/‖Δθ‖ of the whole step: Δθ̂ is the cell's update at step t, Δθ the update that the same optimizer \
            configuration takes in \(ReferenceCatalogue.name(bits: t.referenceBits)) from the *same* point — the cell's weights and its complete \
            optimizer state (moments, statistics, factors, inverses and roots, counters), imported exactly — on the same \
            batch. It is the error committed by one low-precision step (gradient, preconditioner and update together), \
            separated from the error accumulated along the trajectory; it includes the rounding of the updated weights to \
            their format, about u·‖θ‖/‖Δθ‖, which dominates when steps are small against the weights. The local gradient \
            error ‖∇̂ − ∇‖/‖∇‖, with ∇ computed in the reference precision at the cell's weights on the same batch, isolates the gradient \
            computation. Both are recorded for the first \(t.referenceSteps) steps; each cell contributes its median over \
            those steps (NaN excluded). A reference step that fails or is non-finite gives NaN and a \
            `\(LocalReference.failureEvent)` event.

            A divergence is attributed to the precision only if the control of the same configuration and seed did not \
            diverge: the \(ReferenceCatalogue.name(bits: t.referenceBits)) reference when it runs all \(t.steps) steps (here it runs \(t.referenceSteps)), else the \
            \(controlPrecision.map { "`\($0)`" } ?? "control precision (none in this study)") cell. A control that diverged \
            too makes it a hyperparameter (learning-rate or damping) failure; without a control it is uncontrolled. The \
            activity is the largest departure ‖P − τI‖_F/‖P‖_F (τ = tr P/n) of any preconditioner factor over the run, \
            median over seeds: 0 is a scaled identity, i.e. SGD; "–" for a method without a preconditioner.
            """)
        sections.append(FactorRank.section(t, try ProblemData(t.problem, file: spec.file)))
        if case .string(PrecisionRobustness.rule)? = spec.verdictRule["rule"] {
            let judgements = try PrecisionRobustness.judgements(spec, results)
            sections.append("## Judgements (paired by seed against the baseline, 95% bootstrap intervals)\n\n" + (try PrecisionRobustness.table(judgements)))
            sections.append(try PrecisionMechanism.section(spec, results, judgements))
        }

        // The head-to-head view: ranking with intervals and the summary figure (first among the plots).
        var plots = [(name: String, svg: String)]()
        if t.precisions.count > 1 {
            let summary = PrecisionSummary.rows(spec, results)
            sections.append(try PrecisionSummary.section(spec, summary))
            plots.append(("summary.svg", PrecisionSummary.figure(spec, summary)))
        }

        // Plots: loss, drift and local error vs step per precision (median over seeds with the interquartile band).
        for p in t.precisions {
            let slug = p.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "+", with: "-")
            let ref = ReferenceCatalogue.name(bits: t.referenceBits)
            var metrics = [("loss", true, "training loss"), ("drift", true, "drift from \(ref)"),
                           ("local_error", true, "one-step local error against \(ref)"), ("departure", false, "preconditioner departure ‖P − τI‖/‖P‖ (max over layers)")]
            if t.lossScaling.applies(to: p) { metrics.append(("loss_scale", true, "dynamic loss scale S")) }
            for (metric, logY, title) in metrics {
                var series = [PlotSeries]()
                for (i, o) in labels.enumerated() {
                    let g = groups["\(o)\u{1}\(p)"] ?? []
                    let runs = g.map { $0.series(metric) }
                    guard let steps = runs.max(by: { $0.count < $1.count })?.map({ Double($0.0) }), !steps.isEmpty else { continue }
                    series.append(.medianWithInterquartileBand(name: o, x: steps, runs: runs.map { $0.map(\.1) }, colorIndex: i))
                }
                guard !series.isEmpty else { continue }
                plots.append(("\(metric)-\(slug).svg", SVGPlot(title: "\(title), \(p)", x: PlotAxis("step"),
                                                                y: PlotAxis(metric, scale: logY ? .log10 : .linear), series: series).render()))
            }
            // Condition numbers and other kept monitors of the first layer.
            let monitorNames = Set(results.flatMap { r in r.records.filter { $0.layer == 0 }.map(\.metric) }).sorted()
            for m in monitorNames where m.hasPrefix("kappa") || m.hasPrefix("cond") {
                var series = [PlotSeries]()
                for (i, o) in labels.enumerated() {
                    let runs = (groups["\(o)\u{1}\(p)"] ?? []).map { $0.series(m, layer: 0) }
                    guard let steps = runs.max(by: { $0.count < $1.count })?.map({ Double($0.0) }), !steps.isEmpty else { continue }
                    series.append(.medianWithInterquartileBand(name: o, x: steps, runs: runs.map { $0.map(\.1) }, colorIndex: i))
                }
                guard !series.isEmpty else { continue }
                plots.append(("\(m)-\(slug).svg", SVGPlot(title: "\(m) (layer 0), \(p)", x: PlotAxis("step"),
                                                           y: PlotAxis(m, scale: .log10), series: series).render()))
            }
        }
        return StudyFindings(verdict: try verdict(spec, results), sections: sections, plots: plots)
    }

    /// The rule named in `[verdict]`. Each rule compares statistics over seeds; its evidence says which.
    static func verdict(_ spec: StudySpec, _ results: [CellResult]) throws(StudyError) -> Verdict {
        func strings(_ key: String) -> [String] {
            guard case .array(let a)? = spec.verdictRule[key] else {
                if case .string(let s)? = spec.verdictRule[key] { return [s] }
                return []
            }
            return a.compactMap { if case .string(let s) = $0 { s } else { nil } }
        }
        guard case .string(let rule)? = spec.verdictRule["rule"] else {
            throw StudyError(file: spec.file, field: "verdict.rule", value: "(missing)", reason: "the study names no verdict rule")
        }
        func cells(_ methods: [String], _ precisions: [String]) -> [CellResult] {
            results.filter { methods.contains($0.method) && (precisions.isEmpty || precisions.contains($0.precision)) }
        }
        /// A rule over zero cells would print a verdict about nothing: an error instead.
        func requireCells(_ key: String, _ precisions: [String]) throws(StudyError) {
            for m in strings(key) where cells([m], precisions).isEmpty {
                throw StudyError(file: spec.file, field: "verdict.\(key)", value: "\"\(m)\" in \(precisions)",
                                 reason: "no cells to judge: a verdict over zero cells would be no verdict")
            }
        }
        func failed(_ r: CellResult) -> Bool {
            r.divergenceStep != nil || r.events.contains { ["cholesky-failure", "non-finite"].contains($0.kind) }
        }
        switch rule {
        case PrecisionRobustness.rule:
            return try PrecisionRobustness.verdict(spec, PrecisionRobustness.judgements(spec, results))
        case "unstable-vs-stable":
            // Each configuration (optimizer label) is judged against its *own* baseline seed spread: pooling
            // all configurations would let a badly tuned baseline hide a precision failure of another.
            let baseline = strings("baseline"), low = strings("low")
            try requireCells("unstable", low); try requireCells("stable", low)
            var ceilings = [String: Double]()
            for label in Set(cells(strings("stable") + strings("unstable"), baseline).map(\.optimizer)) {
                let finals = cells(strings("stable") + strings("unstable"), baseline).filter { $0.optimizer == label && !failed($0) }.map(\.finalLoss).filter(\.isFinite)
                guard let hi = finals.max() else { continue }
                ceilings[label] = hi + (Sample(finals).interquartileRange ?? 0)
            }
            guard !ceilings.isEmpty else { return Verdict(reproduced: nil, evidence: "no configuration finished its baseline cells") }
            var evidence = [String]()
            var skipped = Set<String>()
            func judge(_ method: String) -> (bad: [CellResult], judged: Int) {
                let c = cells([method], low)
                var bad = [CellResult](), judged = 0
                for r in c {
                    guard let ceiling = ceilings[r.optimizer] else { skipped.insert(r.optimizer); continue }
                    judged += 1
                    if failed(r) || !(r.finalLoss <= ceiling) { bad.append(r) }
                }
                return (bad, judged)
            }
            func where_(_ bad: [CellResult]) -> String {
                let labels = Set(bad.map { "\($0.optimizer) (\($0.precision))" }).sorted()
                return labels.isEmpty ? "" : ": " + labels.joined(separator: ", ")
            }
            var unstableOK = true
            for m in strings("unstable") {
                let (bad, judged) = judge(m)
                evidence.append("\(m) in \(low.joined(separator: "/")): \(bad.count) of \(judged) cells failed or ended above their configuration's \(baseline.joined(separator: "/")) range\(where_(bad))")
                if bad.isEmpty { unstableOK = false }
            }
            var stableOK = true
            for m in strings("stable") {
                let (bad, judged) = judge(m)
                evidence.append("\(m) in \(low.joined(separator: "/")): \(bad.count) of \(judged) cells failed or ended above it\(where_(bad))")
                if !bad.isEmpty { stableOK = false }
            }
            evidence.append("a configuration's range is its largest finished \(baseline.joined(separator: "/")) final loss plus the interquartile range over seeds")
            if !skipped.isEmpty {
                evidence.append("not judged, because no \(baseline.joined(separator: "/")) cell of theirs finished: \(skipped.sorted().joined(separator: ", "))")
            }
            return Verdict(reproduced: unstableOK && stableOK, evidence: evidence.joined(separator: "; ") + ".")
        case "some-beats-all":
            return try SomeBeatsAll.verdict(spec, results)
        case "converges-across-grid":
            // Sensitivity to the divergence threshold: a cell whose loss peaked within a factor 2 of it
            // without crossing is *marginal*; if counting the marginal cells as diverged would flip the
            // verdict, the data do not decide it.
            let precision = strings("precision")
            let t = spec.training!
            try requireCells("converges", precision); try requireCells("diverges", precision)
            func peak(_ r: CellResult) -> Double {
                let losses = r.series("loss").map(\.1)
                guard let first = losses.first, first > 0 else { return .nan }
                return losses.contains { !$0.isFinite } ? .infinity : losses.max()! / first
            }
            func marginal(_ r: CellResult) -> Bool { !failed(r) && peak(r) >= t.divergenceFactor / 2 }
            let conv = cells(strings("converges"), precision), div = cells(strings("diverges"), precision)
            let convFailed = conv.filter(failed).count, divFailed = div.filter(failed).count
            let convMarginal = conv.filter(marginal).count, divMarginal = div.filter(marginal).count
            let strict = convFailed == 0 && divFailed > 0
            let lenient = convFailed + convMarginal == 0 && divFailed + divMarginal > 0
            let worstConv = conv.filter { !failed($0) }.map(peak).max()
            var evidence = "\(strings("converges").joined(separator: "/")): \(convFailed) of \(conv.count) cells diverged or failed, \(convMarginal) marginal (peak loss ≥ \(Fmt.sig(t.divergenceFactor / 2))× the first without crossing \(Fmt.sig(t.divergenceFactor))×)\(worstConv.map { "; largest peak of a finished cell \(Fmt.sig($0))×" } ?? ""); \(strings("diverges").joined(separator: "/")): \(divFailed) of \(div.count) diverged or failed, \(divMarginal) marginal"
            if strict != lenient { evidence += "; the verdict depends on where the divergence threshold is drawn, so it is undecided" }
            return Verdict(reproduced: strict == lenient ? strict : nil, evidence: evidence + ".")
        default:
            throw StudyError(file: spec.file, field: "verdict.rule", value: "\"\(rule)\"", reason: "unknown verdict rule (known: \(VerdictValidation.trainingRules.joined(separator: ", ")))")
        }
    }
}

extension Verdict {
    /// The verdict of a training study's `[verdict]` rule over finished cells. Public so that the rules
    /// can be tested on constructed results, where the outcome is known by design.
    public static func training(_ spec: StudySpec, _ results: [CellResult]) throws(StudyError) -> Verdict {
        try TrainingFindings.verdict(spec, results)
    }
}
