/// How a report shows its tuning stage: the rule, every candidate's score, and what each group kept —
/// so a reader can check that a method was not run at a rate that suits another one.
enum TuningReport {
    static func section(_ spec: StudySpec, _ plan: StudyPlan) throws -> String {
        guard let t = spec.training, let tuning = t.tuning else { return "" }
        var md = "## Tuning stage\n\n"
        md += "`\(tuning.parameter)` was chosen per configuration in `\(tuning.precision)` over seeds \(t.seeds.map(String.init).joined(separator: ", ")) (\(t.steps) steps, no MPFR shadow) and then frozen for every precision. Rule: \(tuning.ruleText). Scores are median [over seeds] of the per-seed score; every candidate's cells are in `tuning.csv`.\n\n"
        let rows = plan.tuningChoices.map { c -> [String] in
            let candidates = c.scores.map { s in
                "\(s.value): \(Fmt.sig(s.medianScore))" + (s.divergedSeeds > 0 ? " (\(s.divergedSeeds)/\(s.seeds) diverged)" : "")
            }.joined(separator: "; ")
            return [c.group, "**\(c.chosen)**", candidates, c.caveat ?? ""]
        }
        md += try MarkdownTable(columns: ["configuration", "chosen", "candidates: median score", "caveat"].map { MarkdownTable.Column($0) }, rows: rows).rendered()
        return md
    }

    /// One row per tuning cell: the candidate, seed, its score (NaN if it diverged) and divergence step.
    static func csv(_ spec: StudySpec, _ plan: StudyPlan, _ cells: [CellResult]) throws -> String {
        guard let t = spec.training, let tuning = t.tuning else { return "" }
        var rows = [[CSVCell]]()
        for c in cells {
            let value = c.parameters[tuning.parameter] ?? "–"
            let score = TuningStage.score(c, steps: t.steps, window: tuning.window) ?? .nan
            rows.append([.text(spec.name), .text(c.optimizer), .text(c.method),
                         .text(tuning.parameter), .text(value), .integer(c.seed), .number(score),
                         c.divergenceStep.map { .integer($0) } ?? .empty])
        }
        return try CSVWriter.render(header: ["study", "cell", "method", "parameter", "value", "seed", "score", "divergence_step"], rows: rows)
    }
}
