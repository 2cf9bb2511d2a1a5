/// The `precision-robustness` verdict rule: "the stable methods stay within their baseline spread in
/// the low precisions while the unstable ones do not", judged with the review rules of Docs/Reports.md:
///
/// 1. **Activity.** A preconditioned configuration counts only if its preconditioner leaves the
///    identity in the baseline precision: the median over seeds of the largest departure
///    ‖P − τI‖/‖P‖ over the run (``PreconditionerActivity``) must reach `activity_threshold`. An inactive
///    one is reported as inactive and never counted as "stable in low precision" (it is SGD).
///    Methods without a preconditioner (SGD, Adam) are judged as baselines of the comparison.
/// 2. **Attributed divergence.** A low-precision divergence counts against the precision only if the
///    control of the same configuration and seed did not diverge (``DivergenceAttribution``); a control
///    that diverged too is a hyperparameter failure; a divergence without a control leaves the judgement
///    undecided.
/// 3. **Intervals.** The final loss (mean over the last 10% of steps) change is paired by seed, relative to the baseline's median,
///    r_s = (L_low,s − L_base,s) / median(L_base), and its median gets a 95% percentile-bootstrap
///    interval (``Bootstrap``). The margin is the baseline's own spread: its interquartile range over
///    seeds relative to its median. *Degraded*: a precision-caused divergence, or the whole interval
///    above the margin. *Within*: no precision-caused divergence and the whole interval at or below the
///    margin. Anything else is *undecided*, with the effect size.
///
/// The claim holds for the unstable methods if at least one of their active configurations is degraded
/// in some low precision (the prediction is that the method *can* fail there, not at every damping), and
/// for the stable methods if every active configuration is within in every low precision. Both must hold
/// for "reproduced"; a contradiction of either gives "not reproduced"; otherwise "undecided".
public enum PrecisionRobustness {
    public static let rule = "precision-robustness"

    /// The keys of the rule's `[verdict]` table, with what each holds.
    static let keys = ["rule", "unstable", "stable", "low", "baseline", "activity_threshold", "control"]

    public enum Outcome: String, Sendable { case degraded, within, undecided, inactive, notJudged = "not judged" }

    /// One (configuration, low precision) judgement.
    public struct Judgement: Sendable {
        public var label: String
        public var method: String
        public var precision: String
        public var seeds: Int
        /// Median over baseline seeds of the largest departure; nil for a method without a preconditioner.
        public var activity: Double?
        public var causes: [DivergenceCause: Int]
        public var relativeChange: ConfidenceInterval?
        public var margin: Double?
        public var outcome: Outcome
        public var reason: String
    }

    struct Parameters {
        var unstable: [String], stable: [String], low: [String], baseline: String
        var activityThreshold: Double
        var control: String?
    }

