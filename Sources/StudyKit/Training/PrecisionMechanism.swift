/// The mechanism behind each judgement of the `precision-robustness` rule, read off the data: what
/// the low-precision cells recorded that the baseline cells did not (event kinds, how many seeds, the
/// first step), how the preconditioner's departure from a scaled identity changed, and where the
/// trajectory left the reference. A reader sees *why* a configuration degraded or stayed within,
/// not only that it did.
enum PrecisionMechanism {
    static func section(_ spec: StudySpec, _ results: [CellResult], _ judgements: [PrecisionRobustness.Judgement]) throws(ReportError) -> String {
        guard case .string(let baseline)? = spec.verdictRule["baseline"] else { return "" }
        var rows = [[String]]()
        for j in judgements where j.outcome != .notJudged {
            let low = results.filter { $0.optimizer == j.label && $0.precision == j.precision }
            let base = results.filter { $0.optimizer == j.label && $0.precision == baseline }
            rows.append([j.label, j.precision, "**\(j.outcome.rawValue)**", newEvents(low, base),
                         departure(low).map(Fmt.sig) ?? "–", j.activity.map(Fmt.sig) ?? "–",
                         Fmt.medianIQR(low.compactMap { $0.series("drift").last?.1 }),
                         Fmt.medianIQR(low.compactMap { c in c.divergenceStep.map(Double.init) })])
        }
        guard !rows.isEmpty else { return "" }
        let table = MarkdownTable(columns: ["configuration", "precision", "judgement", "events absent from \(baseline) (seeds affected, first step)",
                                           "departure here", "departure in \(baseline)", "drift at last step", "divergence step"]
                                    .map { MarkdownTable.Column($0) }, rows: rows)
        return "## Mechanism (what the low-precision cells recorded that the \(baseline) cells did not)\n\n" + (try table.rendered()) + """

            Event kinds are those of the Events section. "Departure" is the median over seeds of the largest \
            ‖P − τI‖/‖P‖ of the run: a low-precision departure far from the \(baseline) one means the precision \
            changed the preconditioner itself (a frozen or collapsed factor), not only the trajectory.

            """
    }

    /// Event kinds that occur in `low` but in no cell of `base`, with the seeds they hit and the first step.
    static func newEvents(_ low: [CellResult], _ base: [CellResult]) -> String {
        let baseKinds = Set(base.flatMap { $0.events.map(\.kind) })
        var seeds = [String: Set<Int>](), first = [String: Int]()
        for c in low {
            for e in c.events where !baseKinds.contains(e.kind) {
                seeds[e.kind, default: []].insert(c.seed)
                first[e.kind] = min(first[e.kind] ?? .max, e.step)
            }
        }
        guard !seeds.isEmpty else { return "none" }
        return seeds.keys.sorted().map { "\($0) (\(seeds[$0]!.count)/\(low.count), step \(first[$0]!))" }.joined(separator: ", ")
    }

    static func departure(_ cells: [CellResult]) -> Double? { PrecisionRobustness.activity(cells) }
}
