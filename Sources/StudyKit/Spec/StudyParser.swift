import Foundation
import Networks
import LinearAlgebra
import Scalars
import Optimizers

/// Turns a study file into a validated `StudySpec`. Nothing runs before every field has been checked.
public enum StudyParser {
    /// Parses `text` (the contents of `file`); `quick` applies the file's `[quick]` overrides.
    public static func parse(_ text: String, file: String, quick: Bool) throws(StudyError) -> StudySpec {
        try TextCheck.controlCharacters(text, file: file)
        guard case .table(var root) = try ConfigValue.parseTOML(text, file: file) else {
            throw StudyError(file: file, field: "", value: "", reason: "a study file is a TOML table")
        }
        let quickTable = root.removeValue(forKey: "quick")
        if quick, let q = quickTable {
            guard case .table(let overrides) = q else {
                throw StudyError(file: file, field: "quick", value: q.description, reason: "expected a table of overrides")
            }
            root = try merge(root, overrides, file: file, path: "quick")
        }
        let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        var top = try TableReader(file: file, path: "", .table(root))
        let kindName = try top.string("kind", allowed: StudyKind.allCases.map(\.rawValue))
        let kind = StudyKind(rawValue: kindName)!
        var spec = StudySpec(
            name: name, file: file,
            title: try top.string("title"), claim: try top.string("claim"),
            question: try top.string("question"), prediction: try top.string("prediction"),
            provenance: try top.string("provenance", default: "as specified here", allowed: ["as published", "as specified here"]),
            kind: kind, training: nil, experiment: [:], verdictRule: [:],
            canonical: ConfigValue.table(root).description)
        _ = top.raw("quick")
        if let v = top.raw("verdict") {
            guard case .table(let t) = v else { throw StudyError(file: file, field: "verdict", value: v.description, reason: "expected a table") }
            spec.verdictRule = t
        }
        if kind == .training {
            spec.training = try parseTraining(&top, file: file)
        } else {
            for key in ["problem", "training", "reference", "optimizer"] where root[key] != nil {
                throw StudyError(file: file, field: key, value: root[key]!.description, reason: "only training studies take [\(key)]; put parameters in [experiment]")
            }
            if let e = top.raw("experiment") {
                guard case .table(let t) = e else { throw StudyError(file: file, field: "experiment", value: e.description, reason: "expected a table") }
                spec.experiment = t
            }
        }
        try top.finish()
        try VerdictValidation.validate(spec)
        return spec
    }

    /// Deep-merges the `[quick]` overrides; an override for a key the study does not have is an error.
    static func merge(_ base: [String: ConfigValue], _ over: [String: ConfigValue], file: String, path: String) throws(StudyError) -> [String: ConfigValue] {
        var out = base
        for (k, v) in over {
            let p = "\(path).\(k)"
            switch (base[k], v) {
            case (.table(let b)?, .table(let o)): out[k] = .table(try merge(b, o, file: file, path: p))
            case (.array(let b)?, .array(let o)) where k == "optimizer":
                // [[quick.optimizer]] entries override the optimizers in order.
                guard o.count <= b.count else { throw StudyError(file: file, field: p, value: "\(o.count) entries", reason: "the study has \(b.count) optimizers") }
                var merged = b
                for (i, entry) in o.enumerated() {
                    guard case .table(let bt) = b[i], case .table(let ot) = entry else { continue }
                    merged[i] = .table(try merge(bt, ot, file: file, path: "\(p)[\(i)]"))
                }
                out[k] = .array(merged)
            case (nil, _):
                throw StudyError(file: file, field: p, value: v.description, reason: "overrides a field the study does not set")
            default: out[k] = v
            }
        }
        return out
    }

