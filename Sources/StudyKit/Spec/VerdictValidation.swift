/// Checks a study's `[verdict]` table when the study is parsed, so that a verdict can only ever be
/// computed by a rule that exists, over methods and precisions the study runs. Without this, a typo
/// (`low = ["fp8"]` in a study without fp8) judged zero cells and printed a verdict with exit code 0.
enum VerdictValidation {
    /// The rules a training study may name; each reads its own keys (see README "Studies").
    static let trainingRules = [PrecisionRobustness.rule, "some-beats-all", "converges-across-grid", "unstable-vs-stable"]

    static func validate(_ spec: StudySpec) throws(StudyError) {
        guard !spec.verdictRule.isEmpty else {
            throw StudyError(file: spec.file, field: "verdict", value: "(missing)",
                             reason: "every study needs a [verdict] table whose `rule` says how its data decide the prediction")
        }
        if spec.kind == .training {
            var r = try TableReader(file: spec.file, path: "verdict", .table(spec.verdictRule))
            switch try r.string("rule", allowed: trainingRules) {
            case PrecisionRobustness.rule: _ = try PrecisionRobustness.parameters(spec)
            case "some-beats-all": _ = try SomeBeatsAll.parameters(spec)
            case "converges-across-grid": _ = try ConvergesAcrossGrid.parameters(spec)
            default: _ = try UnstableVsStable.parameters(spec)
            }
        } else {
            guard let experiment = ExperimentCatalogue.experiment(spec.kind) else {
                throw StudyError(file: spec.file, field: "kind", value: "\"\(spec.kind.rawValue)\"", reason: "this study kind has no experiment registered")
            }
            // An experiment computes one fixed verdict; its `rule` must name it, so that the file says
            // what the report will judge. `statement` and `reason` are prose for the report's reader.
            var r = try TableReader(file: spec.file, path: "verdict", .table(spec.verdictRule))
            _ = try r.string("rule", allowed: [experiment.verdictRule])
            _ = try r.optionalString("statement")
            _ = try r.optionalString("reason")
            try r.finish()
        }
    }
}

/// Parameters of the `converges-across-grid` rule: every cell of `converges` in `precision` finishes,
/// and some cell of `diverges` does not.
enum ConvergesAcrossGrid {
    struct Parameters { var converges: [String], diverges: [String], precisions: [String] }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var r = try TableReader(file: spec.file, path: "verdict", .table(spec.verdictRule))
        _ = try r.string("rule")
        let methods = spec.methods
        let p = Parameters(converges: try r.stringArray("converges", allowed: methods), diverges: try r.stringArray("diverges", allowed: methods),
                           precisions: try r.stringArray("precision", allowed: spec.training?.precisions ?? []))
        try r.finish()
        return p
    }
}

/// Parameters of the `unstable-vs-stable` rule (kept for studies written before `precision-robustness`).
enum UnstableVsStable {
    struct Parameters { var unstable: [String], stable: [String], low: [String], baseline: [String] }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var r = try TableReader(file: spec.file, path: "verdict", .table(spec.verdictRule))
        _ = try r.string("rule")
        let methods = spec.methods
        let precisions = spec.training?.precisions ?? []
        let p = Parameters(unstable: try r.stringArray("unstable", default: [], allowed: methods),
                           stable: try r.stringArray("stable", default: [], allowed: methods),
                           low: try r.stringArray("low", allowed: precisions), baseline: try r.stringArray("baseline", allowed: precisions))
        if p.unstable.isEmpty && p.stable.isEmpty {
            throw StudyError(file: spec.file, field: "verdict.stable", value: "(missing)", reason: "name at least one stable or unstable method")
        }
        try r.finish()
        return p
    }
}

extension StudySpec {
    /// The study's optimizer methods, each once, in the order of their first configuration (a sweep
    /// gives one method many configurations; error messages list each method once).
    var methods: [String] {
        var seen = Set<String>()
        return (training?.optimizers ?? []).map(\.method).filter { seen.insert($0).inserted }
    }
}
