import Foundation

/// A study's tuning stage (`[tuning]`): one hyperparameter — usually the learning rate — chosen per
/// method in one precision by a stated rule, then frozen for every other precision.
///
/// Why a stage and not a sweep: a method run at a rate tuned for another method, or at a rate that
/// diverges in fp32 already, makes a low-precision failure uninterpretable (review rule 6 of Docs/Reports.md). The
/// optimizer tables list candidates as an ordinary sweep (`learning_rate = [0.3, 0.1, 0.03]`);
/// configurations that differ only in the tuned key form a group, and each group keeps one value.
public struct TuningSpec: Sendable, Hashable, Codable {
    /// The hyperparameter key whose sweep is a tuning grid.
    public var parameter: String
    /// The precision the candidates are trained in (every seed, the full step budget).
    public var precision: String
    /// Fraction of the last steps whose mean training loss scores one seed (averages minibatch noise).
    public var window: Double
    /// How many candidates a group may add beyond the ends of its grid (`extend`, default 2): a choice at
    /// an end of a numeric grid is no evidence of an optimum, so the grid is continued in that direction.
    public var extend: Int = 2

    public init(parameter: String, precision: String, window: Double, extend: Int = 2) {
        self.parameter = parameter; self.precision = precision; self.window = window; self.extend = extend
    }

    /// The rule, in the words the report prints.
    public var ruleText: String {
        "each seed scores the mean training loss of its last \(NumberText.short(window * 100))% of steps; a candidate that diverges in any seed is excluded; the lowest median score over seeds wins; a tie goes to the smaller value; when every candidate diverges in some seed, the one with the fewest divergent seeds wins (then the lowest median of the others)"
            + (extend > 0 ? "; in a grid of three or more, a choice at the smallest candidate, or at the largest when it diverged in no seed, continues the grid one step beyond it (the value times the ratio of the last two, to 3 significant digits) and the rule is applied again, at most \(extend) time\(extend == 1 ? "" : "s") per group" : "")
    }
}

/// Configurations that differ only in the tuned parameter.
public struct TuningGroup: Sendable, Hashable {
    /// The group's label: the configurations' label without the tuned parameter.
    public var label: String
    /// Candidates in the study file's order, then those the stage added beyond the grid's ends.
    public var candidates: [OptimizerConfig]
    /// How many of `candidates` the stage added (the last ones).
    public var added: Int = 0
}

/// One candidate's score.
public struct TuningScore: Sendable, Hashable, Codable {
    public var value: String
    /// Median over seeds of the per-seed score (NaN when no seed finished).
    public var medianScore: Double
    public var divergedSeeds: Int
    public var seeds: Int
}

/// The value a group keeps, with every candidate's score (for the report and the manifest).
public struct TuningChoice: Sendable, Hashable, Codable {
    public var group: String
    public var parameter: String
    public var chosen: String
    public var scores: [TuningScore]
    /// Set when no candidate finished every seed, so the choice is the least bad one.
    public var caveat: String?
}

public enum TuningStage {
    /// Groups `optimizers` by everything but `parameter`, keeping the file's order.
    static func groups(_ optimizers: [OptimizerConfig], parameter: String) -> [TuningGroup] {
        var groups = [TuningGroup]()
        for o in optimizers {
            var rest = o.parameters; rest[parameter] = nil
            let label = unlabeled(o.label, parameter: parameter, value: o.parameters[parameter])
            if let i = groups.firstIndex(where: { g in
                var r = g.candidates[0].parameters; r[parameter] = nil
                return g.candidates[0].method == o.method && r == rest && g.label == label
            }) {
                groups[i].candidates.append(o)
            } else {
                groups.append(TuningGroup(label: label, candidates: [o]))
            }
        }
        return groups
    }

    /// `label` without the ` parameter=value` the sweep expansion appended.
    static func unlabeled(_ label: String, parameter: String, value: HyperparameterValue?) -> String {
        guard let value else { return label }
        return label.replacingOccurrences(of: " \(parameter)=\(value)", with: "")
    }

    /// One seed's score: the mean loss over the last `window` of the steps, or nil if it diverged.
    static func score(_ cell: CellResult, steps: Int, window: Double) -> Double? {
        cell.finalWindowLoss(steps: steps, window: window)
    }