    static func parseTraining(_ top: inout TableReader, file: String) throws(StudyError) -> TrainingSpec {
        var p = try TableReader(file: file, path: "problem", top.raw("problem"))
        let datasets = ["digits", "breast_cancer", "synthetic-classification", "synthetic-regression"]
        let dataset = try p.string("dataset", allowed: datasets)
        let synthetic = dataset.hasPrefix("synthetic")
        let problem = ProblemSpec(
            dataset: dataset,
            samples: synthetic ? try p.int("samples", range: 8...100_000) : 0,
            features: synthetic ? try p.int("features", range: 1...4096) : 0,
            outputs: synthetic ? try p.int("outputs", range: 1...1000) : 0,
            condition: synthetic ? try p.double("condition", default: 1, range: 1...1e16) : 1,
            normalize: try p.bool("normalize", default: true),
            trainFraction: try p.double("train_fraction", default: 0.8, range: 0.05...0.95),
            hidden: try p.intArray("hidden", default: [], range: 1...4096),
            activation: Activation(rawValue: try p.string("activation", default: "tanh", allowed: Activation.allCases.map(\.rawValue)))!,
            loss: LossFunction(rawValue: try p.string("loss", default: dataset == "synthetic-regression" ? "mse" : "cross-entropy",
                                                      allowed: LossFunction.allCases.map(\.rawValue)))!,
            bias: try p.bool("bias", default: true),
            initialization: MLPSpec.Initialization(rawValue: try p.string("init", default: "glorot-uniform",
                                                                           allowed: MLPSpec.Initialization.allCases.map(\.rawValue)))!)
        if problem.loss == .crossEntropy, dataset == "synthetic-regression" {
            throw StudyError(file: file, field: "problem.loss", value: "\"cross-entropy\"", reason: "a regression data set needs loss = \"mse\"")
        }
        if problem.loss == .crossEntropy, synthetic, problem.outputs < 2 {
            throw StudyError(file: file, field: "problem.outputs", value: "\(problem.outputs)",
                             reason: "cross-entropy needs at least 2 classes (with 1 output the softmax is 1 and the loss is exactly 0)")
        }
        try p.finish()

        var t = try TableReader(file: file, path: "training", top.raw("training"))
        let (precisions, declared) = try parsePrecisions(t.raw("precisions"), file: file)
        if Set(precisions).count != precisions.count {
            throw StudyError(file: file, field: "training.precisions", value: "\(precisions)", reason: "lists a precision twice")
        }
        let accumulation = try t.string("accumulation", default: "per-op")
        do { _ = try AccumulationModel(name: accumulation) } catch {
            throw StudyError(file: file, field: "training.accumulation", value: "\"\(accumulation)\"",
                             reason: "unknown accumulation model (per-op, wide-fp32, wide-fp64, kahan, block<k>-T, block<k>-fp32)")
        }
        let elementwise = try t.string("elementwise", default: "per-op", allowed: ["per-op", "fused"])
        let steps = try t.int("steps", range: 1...100_000)
        let batchSize = try t.int("batch_size", range: 1...100_000)
        let trainCount = try trainingSetSize(problem, file: file)
        guard batchSize <= trainCount else {
            throw StudyError(file: file, field: "training.batch_size", value: "\(batchSize)",
                             reason: "larger than the training set (\(trainCount) samples: train_fraction \(problem.trainFraction) of \(dataset))")
        }
        let seeds = try t.intArray("seeds", range: 0...Int(Int32.max))
        if Set(seeds).count != seeds.count { throw StudyError(file: file, field: "training.seeds", value: "\(seeds)", reason: "lists a seed twice") }
        let training = TrainingSpec(
            problem: problem, steps: steps,
            batchSize: batchSize, seeds: seeds,
            divergenceFactor: try t.double("divergence_factor", default: 10, range: 1.000001...1e12),
            recordEvery: try t.int("record_every", default: max(1, steps / 50), range: 1...100_000),
            evaluateEvery: try t.int("evaluate_every", default: max(1, steps / 10), range: 1...100_000),
            precisions: precisions, accumulation: accumulation, elementwise: elementwise,
            optimizers: try parseOptimizers(top.raw("optimizer"), file: file),
            referenceBits: 0, referenceSteps: 0,
            monitors: try monitorPatterns(&t, file: file))
        var spec = training
        spec.declaredPrecisions = declared
        spec.lossScaling = try parseLossScaling(&t, precisions: precisions, file: file)
        try t.finish()
        var r = try TableReader(file: file, path: "reference", top.raw("reference"))
        spec.referenceBits = try r.int("bits", default: 256, range: 2...100_000)
        if !ReferenceCatalogue.bits.contains(spec.referenceBits) {
            throw StudyError(file: file, field: "reference.bits", value: "\(spec.referenceBits)",
                             reason: "ready-made reference precisions (53 = binary64, else MPFR bits) are \(ReferenceCatalogue.bits.map(String.init).joined(separator: ", "))")
        }
        spec.referenceSteps = try r.int("steps", default: 0, range: 0...steps)
        spec.localErrorEvery = try r.int("local_error_every", default: 1, range: 1...max(1, steps))
        try r.finish()
        if let tuning = top.raw("tuning") { spec.tuning = try parseTuning(tuning, optimizers: spec.optimizers, declared: spec.declaredPrecisions.map(\.name), file: file) }
        return spec
    }