    /// Checks the `[verdict]` table of a study that uses this rule; called when the study is parsed, so
    /// a bad table is an error naming the field before anything runs (never a silent default).
    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var r = try TableReader(file: spec.file, path: "verdict", .table(spec.verdictRule))
        _ = try r.string("rule")
        let methods = spec.methods
        let precisions = spec.training?.precisions ?? []
        let p = Parameters(unstable: try r.stringArray("unstable", allowed: methods), stable: try r.stringArray("stable", allowed: methods),
                           low: try r.stringArray("low", allowed: precisions), baseline: try r.string("baseline", allowed: precisions),
                           activityThreshold: try r.double("activity_threshold", range: 0...1),
                           control: try r.optionalString("control"))
        if let c = p.control, !precisions.contains(c) {
            throw StudyError(file: spec.file, field: "verdict.control", value: "\"\(c)\"", reason: "not one of the study's precisions \(precisions)")
        }
        if p.low.contains(p.baseline) {
            throw StudyError(file: spec.file, field: "verdict.low", value: "\(p.low)", reason: "contains the baseline \"\(p.baseline)\"")
        }
        try r.finish()
        return p
    }

    /// Every judgement, in the study's configuration order, then the low precisions' order.
    public static func judgements(_ spec: StudySpec, _ results: [CellResult]) throws(StudyError) -> [Judgement] {
        let p = try parameters(spec)
        let t = spec.training!
        var out = [Judgement]()
        for o in t.optimizers where p.unstable.contains(o.method) || p.stable.contains(o.method) {
            let mine = results.filter { $0.optimizer == o.label }
            let base = mine.filter { $0.precision == p.baseline }
            let activity = Self.activity(base)
            for precision in p.low {
                let low = mine.filter { $0.precision == precision }
                out.append(judge(label: o.label, method: o.method, precision: precision, low: low, base: base, all: mine,
                                 activity: activity, p: p, steps: t.steps))
            }
        }
        return out
    }

    /// Median over cells of the largest network-wide departure over the run; nil without the metric.
    static func activity(_ cells: [CellResult]) -> Double? {
        let perCell = cells.compactMap { c -> Double? in
            let s = c.series(PreconditionerActivity.metric).map(\.1)
            return s.isEmpty ? nil : (s.contains { $0.isNaN } ? .nan : s.max()!)
        }
        return perCell.isEmpty ? nil : Sample(perCell).median ?? .nan
    }

    static func judge(label: String, method: String, precision: String, low: [CellResult], base: [CellResult], all: [CellResult],
                      activity: Double?, p: Parameters, steps: Int) -> Judgement {
        func control(_ c: CellResult) -> CellResult? {
            p.control.flatMap { name in all.first { $0.precision == name && $0.seed == c.seed } }
        }
        var causes = [DivergenceCause: Int]()
        for c in low { causes[DivergenceAttribution.attribute(c, steps: steps, control: control(c)).cause, default: 0] += 1 }
        var j = Judgement(label: label, method: method, precision: precision, seeds: low.count, activity: activity, causes: causes,
                          relativeChange: nil, margin: nil, outcome: .undecided, reason: "")
        if let a = activity, !(a >= p.activityThreshold) {
            j.outcome = .inactive
            j.reason = "preconditioner inactive in \(p.baseline): median largest departure \(Fmt.sig(a)) < \(Fmt.sig(p.activityThreshold))"
            return j
        }
        // Paired by seed, over seeds where both the low and the baseline cell finished.
        // The final loss is the mean over the last 10% of steps (``CellResult/finalWindowLoss``).
        let baseFinals = base.compactMap { c in c.finalWindowLoss(steps: steps).map { (c.seed, $0) } }
        let baseByseed = Dictionary(baseFinals, uniquingKeysWith: { a, _ in a })
        let baseSample = Sample(baseFinals.map(\.1))
        guard let m = baseSample.median, m > 0, let q = baseSample.quartiles else {
            j.outcome = .notJudged; j.reason = "no finished \(p.baseline) cell to compare with"
            return j
        }
        j.margin = (q.upper - q.lower) / m
        let pairs = low.compactMap { c -> Double? in
            guard let l = c.finalWindowLoss(steps: steps), let b = baseByseed[c.seed] else { return nil }
            return (l - b) / m
        }
        j.relativeChange = Bootstrap.median(pairs)
        let precisionFailures = causes[.precision] ?? 0, uncontrolled = causes[.uncontrolled] ?? 0
        if precisionFailures > 0 {
            j.outcome = .degraded
            j.reason = "\(precisionFailures) of \(low.count) seeds diverged where the control did not"
        } else if let ci = j.relativeChange, ci.lower > j.margin! {
            j.outcome = .degraded
            j.reason = "final loss above the \(p.baseline) spread: the whole interval exceeds the margin"
        } else if uncontrolled > 0 {
            j.outcome = .undecided
            j.reason = "\(uncontrolled) divergences without a control covering the run"
        } else if pairs.count < 3 {
            j.outcome = .notJudged
            j.reason = "only \(pairs.count) seeds finished in both \(precision) and \(p.baseline)"
        } else if let ci = j.relativeChange, ci.upper <= j.margin! {
            j.outcome = .within
            j.reason = "no precision-caused divergence; the whole interval is within the margin"
        } else {
            j.outcome = .undecided
            j.reason = "the interval straddles the margin"
        }
        return j
    }

    /// The verdict from the judgements.
    public static func verdict(_ spec: StudySpec, _ judgements: [Judgement]) throws(StudyError) -> Verdict {
        let p = try parameters(spec)
        // A judgement over no low-precision cell (results lost, say) would be a verdict about nothing.
        if let empty = judgements.first(where: { $0.seeds == 0 }) {
            throw StudyError(file: spec.file, field: "verdict.low", value: "\"\(empty.label)\" in \(empty.precision)",
                             reason: "no cells to judge: a verdict over zero cells would be no verdict")
        }
        func active(_ methods: [String]) -> [Judgement] {
            judgements.filter { methods.contains($0.method) && $0.outcome != .inactive && $0.outcome != .notJudged }
        }
        func names(_ js: [Judgement]) -> String {
            js.isEmpty ? "none" : js.map { "\($0.label) in \($0.precision)" }.joined(separator: ", ")
        }
        let unstable = active(p.unstable), stable = active(p.stable)
        let inactive = judgements.filter { $0.outcome == .inactive }.map(\.label)
        var evidence = [String]()
        let unstableDegraded = unstable.filter { $0.outcome == .degraded }
        let unstableHolds: Bool? = unstable.isEmpty ? nil
            : (!unstableDegraded.isEmpty ? true : (unstable.allSatisfy { $0.outcome == .within } ? false : nil))
        evidence.append("\(p.unstable.joined(separator: "/")): degraded in \(names(unstableDegraded)) (of \(unstable.count) active judgements)")
        let stableDegraded = stable.filter { $0.outcome == .degraded }
        let stableUndecided = stable.filter { $0.outcome == .undecided }
        let stableHolds: Bool? = stable.isEmpty ? nil : (!stableDegraded.isEmpty ? false : (stableUndecided.isEmpty ? true : nil))
        evidence.append("\(p.stable.joined(separator: "/")): degraded in \(names(stableDegraded)); undecided in \(names(stableUndecided)) (of \(stable.count) active judgements)")
        if !inactive.isEmpty {
            evidence.append("inactive preconditioners, not judged: \(Array(Set(inactive)).sorted().joined(separator: ", "))")
        }
        if stable.isEmpty { evidence.append("no stable-method configuration was active, so the claim about them was not tested") }
        if unstable.isEmpty { evidence.append("no unstable-method configuration was active") }
        let reproduced: Bool?
        if unstableHolds == false || stableHolds == false { reproduced = false }
        else if unstableHolds == true && stableHolds == true { reproduced = true }
        else { reproduced = nil }
        return Verdict(reproduced: reproduced, evidence: evidence.joined(separator: "; ") + ".")
    }

    /// The judgement table of the report.
    static func table(_ judgements: [Judgement]) throws(ReportError) -> String {
        let rows = judgements.map { j -> [String] in
            let ci = j.relativeChange.map { "\(Fmt.sig($0.estimate)) [\(Fmt.sig($0.lower)), \(Fmt.sig($0.upper))]" } ?? "–"
            let causes = DivergenceCause.allCases.filter { $0 != .finished }.map { "\(j.causes[$0] ?? 0)" }.joined(separator: " / ")
            return [j.label, j.precision, "\(j.seeds)", j.activity.map(Fmt.sig) ?? "–", causes, ci, j.margin.map(Fmt.sig) ?? "–",
                    "**\(j.outcome.rawValue)**", j.reason]
        }
        return try MarkdownTable(columns: ["configuration", "precision", "seeds", "activity (median max departure)",
                                           "divergences: precision / hyperparameter / uncontrolled",
                                           "relative final-loss change, median [95% CI]", "margin (baseline IQR/median)", "judgement", "why"]
                                    .map { MarkdownTable.Column($0) }, rows: rows).rendered()
    }
}