    /// Applies the rule to a group's tuning cells (`cells[i]` holds candidate i's cells, one per seed).
    static func choose(_ group: TuningGroup, cells: [[CellResult]], spec: TuningSpec, steps: Int) -> (OptimizerConfig, TuningChoice) {
        var scores = [TuningScore]()
        var finite = [[Double]]()
        for (i, c) in group.candidates.enumerated() {
            let s = cells[i].map { score($0, steps: steps, window: spec.window) }
            let ok = s.compactMap { $0 }
            finite.append(ok)
            scores.append(TuningScore(value: c.parameters[spec.parameter]?.description ?? "–",
                                      medianScore: Sample(ok).median ?? .nan, divergedSeeds: s.count - ok.count, seeds: s.count))
        }
        let fewestDiverged = scores.map(\.divergedSeeds).min() ?? 0
        let eligible = scores.indices.filter { scores[$0].divergedSeeds == fewestDiverged }
        // Lowest median; ties to the smaller value (numbers compare numerically, the file's order otherwise).
        let best = eligible.min { a, b in
            let (ma, mb) = (scores[a].medianScore, scores[b].medianScore)
            // Two NaN medians (no seed finished in either) tie, and the tie goes to the smaller value too.
            if ma != mb && !(ma.isNaN && mb.isNaN) { return ma.isNaN ? false : (mb.isNaN ? true : ma < mb) }
            return numeric(group.candidates[a], spec.parameter) < numeric(group.candidates[b], spec.parameter)
        }!
        var chosen = group.candidates[best]
        chosen.label = group.label
        var caveats = [String]()
        if fewestDiverged > 0 {
            caveats.append("every candidate diverged in at least \(fewestDiverged) of \(scores[best].seeds) seeds in \(spec.precision); the choice is the least unstable one")
        }
        // A choice at the end of a numeric grid may be no optimum at all: the better value may lie beyond.
        let values = group.candidates.map { numeric($0, spec.parameter) }.filter(\.isFinite)
        if values.count > 2, let v = Optional(numeric(group.candidates[best], spec.parameter)), v == values.min() || v == values.max() {
            let extended = group.added > 0 ? " after \(group.added) added candidate\(group.added == 1 ? "" : "s")" : ""
            caveats.append("chosen at the \(v == values.max() ? "largest" : "smallest") candidate\(extended): the grid may not bracket the optimum")
        }
        let caveat = caveats.isEmpty ? nil : caveats.joined(separator: "; ")
        return (chosen, TuningChoice(group: group.label, parameter: spec.parameter, chosen: scores[best].value, scores: scores, caveat: caveat))
    }

    /// The candidate that continues `group`'s grid beyond the end its choice sits at, or nil: the choice
    /// is interior, the grid has fewer than three values or is not numeric, the group added `spec.extend` candidates already, the largest
    /// candidate diverged in some seed (a larger value would not be more stable), or the continued value
    /// is outside the hyperparameter's range.
    static func continuation(_ group: TuningGroup, choice: TuningChoice, spec: TuningSpec) -> OptimizerConfig? {
        // A grid of two is a choice between two settings, not a search; only grids of three or more grow.
        guard group.added < spec.extend, group.candidates.count - group.added >= 3 else { return nil }
        let pairs = group.candidates.map { (config: $0, value: numeric($0, spec.parameter)) }.filter { $0.value.isFinite && $0.value > 0 }
        guard pairs.count >= 2, pairs.count == group.candidates.count,
              let chosen = group.candidates.first(where: { $0.parameters[spec.parameter]?.description == choice.chosen }),
              let score = choice.scores.first(where: { $0.value == choice.chosen }) else { return nil }
        let sorted = pairs.map(\.value).sorted()
        let v = numeric(chosen, spec.parameter)
        let next: Double
        if v == sorted.last!, score.divergedSeeds == 0 {
            next = v * (v / sorted[sorted.count - 2])
        } else if v == sorted.first! {
            next = v * (v / sorted[1])
        } else { return nil }
        let rounded = Double(String(format: "%.3g", next)) ?? next
        guard rounded.isFinite, rounded > 0, !sorted.contains(rounded) else { return nil }
        var config = chosen
        config.parameters[spec.parameter] = .number(rounded)
        let old = " \(spec.parameter)=\(HyperparameterValue.number(v))"
        config.label = config.label.contains(old)
            ? config.label.replacingOccurrences(of: old, with: " \(spec.parameter)=\(HyperparameterValue.number(rounded))")
            : "\(group.label) \(spec.parameter)=\(HyperparameterValue.number(rounded))"
        do { _ = try OptimizerCatalogue.make(config, settings: .init(), policy: OptimizerCatalogue.Probe.self) } catch { return nil }
        return config
    }

    static func numeric(_ o: OptimizerConfig, _ key: String) -> Double {
        if case .number(let d)? = o.parameters[key] { return d }
        return .infinity
    }
}