    /// `precisions`: catalogue names, and tables that declare a precision role by role (`RolePrecision`).
    static func parsePrecisions(_ value: ConfigValue?, file: String) throws(StudyError) -> ([String], [RolePrecision]) {
        guard let value else {
            throw StudyError(file: file, field: "training.precisions", value: "(missing)", reason: "required array of precisions")
        }
        let items: [ConfigValue]
        if case .array(let a) = value { items = a } else { items = [value] }
        guard !items.isEmpty else { throw StudyError(file: file, field: "training.precisions", value: "[]", reason: "must not be empty") }
        var names: [String] = [], declared: [RolePrecision] = []
        for (i, item) in items.enumerated() {
            let field = "training.precisions[\(i)]"
            switch item {
            case .string(let name):
                guard PolicyCatalogue.entry(named: name) != nil else {
                    throw StudyError(file: file, field: field, value: "\"\(name)\"",
                                     reason: "unknown precision (known: \(PolicyCatalogue.names.joined(separator: ", ")); or declare one as a table of roles, Docs/StudyFormat.md)")
                }
                names.append(name)
            case .table:
                let r = try RolePrecisionParser.parse(item, file: file, path: field)
                names.append(r.name); declared.append(r)
            default:
                throw StudyError(file: file, field: field, value: item.description,
                                 reason: "expected a precision name or a table of roles, got \(item.typeName)")
            }
        }
        return (names, declared)
    }

    /// The number of training samples the split will give (`Dataset.split` rounds the fraction).
    static func trainingSetSize(_ p: ProblemSpec, file: String) throws(StudyError) -> Int {
        let count: Int
        if p.dataset.hasPrefix("synthetic") { count = p.samples } else {
            do { count = try BundledData.load(p.dataset).sampleCount } catch {
                throw StudyError(file: file, field: "problem.dataset", value: "\"\(p.dataset)\"", reason: "\(error)")
            }
        }
        let train = Int((p.trainFraction * Double(count)).rounded())
        guard train >= 1, train < count else {
            throw StudyError(file: file, field: "problem.train_fraction", value: "\(p.trainFraction)",
                             reason: "leaves \(train) of \(count) samples for training; both the training and the test set must be non-empty")
        }
        return train
    }

    /// `monitors`: names or `prefix*` patterns, each of which must match a monitor some optimizer emits
    /// (a misspelt name would silently record nothing).
    static func monitorPatterns(_ t: inout TableReader, file: String) throws(StudyError) -> [String] {
        let patterns = try t.stringArray("monitors", default: [])
        for (i, p) in patterns.enumerated() where !MonitorCatalogue.matchesSome(p) {
            throw StudyError(file: file, field: "training.monitors[\(i)]", value: "\"\(p)\"",
                             reason: "no optimizer emits a monitor by this name (known: \(MonitorCatalogue.templates.joined(separator: ", ")); a trailing * matches a prefix)")
        }
        return patterns
    }

    /// `loss_scaling = "dynamic"` with its initial scale, growth interval and the precisions it applies to.
    static func parseLossScaling(_ t: inout TableReader, precisions: [String], file: String) throws(StudyError) -> LossScalingSpec {
        guard try t.string("loss_scaling", default: "none", allowed: ["none", "dynamic"]) == "dynamic" else { return .none }
        let scale = try t.double("loss_scale_initial", default: 65536, range: 1...16_777_216)
        guard scale.significand == 1 else {
            throw StudyError(file: file, field: "training.loss_scale_initial", value: NumberText.short(scale),
                             reason: "must be a power of two, so that scaling and unscaling are exact outside over/underflow")
        }
        let applied = try t.stringArray("loss_scaling_precisions")
        for (i, p) in applied.enumerated() where !precisions.contains(p) {
            throw StudyError(file: file, field: "training.loss_scaling_precisions[\(i)]", value: "\"\(p)\"",
                             reason: "not one of the study's precisions (\(precisions.joined(separator: ", ")))")
        }
        var spec = LossScalingSpec(dynamic: true, initialScale: scale,
                                   growthInterval: try t.int("loss_scale_growth_interval", default: 100, range: 1...1_000_000), precisions: applied)
        spec.unscale = LossScaling.UnscalePoint(rawValue: try t.string("loss_scale_unscale", default: "before-statistics",
                                                                       allowed: LossScaling.UnscalePoint.allCases.map(\.rawValue)))!
        return spec
    }

