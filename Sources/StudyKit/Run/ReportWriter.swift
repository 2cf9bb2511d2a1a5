import Foundation
import LinearAlgebra
import Scalars
import Networks

/// Facts about the machine and build that a manifest records (read once per process).
public enum Provenance {
    public static let gitCommit: String = {
        let out = run("/usr/bin/env", ["git", "rev-parse", "HEAD"])?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard out.count == 40 else { return "unknown" }
        let dirty = !(run("/usr/bin/env", ["git", "status", "--porcelain", "--untracked-files=no"]) ?? "").isEmpty
        return dirty ? out + "+dirty" : out
    }()

    public static let toolchain: String = {
        (run("/usr/bin/env", ["swift", "--version"]) ?? "").split(separator: "\n").first.map(String.init) ?? "unknown"
    }()

    public static let cpu: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }()

    /// Where and how a report was produced, kept apart from `manifest.json` (what was produced), so a
    /// rerun on another machine changes only this file and `verify` can say "same results, other machine".
    public static var record: JSONValue {
        .object(["git_commit": .string(gitCommit), "toolchain": .string(toolchain), "cpu": .string(cpu),
                 "blas": .string(BLAS.configuration), "mpfr": .string(MPFRInfo.version)])
    }

    /// The fields of a stored provenance record that differ from this process's, as "field: then → now".
    public static func differences(from stored: JSONValue) -> [String] {
        guard case .object(let now) = record else { return [] }
        return ["cpu", "blas", "toolchain", "mpfr"].compactMap { k in
            let was = stored[k]?.stringValue ?? "?", is_ = now[k]?.stringValue ?? "?"
            return was == is_ ? nil : "\(k): \(was) → \(is_)"
        }
    }

    static func run(_ tool: String, _ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }
}

/// Writes `reports/<study>/`: README.md (the report), results.csv, events.csv, plots/*.svg and
/// manifest.json with the SHA-256 of every other file. Every file is written atomically; nothing in
/// them depends on time, thread count or dictionary order, so a rerun reproduces every byte.
public enum ReportWriter {
    public static func write(_ plan: StudyPlan, results: [String: CellResult], quick: Bool, to root: String) throws -> Verdict {
        let plan = try plan.resolved(with: results)
        let spec = plan.spec
        let ordered = plan.cells.compactMap { results[$0.key] }
        guard ordered.count == plan.cells.count else {
            throw StudyError(file: spec.file, field: "", value: "\(ordered.count) of \(plan.cells.count) cells",
                             reason: "cannot write the report: cells are missing (run the remaining shards, then `Studies merge`)")
        }
        let findings = spec.kind == .training ? try TrainingFindings.findings(spec, ordered) : ExperimentCatalogue.findings(spec, ordered)
        let dir = "\(root)/\(spec.name)"
        let tier = quick ? "quick" : "full"
        if let bytes = try? AtomicFile.read("\(dir)/manifest.json"), let old = (try? JSONParser.parse(bytes: bytes))?["tier"]?.stringValue, old != tier {
            throw StudyError(file: spec.file, field: "", value: dir,
                             reason: "holds the \(old)-tier report; writing the \(tier) tier over it would mix tiers (choose another --out)")
        }
        var files = [String: String]()   // relative path → contents
        for (name, svg) in findings.plots { files["plots/\(name)"] = svg }
        files["results.csv"] = try resultsCSV(spec, ordered)
        files["cells.csv"] = try cellsCSV(spec, ordered)
        files["events.csv"] = try eventsCSV(spec, ordered)
        var sections = [String]()
        if !plan.tuningChoices.isEmpty {
            let tuningCells = plan.tuningCells.compactMap { results[$0.key] }
            files["tuning.csv"] = try TuningReport.csv(spec, plan, tuningCells)
            sections.append(try TuningReport.section(spec, plan))
        }
        sections.append(try EventGlossary.section(ordered))
        files["README.md"] = markdown(spec, plan, findings, extraSections: sections, quick: quick)
        // Remove stale plots of an earlier run, then write.
        if let old = try? FileManager.default.contentsOfDirectory(atPath: dir + "/plots") {
            for f in old where files["plots/\(f)"] == nil { try? FileManager.default.removeItem(atPath: dir + "/plots/" + f) }
        }
        var hashes = [String: JSONValue]()
        for path in files.keys.sorted() {
            try AtomicFile.write(files[path]!, to: "\(dir)/\(path)")
            hashes[path] = .string(SHA256.hex(files[path]!))
        }
        var declared = [String: JSONValue]()
        if let d = spec.training?.declaredPrecisions, !d.isEmpty {
            // Every role's format with every parameter: the run-time formats are data, not build facts.
            declared["declared_precisions"] = .object(Dictionary(uniqueKeysWithValues: d.map { r in
                (r.name, JSONValue.object(Dictionary(uniqueKeysWithValues: zip(RolePrecisionParser.roles, r.formats).map { role, f in
                    (role, JSONValue.object(["name": .string(f.name), "parameters": .string(f.parameterDescription)]))
                })))
            }))
        }
        let manifest = JSONValue.object(declared.merging([
            "study": .string(spec.name), "file": .string(spec.file), "claim": .string(spec.claim),
            "configuration_sha256": .string(SHA256.hex(spec.canonical)), "tier": .string(quick ? "quick" : "full"),
            "cells": .integer(plan.cells.count),
            "seeds": .array((spec.training?.seeds ?? []).map { .integer($0) }),
            "reference": .object(["bits": .integer(spec.training?.referenceBits ?? 0),
                                  "steps": .integer(spec.training?.referenceSteps ?? 0)]),
            "blas_threads_per_cell": .integer(1),
            "verdict": .string(findings.verdict.label),
            "tuning": .array(plan.tuningChoices.map { c in
                .object(["group": .string(c.group), "parameter": .string(c.parameter), "chosen": .string(c.chosen),
                         "precision": .string(spec.training?.tuning?.precision ?? ""), "caveat": .string(c.caveat ?? "")])
            }),
            "files": .object(hashes),
        ]) { $1 })
        try AtomicFile.write(manifest.canonicalText, to: "\(dir)/manifest.json")
        try AtomicFile.write(Provenance.record.canonicalText, to: "\(dir)/provenance.json")
        return findings.verdict
    }

