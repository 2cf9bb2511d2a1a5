import Foundation
import Scalars
import LinearAlgebra

/// Claim R3 (Docs/Claims.md): the condition number at which Cholesky breaks down, per format and dimension, and
/// how a diagonal shift compares with a shift by a multiple of I (Higham & Pranesh).
///
/// A cell is one (format, n). Each of `trials` seeded matrix families `A(κ) = Q diag(λ) Qᵀ` (λ geometric
/// from 1 to 1/κ, Q fixed by the trial's seed, built in Double and rounded once to the format; fp64 is
/// thus formed in its own precision) is factored in the format with per-operation accumulation:
/// - *Scan.* At every κ of `conditions` (ascending): breakdown or not (the failure-rate curve), and for
///   each success the componentwise backward error `max |A − L̂L̂ᵀ| / (|L̂||L̂ᵀ|)` over Higham's γ_{n+1}
///   (*Accuracy and Stability*, Thm 10.3); a ratio above 1 would contradict the theorem.
/// - *Threshold.* The trial's breakdown threshold κ* is refined between the last grid κ that
///   factored and the first that broke down by `bisection_steps` bisections in log κ (the midpoint of
///   the final bracket). No breakdown up to the last grid κ gives κ* = +∞ (censored, counted); a
///   breakdown at the first grid κ gives κ* = that κ (an upper bound, counted).
/// - *Shift arm.* For each `shift_spreads` entry s, the matrix `A_s = D A D` with `A = A(κ)`,
///   `κ = shift_kappa_u/u` (beyond breakdown) and `D = diag(2^{e_i})`, the e_i integers spreading the
///   diagonal of A_s over s decades (powers of two: the scaling is exact, so the unshifted breakdown is
///   the same as A's). For `S = I` and `S = diag(A_s)` the smallest `t` (bisection in log t) such that
///   `fl(A_s + tS)` factors in the format is found, and the perturbation it took is recorded both
///   componentwise, `max_i tS_ii/(A_s)_ii` (the measure Higham & Pranesh's shift `c·u·diag(A)` bounds),
///   and normwise, `‖tS‖_F/‖A_s‖_F`.
enum CholeskyBreakdown: Experiment {
    static let kind = StudyKind.choleskyBreakdown
    static let verdictRule = "threshold-scales-as-1/u and diagonal-shift-smaller and backward-error-bound"

