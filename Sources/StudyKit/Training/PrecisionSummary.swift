/// The head-to-head view of a training study: per (configuration, precision) the statistics a
/// reader compares methods by — with intervals, not bare medians — and one figure that shows them
/// all at once. The baseline is the verdict's `baseline` precision (else the study's first).
enum PrecisionSummary {
    struct Row {
        var label: String
        var precision: String
        var seeds: Int
        var precisionDivergences: Int
        var otherDivergences: Int
        var finalLoss: ConfidenceInterval?
        var relativeToBaseline: ConfidenceInterval?
        var drift: ConfidenceInterval?
        var testAccuracy: ConfidenceInterval?
        /// Rank by median final loss within the precision (a diverged seed counts as +∞).
        var rank = 0
    }

    static func baseline(_ spec: StudySpec) -> String {
        if case .string(let b)? = spec.verdictRule["baseline"] { return b }
        return spec.training!.precisions[0]
    }

    static func rows(_ spec: StudySpec, _ results: [CellResult]) -> [Row] {
        let t = spec.training!
        let base = baseline(spec)
        let controlPrecision: String? = if case .string(let c)? = spec.verdictRule["control"] { c } else { nil }
        var out = [Row]()
        for p in t.precisions {
            var rows = [Row]()
            var rankKeys = [Double]()
            for o in t.optimizers {
                let cells = results.filter { $0.optimizer == o.label && $0.precision == p }
                let baseCells = results.filter { $0.optimizer == o.label && $0.precision == base }
                var precisionCaused = 0, other = 0
                for c in cells where c.divergenceStep != nil {
                    let control = controlPrecision.flatMap { name in results.first { $0.optimizer == c.optimizer && $0.seed == c.seed && $0.precision == name } }
                    if DivergenceAttribution.attribute(c, steps: t.steps, control: control).cause == .precision { precisionCaused += 1 } else { other += 1 }
                }
                let finished = cells.filter { $0.divergenceStep == nil }
                let finals = cells.compactMap { c in c.finalWindowLoss(steps: t.steps).map { (c.seed, $0) } }
                let baseBySeed = Dictionary(baseCells.compactMap { c in c.finalWindowLoss(steps: t.steps).map { (c.seed, $0) } }, uniquingKeysWith: { a, _ in a })
                let ratios = finals.compactMap { s, l in baseBySeed[s].map { l / $0 } }
                rows.append(Row(label: o.label, precision: p, seeds: cells.count, precisionDivergences: precisionCaused, otherDivergences: other,
                                finalLoss: Bootstrap.median(finals.map(\.1)),
                                relativeToBaseline: p == base ? nil : Bootstrap.median(ratios),
                                drift: Bootstrap.median(cells.compactMap { $0.series("drift").last?.1 }),
                                testAccuracy: Bootstrap.median(finished.map(\.finalTestAccuracy))))
                rankKeys.append(Sample(cells.map { $0.finalWindowLoss(steps: t.steps) ?? .infinity }).median ?? .infinity)
            }
            let order = rankKeys.indices.sorted { (rankKeys[$0], $0) < (rankKeys[$1], $1) }
            for (r, i) in order.enumerated() { rows[i].rank = r + 1 }
            out += rows
        }
        return out
    }

    static func interval(_ ci: ConfidenceInterval?) -> String {
        ci.map { "\(Fmt.sig($0.estimate)) [\(Fmt.sig($0.lower)), \(Fmt.sig($0.upper))]" } ?? "–"
    }

    static func section(_ spec: StudySpec, _ rows: [Row]) throws(ReportError) -> String {
        let base = baseline(spec)
        let table = MarkdownTable(columns: ["precision", "rank", "configuration", "seeds", "diverged: precision / other", "final train loss",
                                           "final loss ÷ \(base) (paired)", "drift at last step", "final test accuracy"]
                                    .map { MarkdownTable.Column($0) },
                                  rows: rows.map { r in
                                      [r.precision, "\(r.rank)", r.label, "\(r.seeds)", "\(r.precisionDivergences) / \(r.otherDivergences)",
                                       interval(r.finalLoss), interval(r.relativeToBaseline), interval(r.drift), interval(r.testAccuracy)]
                                  })
        return "## Ranking per precision (median [95% bootstrap interval] over seeds)\n\n" + (try table.rendered()) + """

            Rank orders the configurations of one precision by median final training loss, a diverged seed counting as +∞. \
            The final training loss is the mean batch loss over the last 10% of steps; it and the test accuracy are over the seeds that finished; "÷ \(base)" is the per-seed ratio to the same \
            configuration and seed in \(base), over seeds where both finished. "Diverged: precision" counts divergences \
            whose control finished (see above); "other" counts those whose control diverged too or that no control covers. \
            Drift is the last recorded drift from the \(ReferenceCatalogue.name(bits: spec.training!.referenceBits)) trajectory (at divergence, the last step before it).

            """
    }

    /// The summary figure: configuration × precision, three panels.
    static func figure(_ spec: StudySpec, _ rows: [Row]) -> String {
        let t = spec.training!
        let labels = t.optimizers.map(\.label), precisions = t.precisions
        func grid(_ value: (Row) -> (Double, String)) -> ([[Double]], [[String]]) {
            var v = [[Double]](), l = [[String]]()
            for o in labels {
                var vr = [Double](), lr = [String]()
                for p in precisions {
                    if let r = rows.first(where: { $0.label == o && $0.precision == p }) { let (x, s) = value(r); vr.append(x); lr.append(s) }
                    else { vr.append(.nan); lr.append("–") }
                }
                v.append(vr); l.append(lr)
            }
            return (v, l)
        }
        let drift = grid { r in (r.drift?.estimate ?? .nan, r.drift.map { Fmt.sig($0.estimate) } ?? "–") }
        let divergence = grid { r in (r.seeds > 0 ? Double(r.precisionDivergences) / Double(r.seeds) : .nan, "\(r.precisionDivergences)/\(r.seeds)") }
        let base = baseline(spec)
        let loss = grid { r in
            if r.precision == base { return (1, "baseline") }
            return (r.relativeToBaseline?.estimate ?? .nan, r.relativeToBaseline.map { Fmt.sig($0.estimate) } ?? "–")
        }
        return SVGGrid(title: "\(spec.claim): configuration × precision at a glance",
                       rows: labels, columns: precisions,
                       panels: [.init(title: "drift from \(ReferenceCatalogue.name(bits: t.referenceBits)), last step", values: drift.0, labels: drift.1, light: 1e-7, dark: 1, logScale: true, hue: 210),
                                .init(title: "divergences caused by precision", values: divergence.0, labels: divergence.1, light: 0, dark: 1, logScale: false, hue: 0),
                                .init(title: "final loss ÷ \(base)", values: loss.0, labels: loss.1, light: 1, dark: 4, logScale: true, hue: 30)],
                       note: "Medians over seeds. Darker is worse: drift shaded 1e-7…1 (log), divergence rate 0…1, loss ratio 1…4 (log); hatched: no value (e.g. every seed diverged).").render()
    }
}