    /// One row per cell × step × metric. A cell is identified by (cell, precision, seed); its parameters
    /// are in `cells.csv`, not repeated on every row (they made up most of the bytes of a full report).
    static func resultsCSV(_ spec: StudySpec, _ results: [CellResult]) throws -> String {
        var rows = [[CSVCell]]()
        for r in results {
            for m in r.records {
                rows.append([.text(spec.name), .text(r.optimizer), .text(r.method), .text(r.precision), .integer(r.seed),
                             .integer(m.step), .text(m.metric), .integer(m.layer), .number(m.value)])
            }
        }
        return try CSVWriter.render(header: ["study", "cell", "method", "precision", "seed", "step", "metric", "layer", "value"], rows: rows)
    }

    /// One row per cell, one column per parameter (empty where a cell's method has no such parameter),
    /// so that each column holds one type and pandas reads numbers as numbers. `variant` separates
    /// configurations that share a `method` (singd dense/diagonal, kfac-i/kfac-f). Join with
    /// `results.csv` and `events.csv` on (study, cell, precision, seed).
    static func cellsCSV(_ spec: StudySpec, _ results: [CellResult]) throws -> String {
        let keys = Set(results.flatMap(\.parameters.keys)).sorted()
        var rows = [[CSVCell]]()
        for r in results {
            var row: [CSVCell] = [.text(spec.name), .text(r.optimizer), .text(r.method), .text(variant(r)), .text(r.precision), .integer(r.seed)]
            for k in keys { row.append(r.parameters[k].map(Self.typed) ?? .empty) }
            rows.append(row)
        }
        return try CSVWriter.render(header: ["study", "cell", "method", "variant", "precision", "seed"] + keys, rows: rows)
    }

    /// A parameter's value as a number when it is one (so the column is numeric), else as text.
    static func typed(_ text: String) -> CSVCell {
        if let i = Int(text) { return .integer(i) }
        if let x = Double(text), x.isFinite { return .number(x) }
        return .text(text)
    }

    /// The method with the setting that makes it a different algorithm: `variant` (kfac-i, mkor-ema) or
    /// the factor `structure` (singd-dense, singd-diagonal); the method itself otherwise.
    static func variant(_ r: CellResult) -> String {
        if let v = r.parameters["variant"] { return v.hasPrefix(r.method) ? v : "\(r.method)-\(v)" }
        if let s = r.parameters["structure"] { return "\(r.method)-\(s)" }
        return r.method
    }

    static func eventsCSV(_ spec: StudySpec, _ results: [CellResult]) throws -> String {
        var rows = [[CSVCell]]()
        for r in results {
            for e in r.events {
                rows.append([.text(spec.name), .text(r.optimizer), .text(r.precision), .integer(r.seed), .integer(e.step),
                             .integer(e.layer), .text(e.kind), .text(e.detail), .number(e.value)])
            }
            if let s = r.divergenceStep {
                rows.append([.text(spec.name), .text(r.optimizer), .text(r.precision), .integer(r.seed), .integer(s), .integer(-1),
                             .text("divergence"), .text(r.divergenceReason ?? ""), .number(.nan)])
            }
        }
        return try CSVWriter.render(header: ["study", "cell", "precision", "seed", "step", "layer", "kind", "detail", "value"], rows: rows)
    }