    /// `[tuning]`: which swept key is a tuning grid, the precision it is decided in, the score window.
    static func parseTuning(_ value: ConfigValue, optimizers: [OptimizerConfig], declared: [String] = [], file: String) throws(StudyError) -> TuningSpec {
        var u = try TableReader(file: file, path: "tuning", value)
        let parameter = try u.string("parameter")
        let precision = try u.string("precision", default: "fp32")
        guard PolicyCatalogue.entry(named: precision) != nil || declared.contains(precision) else {
            throw StudyError(file: file, field: "tuning.precision", value: "\"\(precision)\"",
                             reason: "unknown precision (known: \(PolicyCatalogue.names.joined(separator: ", ")))")
        }
        let spec = TuningSpec(parameter: parameter, precision: precision, window: try u.double("window", default: 0.1, range: 0.001...1),
                              extend: try u.int("extend", default: 2, range: 0...5))
        try u.finish()
        let groups = TuningStage.groups(optimizers, parameter: parameter)
        guard groups.contains(where: { $0.candidates.count > 1 }) else {
            throw StudyError(file: file, field: "tuning.parameter", value: "\"\(parameter)\"",
                             reason: "no [[optimizer]] sweeps it, so there is nothing to tune (give it an array of candidates)")
        }
        var seen = Set<String>()
        for g in groups where !seen.insert(g.label).inserted {
            throw StudyError(file: file, field: "optimizer", value: "\"\(g.label)\"",
                             reason: "two tuning groups share this label; give them distinct `label`s")
        }
        return spec
    }

    static func parseOptimizers(_ value: ConfigValue?, file: String) throws(StudyError) -> [OptimizerConfig] {
        guard case .array(let entries)? = value, !entries.isEmpty else {
            throw StudyError(file: file, field: "optimizer", value: value?.description ?? "(missing)", reason: "a training study needs at least one [[optimizer]]")
        }
        var out = [OptimizerConfig]()
        for (i, entry) in entries.enumerated() {
            let path = "optimizer[\(i)]"
            guard case .table(var table) = entry else {
                throw StudyError(file: file, field: path, value: entry.description, reason: "expected a table")
            }
            guard case .string(let method)? = table.removeValue(forKey: "method") else {
                throw StudyError(file: file, field: "\(path).method", value: table["method"]?.description ?? "(missing)",
                                 reason: "required: one of \(OptimizerCatalogue.names.joined(separator: ", "))")
            }
            guard let descriptor = OptimizerCatalogue.descriptor(named: method) else {
                throw StudyError(file: file, field: "\(path).method", value: "\"\(method)\"",
                                 reason: "unknown optimizer (known: \(OptimizerCatalogue.names.joined(separator: ", ")))")
            }
            var label = method
            if let l = table.removeValue(forKey: "label") {
                guard case .string(let s) = l else { throw StudyError(file: file, field: "\(path).label", value: l.description, reason: "expected a string") }
                label = s
            }
            // Each key: a value, or an array of values to sweep.
            var axes: [(String, [HyperparameterValue])] = []
            for key in table.keys.sorted() {
                guard let parameter = descriptor.parameters.first(where: { $0.key == key }) else {
                    throw StudyError(file: file, field: "\(path).\(key)", value: table[key]!.description,
                                     reason: "unknown hyperparameter of \(method) (known: \(descriptor.parameters.map(\.key).joined(separator: ", ")))")
                }
                let raw: [ConfigValue]
                if case .array(let a) = table[key]! { raw = a } else { raw = [table[key]!] }
                guard !raw.isEmpty else { throw StudyError(file: file, field: "\(path).\(key)", value: "[]", reason: "an empty sweep") }
                var values = [HyperparameterValue]()
                for v in raw { values.append(try parameter.validate(v, file: file, field: "\(path).\(key)")) }
                axes.append((key, values))
            }
            var combos: [[String: HyperparameterValue]] = [[:]]
            for (key, values) in axes {
                combos = combos.flatMap { c in values.map { v in var n = c; n[key] = v; return n } }
            }
            let swept = axes.filter { $0.1.count > 1 }.map(\.0)
            for c in combos {
                do { _ = try OptimizerCatalogue.make(OptimizerConfig(method: method, label: label, parameters: c),
                                                     settings: .init(), policy: OptimizerCatalogue.Probe.self) } catch {
                    throw StudyError(file: file, field: "\(path).\(error.field)", value: error.value,
                                     reason: "invalid \(method) configuration (\(c.keys.sorted().map { "\($0) = \(c[$0]!)" }.joined(separator: ", "))): \(error.reason)")
                }
                let suffix = swept.map { "\($0)=\(c[$0]!)" }.joined(separator: " ")
                out.append(OptimizerConfig(method: method, label: suffix.isEmpty ? label : "\(label) \(suffix)", parameters: c))
            }
        }
        var seen = Set<String>()
        for o in out where !seen.insert(o.label).inserted {
            throw StudyError(file: file, field: "optimizer", value: "\"\(o.label)\"", reason: "two optimizer configurations share this label; give them distinct `label`s")
        }
        return out
    }
}