    struct Parameters {
        var formats: [String]
        var dimensions: [Int]
        var conditions: [Double]
        var trials: Int
        var bisectionSteps: Int
        var slopeBand: [Double]
        var shiftKappaU: Double
        var shiftSpreads: [Double]
    }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var p = try ExperimentParameters(spec).reader
        let formats = try p.stringArray("formats")
        for (i, f) in formats.enumerated() {
            do { _ = try ScalarFormats.type(named: f) } catch {
                throw StudyError(file: spec.file, field: "experiment.formats[\(i)]", value: "\"\(f)\"", reason: "\(error)")
            }
        }
        let dimensions = try p.intArray("dimensions", range: 2...512)
        let conditions = try p.doubleArray("conditions", range: 1...1e22)
        if conditions != conditions.sorted() || Set(conditions).count != conditions.count {
            throw StudyError(file: spec.file, field: "experiment.conditions", value: "\(conditions)", reason: "must be strictly increasing (the scan stops at the first breakdown)")
        }
        let out = Parameters(formats: formats, dimensions: dimensions, conditions: conditions,
                             trials: try p.int("trials", range: 1...10_000), bisectionSteps: try p.int("bisection_steps", range: 0...60),
                             slopeBand: try p.band("slope_band", range: -10...10), shiftKappaU: try p.double("shift_kappa_u", range: 1...1e6),
                             shiftSpreads: try p.doubleArray("shift_spreads", range: 0...12))
        try p.finish()
        return out
    }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        let p = try parameters(spec)
        var out = [PlannedCell]()
        for f in p.formats { for n in p.dimensions {
            let params = ["format": f, "n": "\(n)", "conditions": p.conditions.parameterText, "trials": "\(p.trials)",
                          "bisection_steps": "\(p.bisectionSteps)", "shift_kappa_u": NumberText.short(p.shiftKappaU),
                          "shift_spreads": p.shiftSpreads.parameterText]
            let parts = params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "|")
            out.append(PlannedCell(key: experimentKey(spec, parts), label: "\(f) n=\(n)", optimizer: nil, precision: f, seed: 0, parameters: params))
        } }
        return out
    }

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        let format = try ScalarFormats.type(named: cell.precision)
        return try StochasticRounding.withContext(seed: 0, stream: cell.key.hashValueStable) { try trials(format, cell) }
    }

    /// Whether `a` (Double) rounded once to T factors; the factor when it does.
    static func factors<T: Scalar>(_: T.Type, _ a: Matrix<Double>) throws -> (Matrix<T>, Result<Matrix<T>, CholeskyFailure>) {
        let t = a.converted(to: T.self)
        return (t, try t.cholesky())
    }

    /// Bisection in log10 between `good` (factors) and `bad` (breaks down); returns the midpoint of
    /// the final bracket. `breaks(x)` answers for one x.
    static func bisect(good: Double, bad: Double, steps: Int, _ breaks: (Double) throws -> Bool) rethrows -> Double {
        var lo = log10(good), hi = log10(bad)
        for _ in 0..<steps {
            let mid = (lo + hi) / 2
            if try breaks(Double.pow(10, mid)) { hi = mid } else { lo = mid }
        }
        return Double.pow(10, (lo + hi) / 2)
    }

    static func trials<T: Scalar>(_: T.Type, _ cell: PlannedCell) throws -> CellResult {
        var result = CellResult.experiment(cell)
        let n = ExperimentSupport.int(cell, "n"), trials = ExperimentSupport.int(cell, "trials")
        let steps = ExperimentSupport.int(cell, "bisection_steps"), kappaU = ExperimentSupport.double(cell, "shift_kappa_u")
        let conditions = cell.parameters["conditions"]!.split(separator: ",").map { Double($0)! }
        let spreads = cell.parameters["shift_spreads"]!.split(separator: ",").map { Double($0)! }
        let bound = T.gammaBound(n + 1)
        func record(_ trial: Int, _ metric: String, _ value: Double) { result.records.append(MetricRecord(step: trial, metric: metric, layer: -1, value: value)) }
        record(0, "unit_roundoff", T.unitRoundoff)
        for trial in 1...trials {
            let seed = UInt64(trial)
            var lastGood: Double? = nil, firstBad: Double? = nil
            var worst = 0.0
            for kappa in conditions {
                let (a, outcome) = try factors(T.self, SPDGenerator.matrix(dimension: n, condition: kappa, seed: seed))
                switch outcome {
                case .failure(let f):
                    record(trial, "failed@\(NumberText.short(kappa))", 1)
                    result.events.append(EventRecord(step: trial, layer: -1, kind: "cholesky-failure",
                                                     detail: "κ=\(NumberText.short(kappa)) pivot \(f.pivotIndex)", value: f.pivotValue))
                    if firstBad == nil { firstBad = kappa }
                case .success(let l):
                    record(trial, "failed@\(NumberText.short(kappa))", 0)
                    if firstBad == nil { lastGood = kappa }
                    worst = max(worst, componentwiseBackwardError(a, l))
                }
            }
            record(trial, "backward_error_over_gamma", bound.isFinite ? worst / bound : .nan)
            let threshold: Double
            switch (lastGood, firstBad) {
            case (_, nil): threshold = .infinity
            case (nil, let bad?): threshold = bad
            case (let good?, let bad?):
                threshold = try bisect(good: good, bad: bad, steps: steps) { k in
                    if case .failure = try factors(T.self, SPDGenerator.matrix(dimension: n, condition: k, seed: seed)).1 { return true }
                    return false
                }
            }
            record(trial, "threshold", threshold)
            record(trial, "threshold_censored", lastGood == nil || firstBad == nil ? 1 : 0)
            // Shift arm.
            let base = SPDGenerator.matrix(dimension: n, condition: kappaU / T.unitRoundoff, seed: seed)
            for spread in spreads {
                let a = scaledDiagonal(base, spread: spread)
                let tag = NumberText.short(spread)
                let diagonal = (0..<n).map { a[$0, $0] }
                let minDiagonal = diagonal.min()!, normA = a.frobeniusNorm
                let diagonalNorm = diagonal.reduce(0) { $0 + $1 * $1 }.squareRoot()
                for shift in ["identity", "diagonal"] {
                    func shifted(_ t: Double) -> Matrix<Double> {
                        var s = a
                        for i in 0..<n { s[i, i] += t * (shift == "identity" ? 1 : diagonal[i]) }
                        return s
                    }
                    func breaks(_ t: Double) throws -> Bool {
                        if case .failure = try factors(T.self, shifted(t)).1 { return true }
                        return false
                    }
                    // t is searched in [1e-30, 10]·(max a_ii for S = I, 1 for S = diag(A_s)): A_s itself breaks down by
                    // construction (recorded when it does not: t = 0), and the top of the bracket gives κ ≤ 1 + n/10 in
                    // exact arithmetic (λ_min ≥ t ≥ 10·λ_max/n), so it factors in every format studied; should it not,
                    // t is NaN and counted.
                    let scale = shift == "identity" ? diagonal.max()! : 1
                    let unshiftedBreaks = try breaks(0)
                    record(trial, "unshifted_breaks@\(tag)", unshiftedBreaks ? 1 : 0)
                    let t: Double
                    if !unshiftedBreaks { t = 0 } else if try breaks(10 * scale) { t = .nan } else {
                        t = try bisect(good: 10 * scale, bad: 1e-30 * scale, steps: steps + 8, breaks)
                    }
                    let componentwise = shift == "identity" ? t / minDiagonal : t
                    let normwise = shift == "identity" ? t * Double(n).squareRoot() / normA : t * diagonalNorm / normA
                    record(trial, "shift_\(shift)_componentwise@\(tag)", componentwise)
                    record(trial, "shift_\(shift)_normwise@\(tag)", normwise)
                }
            }
        }
        result.stepsCompleted = trials
        result.records.sort { ($0.metric, $0.layer, $0.step) < ($1.metric, $1.layer, $1.step) }
        return result
    }

    /// `max_ij |A − L̂L̂ᵀ|_ij / (|L̂||L̂ᵀ|)_ij`, in Double from the values T holds (products of two values of a
    /// format inside binary64 are exact in Double up to one rounding, far below every u studied except fp64,
    /// where the ratio to γ_{n+1} is dominated by the sum's own rounding and stays below 1 all the same).
    static func componentwiseBackwardError<T: Scalar>(_ a: Matrix<T>, _ l: Matrix<T>) -> Double {
        let n = a.rows
        var worst = 0.0
        for i in 0..<n { for j in 0...i {
            var exact = 0.0, magnitude = 0.0
            for k in 0...j { let p = l[i, k].doubleValue * l[j, k].doubleValue; exact += p; magnitude += abs(p) }
            if magnitude > 0 { worst = max(worst, abs(a[i, j].doubleValue - exact) / magnitude) }
        } }
        return worst
    }

    /// `D A D` with `D = diag(2^{e_i})`, `e_i = round(i/(n−1) · spread · log2(10) / 2)`: the diagonal of the
    /// result spans about `spread` decades upwards from A's (upwards, so that no entry enters fp16's
    /// subnormal range), and every product by a power of two is exact.
    static func scaledDiagonal(_ a: Matrix<Double>, spread: Double) -> Matrix<Double> {
        let n = a.rows
        let perIndex: Double = spread * log2(10.0) / 2 / Double(max(1, n - 1))
        let d: [Double] = (0..<n).map { i in
            let exponent: Double = (Double(i) * perIndex).rounded()
            return Double.pow(2, exponent)
        }
        return Matrix(rows: n, columns: n) { i, j in a[i, j] * d[i] * d[j] }
    }
}