    static func markdown(_ spec: StudySpec, _ plan: StudyPlan, _ f: StudyFindings, extraSections: [String], quick: Bool) -> String {
        var md = "# \(spec.claim) — \(spec.title)\n\n"
        md += "**Verdict: \(f.verdict.label)** (\(spec.provenance)\(quick ? "; quick tier, reduced sizes: not evidence" : "")). \(f.verdict.evidence)\n\n"
        md += "**Question.** \(spec.question)\n\n**Prediction.** \(spec.prediction)\n\n"
        md += "## Setup\n\n"
        if let t = spec.training {
            let p = t.problem
            md += "- Data: `\(p.dataset)`\(p.dataset.hasPrefix("synthetic") ? " (\(p.samples) samples, \(p.features) features, \(p.outputs) outputs, input condition \(Fmt.sig(p.condition)))" : "")"
            md += ", \(p.normalize ? "standardised" : "raw features"), train fraction \(p.trainFraction), data seed \(ProblemData.dataSeed).\n"
            md += "- Network: hidden widths \(p.hidden), \(p.activation.rawValue), loss \(p.loss.rawValue), bias \(p.bias), init \(p.initialization.rawValue).\n"
            md += "- Training: \(t.steps) steps, batch \(t.batchSize), seeds \(t.seeds.map(String.init).joined(separator: ", ")); divergence at a non-finite loss or loss > \(Fmt.sig(t.divergenceFactor))× the first.\n"
            md += "- Arithmetic: accumulation `\(t.accumulation)`, elementwise `\(t.elementwise)`; precisions: " +
                t.precisions.map { "`\($0)` (\(t.precisionSummary($0)))" }.joined(separator: "; ") + ".\n"
            md += "- Optimizers\(plan.tuningChoices.isEmpty ? "" : " (after the tuning stage)"): " + t.optimizers.map { o in
                "`\(o.label)` (\(o.method)" + (o.parameters.isEmpty ? "" : ": " + o.parameters.keys.sorted().map { "\($0) = \(o.parameters[$0]!)" }.joined(separator: ", ")) + ")"
            }.joined(separator: "; ") + ". Unlisted hyperparameters take the defaults of Docs/Optimizers.md.\n"
            md += t.referenceSteps == 0 ? "- Reference: none.\n"
                : "- Reference: \(t.referenceBits == 53 ? "binary64 (fp64)" : "MPFR \(MPFRInfo.version) at \(t.referenceBits) bits") for \(t.referenceSteps == t.steps ? "the whole trajectory (\(t.steps) steps)" : "the first \(t.referenceSteps) steps")\(t.localErrorEvery > 1 ? "; one-step local errors every \(t.localErrorEvery) steps" : "").\n"
            if t.lossScaling.dynamic {
                md += "- Dynamic loss scaling in \(t.lossScaling.precisions.map { "`\($0)`" }.joined(separator: ", ")): initial scale \(NumberText.short(t.lossScaling.initialScale)), halved (and the step skipped) on a non-finite gradient, doubled after \(t.lossScaling.growthInterval) finite steps in a row; S is divided out of the backward signals \(t.lossScaling.unscale == .beforeStatistics ? "before" : "after") the curvature statistics are formed; events `loss-scale-backoff`, `loss-scale-growth`, `skipped-step`, metric `loss_scale`.\n"
            }
        } else {
            md += "- Parameters: " + spec.experiment.keys.sorted().map { "`\($0)` = \(spec.experiment[$0]!)" }.joined(separator: ", ") + "\n"
        }
        md += "- Cells: \(plan.cells.count)\(plan.tuningCells.isEmpty ? "" : ", after \(plan.tuningCells.count) tuning cells"). Study file: `\(spec.file)`.\n\n"
        for s in f.sections + extraSections { md += s.hasSuffix("\n") ? s + "\n" : s + "\n\n" }
        if !f.plots.isEmpty {
            md += "## Plots\n\n"
            for p in f.plots { md += "![\(p.name)](plots/\(p.name))\n\n" }
        }
        md += "## Files\n\n`results.csv` (one row per cell × step × metric), `cells.csv` (one row per cell, one column per parameter, with a `variant` column; join on study, cell, precision and seed), `events.csv` (every recorded event and divergence), `plots/`, `manifest.json` (configuration hash, seeds, tier, verdict, SHA-256 of every file) and `provenance.json` (commit, toolchain, CPU, BLAS, MPFR); every column is described in `Docs/Reports.md`. Reproduce with `swift run -c release Studies run \(spec.name)\(quick ? " --quick" : "")`; check with `swift run -c release Studies verify \(spec.name)\(quick ? " --quick" : "")`.\n"
        return md
    }
}
