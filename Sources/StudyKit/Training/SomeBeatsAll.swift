/// The `some-beats-all` verdict rule: "some candidate configuration reaches a lower training loss than
/// every baseline at an equal step budget" (claim R9, Docs/Claims.md), judged with paired intervals, plus an
/// optional trend claim on a monitor ("κ(MᵀM) grows over training").
///
/// **Loss.** For each candidate configuration and the best baseline configuration (lowest median final
/// loss; a final loss is the mean over the last 10% of steps), the per-seed difference L_candidate,s − L_baseline,s gets a 95% bootstrap interval of its
/// median. *Beats*: the whole interval below zero. *Loses*: the whole interval above zero. Otherwise
/// *tie*, reported with the effect size. A diverged seed's final loss counts as +∞.
/// The claim holds if some candidate beats; it fails if every candidate loses; otherwise undecided.
///
/// **Trend** (`trend_metric`, `trend` = "grows" or "falls"): per candidate seed, the ratio of the
/// metric's last to its first recorded value; the median ratio's interval above 1 is "grows", below 1
/// "falls", else undecided. Evaluated on the candidates in `precision`.
///
/// The verdict is reproduced when every judged part holds, not reproduced when any part fails, else
/// undecided.
enum SomeBeatsAll {
    static let keys = ["rule", "candidates", "baselines", "precision", "trend_metric", "trend"]

    struct Parameters { var candidates: [String], baselines: [String], precision: String, trendMetric: String?, trend: String? }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var r = try TableReader(file: spec.file, path: "verdict", .table(spec.verdictRule))
        _ = try r.string("rule")
        let methods = spec.methods
        let p = Parameters(candidates: try r.stringArray("candidates", allowed: methods), baselines: try r.stringArray("baselines", allowed: methods),
                           precision: try r.string("precision", allowed: spec.training?.precisions ?? []),
                           trendMetric: try r.optionalString("trend_metric"), trend: try r.optionalString("trend"))
        if (p.trendMetric == nil) != (p.trend == nil) {
            throw StudyError(file: spec.file, field: "verdict.trend", value: p.trend ?? "(missing)", reason: "trend_metric and trend go together")
        }
        if let t = p.trend, !["grows", "falls"].contains(t) {
            throw StudyError(file: spec.file, field: "verdict.trend", value: "\"\(t)\"", reason: "must be \"grows\" or \"falls\"")
        }
        try r.finish()
        return p
    }

    static func verdict(_ spec: StudySpec, _ results: [CellResult]) throws(StudyError) -> Verdict {
        let p = try parameters(spec)
        let t = spec.training!
        func finals(_ label: String) -> [Int: Double] {
            Dictionary(results.filter { $0.optimizer == label && $0.precision == p.precision }
                .map { ($0.seed, $0.finalWindowLoss(steps: t.steps) ?? .infinity) }, uniquingKeysWith: { a, _ in a })
        }
        let candidates = t.optimizers.filter { p.candidates.contains($0.method) }.map(\.label)
        let baselines = t.optimizers.filter { p.baselines.contains($0.method) }.map(\.label)
        for label in candidates + baselines where finals(label).isEmpty {
            throw StudyError(file: spec.file, field: "verdict", value: "\"\(label)\" in \(p.precision)",
                             reason: "no cells to judge: a verdict over zero cells would be no verdict")
        }
        guard let best = baselines.min(by: { (Sample(Array(finals($0).values)).median ?? .infinity) < (Sample(Array(finals($1).values)).median ?? .infinity) }),
              !candidates.isEmpty else {
            return Verdict(reproduced: nil, evidence: "missing candidate or baseline cells")
        }
        let baseFinals = finals(best)
        var beats = [String](), loses = [String](), ties = [String]()
        for c in candidates {
            let mine = finals(c)
            let differences = mine.keys.sorted().compactMap { s in baseFinals[s].map { mine[s]! - $0 } }
            guard let ci = Bootstrap.median(differences) else { ties.append("\(c) (no paired seeds)"); continue }
            let text = "\(c) \(Fmt.sig(ci.estimate)) [\(Fmt.sig(ci.lower)), \(Fmt.sig(ci.upper))]"
            if ci.upper < 0 { beats.append(text) } else if ci.lower > 0 { loses.append(text) } else { ties.append(text) }
        }
        let lossHolds: Bool? = !beats.isEmpty ? true : (ties.isEmpty ? false : nil)
        var evidence = ["best baseline \(best) (median final loss \(Fmt.sig(Sample(Array(baseFinals.values)).median ?? .nan))) in \(p.precision); candidate − baseline, paired by seed, median [95% CI]: beats: \(beats.isEmpty ? "none" : beats.joined(separator: ", ")); ties: \(ties.isEmpty ? "none" : ties.joined(separator: ", ")); loses: \(loses.isEmpty ? "none" : loses.joined(separator: ", "))"]
        var trendHolds: Bool? = true
        if let metric = p.trendMetric, let claimed = p.trend {
            var parts = [String]()
            var outcomes = [String]()
            for c in candidates {
                let ratios = results.filter { $0.optimizer == c && $0.precision == p.precision }.compactMap { r -> Double? in
                    let series = r.series(metric).map(\.1).filter(\.isFinite)
                    guard let first = series.first, let last = series.last, first != 0 else { return nil }
                    return last / first
                }
                guard let ci = Bootstrap.median(ratios) else { continue }
                let outcome = ci.lower > 1 ? "grows" : (ci.upper < 1 ? "falls" : "undecided")
                outcomes.append(outcome)
                parts.append("\(c) last/first \(Fmt.sig(ci.estimate)) [\(Fmt.sig(ci.lower)), \(Fmt.sig(ci.upper))] (\(outcome))")
            }
            trendHolds = outcomes.isEmpty ? nil : (outcomes.allSatisfy { $0 == claimed } ? true
                                                   : (outcomes.contains { $0 != claimed && $0 != "undecided" } ? false : nil))
            evidence.append("\(metric) \(claimed) over training? \(parts.isEmpty ? "no candidate records it" : parts.joined(separator: "; "))")
        }
        let reproduced: Bool? = lossHolds == false || trendHolds == false ? false : (lossHolds == true && trendHolds == true ? true : nil)
        return Verdict(reproduced: reproduced, evidence: evidence.joined(separator: ". ") + ".")
    }
}
