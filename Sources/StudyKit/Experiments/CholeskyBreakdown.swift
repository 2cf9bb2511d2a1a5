import Foundation
import Scalars
import LinearAlgebra

/// PAPER-CLAIMS R3: how often Cholesky breaks down as κ(A)·u grows, per format and dimension.
///
/// Each cell is one (format, n, κ): `trials` seeded SPD matrices `A = Q diag(λ) Qᵀ` (λ geometric from
/// 1 to 1/κ, built in Double, rounded once to the format) are factored in the format with per-operation
/// accumulation. A breakdown (non-positive pivot) is recorded as a result. For each success the
/// componentwise backward error `max |A − L̂L̂ᵀ| / (|L̂||L̂ᵀ|)` is divided by Higham's bound γ_{n+1}
/// (Thm 10.3); ratios above 1 would contradict the theorem.
enum CholeskyBreakdown: Experiment {
    static let kind = StudyKind.choleskyBreakdown

    struct Parameters {
        var formats: [String]
        var dimensions: [Int]
        var conditions: [Double]
        var trials: Int
    }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var p = try ExperimentParameters(spec).reader
        let formats = try p.stringArray("formats")
        for (i, f) in formats.enumerated() {
            do { _ = try ScalarFormats.type(named: f) } catch {
                throw StudyError(file: spec.file, field: "experiment.formats[\(i)]", value: "\"\(f)\"", reason: "\(error)")
            }
        }
        let out = Parameters(formats: formats, dimensions: try p.intArray("dimensions", range: 2...512),
                             conditions: try p.doubleArray("conditions", range: 1...1e16), trials: try p.int("trials", range: 1...10_000))
        try p.finish()
        return out
    }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        let p = try parameters(spec)
        var out = [PlannedCell]()
        for f in p.formats { for n in p.dimensions { for k in p.conditions {
            let params = ["format": f, "n": "\(n)", "kappa": NumberText.short(k), "trials": "\(p.trials)"]
            out.append(PlannedCell(key: experimentKey(spec, "\(f)|\(n)|\(k)|\(p.trials)"), label: "\(f) n=\(n) κ=\(NumberText.short(k))",
                                   optimizer: nil, precision: f, seed: 0, parameters: params))
        } } }
        return out
    }

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        let format = try ScalarFormats.type(named: cell.precision)
        return try StochasticRounding.withContext(seed: 0, stream: cell.key.hashValueStable) { try trial(format, cell) }
    }

    static func trial<T: Scalar>(_: T.Type, _ cell: PlannedCell) throws -> CellResult {
        var result = CellResult.experiment(cell)
        let n = Int(cell.parameters["n"]!)!, kappa = Double(cell.parameters["kappa"]!)!, trials = Int(cell.parameters["trials"]!)!
        let bound = T.gammaBound(n + 1)
        for trial in 1...trials {
            let a = SPDGenerator.matrix(dimension: n, condition: kappa, seed: UInt64(trial)).converted(to: T.self)
            switch try a.cholesky() {
            case .failure(let f):
                result.records.append(MetricRecord(step: trial, metric: "failed", layer: -1, value: 1))
                result.events.append(EventRecord(step: trial, layer: -1, kind: "cholesky-failure", detail: "pivot \(f.pivotIndex)", value: f.pivotValue))
            case .success(let l):
                result.records.append(MetricRecord(step: trial, metric: "failed", layer: -1, value: 0))
                // max over entries of |A − LLᵀ|_ij / (|L||Lᵀ|)_ij, in Double from the values T holds.
                var worst = 0.0
                for i in 0..<n { for j in 0...i {
                    var exact = 0.0, magnitude = 0.0
                    for k in 0...j { let p = l[i, k].doubleValue * l[j, k].doubleValue; exact += p; magnitude += abs(p) }
                    if magnitude > 0 { worst = max(worst, abs(a[i, j].doubleValue - exact) / magnitude) }
                } }
                result.records.append(MetricRecord(step: trial, metric: "backward_error_over_gamma", layer: -1, value: bound.isFinite ? worst / bound : .nan))
            }
        }
        result.stepsCompleted = trials
        return result
    }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        struct Row { let format: String; let n: Int; let kappa: Double; let rate: Double; let worstRatio: Double; let u: Double }
        var rows = [Row]()
        for r in results {
            let failed = r.series("failed").map(\.1)
            let ratios = r.series("backward_error_over_gamma").map(\.1).filter { !$0.isNaN }
            let u = (try? ScalarFormats.type(named: r.precision).unitRoundoff) ?? .nan
            rows.append(Row(format: r.precision, n: Int(r.parameters["n"]!)!, kappa: Double(r.parameters["kappa"]!)!,
                            rate: failed.isEmpty ? .nan : failed.reduce(0, +) / Double(failed.count),
                            worstRatio: ratios.max() ?? .nan, u: u))
        }
        rows.sort { ($0.format, $0.n, $0.kappa) < ($1.format, $1.n, $1.kappa) }
        var table = "| format | n | κ | κ·u | κ·n·u | failure rate | worst backward error / γ_{n+1} |\n|---|---:|---:|---:|---:|---:|---:|\n"
        for r in rows {
            table += "| \(r.format) | \(r.n) | \(Fmt.sig(r.kappa)) | \(Fmt.sig(r.kappa * r.u)) | \(Fmt.sig(r.kappa * Double(r.n) * r.u)) | \(Fmt.sig(r.rate)) | \(Fmt.sig(r.worstRatio)) |\n"
        }
        // Empirical threshold: the smallest κ whose failure rate reaches 1/2, per (format, n).
        var thresholds = "| format | n | threshold κ* (rate ≥ ½) | κ*·u | 1/n | inside [1/n, 1]? |\n|---|---:|---:|---:|---:|---|\n"
        var inside = 0, found = 0, boundViolations = 0
        for key in Set(rows.map { "\($0.format)|\($0.n)" }).sorted() {
            let group = rows.filter { "\($0.format)|\($0.n)" == key }
            boundViolations += group.filter { $0.worstRatio > 1 }.count
            guard let first = group.first(where: { $0.rate >= 0.5 }) else {
                thresholds += "| \(group[0].format) | \(group[0].n) | none up to κ = \(Fmt.sig(group.last!.kappa)) | – | \(Fmt.sig(1 / Double(group[0].n))) | – |\n"
                continue
            }
            found += 1
            let ku = first.kappa * first.u
            let ok = ku >= 1 / Double(first.n) && ku <= 1
            if ok { inside += 1 }
            thresholds += "| \(first.format) | \(first.n) | \(Fmt.sig(first.kappa)) | \(Fmt.sig(ku)) | \(Fmt.sig(1 / Double(first.n))) | \(ok ? "yes" : "no") |\n"
        }
        let reproduced: Bool? = found == 0 ? nil : (inside == found && boundViolations == 0)
        let evidence = "\(inside) of \(found) (format, n) pairs whose failure rate reached ½ did so with κ·u in [1/n, 1]; \(boundViolations) cells had a backward error above γ_{n+1}."
        var plot = ScatterPlot(title: "Cholesky failure rate against κ·n·u", xLabel: "κ·n·u", yLabel: "failure rate", logX: true)
        for key in Set(rows.map { "\($0.format) n=\($0.n)" }).sorted() {
            plot.series.append((key, rows.filter { "\($0.format) n=\($0.n)" == key }.map { ($0.kappa * Double($0.n) * $0.u, $0.rate) }))
        }
        return StudyFindings(verdict: Verdict(reproduced: reproduced, evidence: evidence),
                             sections: ["## Failure rate by format, dimension and κ\n\n" + table,
                                        "## Empirical thresholds\n\n" + thresholds],
                             plots: [("failure-rate.svg", plot.svg)])
    }
}
