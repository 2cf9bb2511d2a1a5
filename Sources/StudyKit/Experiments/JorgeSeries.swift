import Foundation
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// Claim R5 (Docs/Claims.md): how close Jorge's quadratic-truncated series (Docs/Optimizers.md §7.4) gets to the exact
/// inverse fourth root of the statistic it stands for.
///
/// A cell is one (gradient stream, coefficient rule, β2, seed). For every precision policy listed, the
/// library's `Jorge<P>` (keep-s scale mode, `L̂₀ = ε^{-1/4}I`) is stepped on the stream's gradients and
/// its left root `L̂_t` is read after every step. The comparator is the statistic Jorge's `L̂` stands for
/// (§7.6), accumulated exactly in MPFR-113 from the Double gradients: `L₀ = εI`,
/// `L_t = β L_{t−1} + (1 − β) G_tG_tᵀ` with the study's β for the fixed rule, and with the run's own
/// `β_eff = 1/(1 + c_t)` (its recorded `c_t`) for the adaptive and clamped rules; its root
/// `L_t^{-1/4}` comes from the library's eigen route in MPFR-113 (`inverseRootEigen`, Jacobi).
///
/// Per step and precision: `error` = ‖L̂_t − L_t^{-1/4}‖_F/‖L_t^{-1/4}‖_F (in MPFR), `drift` =
/// ‖L̂_t − L̂_t^{fp64}‖_F/‖L̂_t^{fp64}‖_F (rounding only), Jorge's own monitors `ρ(Y)` (the series
/// argument) and `‖X‖_F`, and `commutator` = ‖[L_{t−1}, G_tG_tᵀ]‖_F/(‖L_{t−1}‖_F‖G_tG_tᵀ‖_F).
///
/// Flops per step (left side, `L` of side n, closed form, counting a multiply-add as 2): Jorge forms
/// `L̂²`, `(L̂²)²`, `Q·GGᵀ`, `Y·Y`, `L̂·P` — five n×n products, `10n³`. An eigh-based root needs the
/// symmetric QR algorithm with accumulated eigenvectors, `≈ 9n³` (Golub & Van Loan, *Matrix
/// Computations*, §8.3: ≈ 4n³/3 for the eigenvalues alone, ≈ 9n³ with Q), plus `Q·diag·Qᵀ`, `2n³`: `11n³`.
/// Both need `GGᵀ` (`2n²m`), not counted.
enum JorgeSeries: Experiment {
    static let kind = StudyKind.jorgeSeries
    static let verdictRule = "bound-on-commuting-cells and positive-rank-correlations and accumulation and graceful-bf16"
    typealias B = BigFloat113

    struct Parameters {
        var streams: StreamParameters
        var precisions: [String]
        var rules: [String]
        var beta2: [Double]
        var epsilon: Double
        var slopeBand: [Double]
    }

    static let knownRules = ["fixed", "adaptive", "clamped"]

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var p = try ExperimentParameters(spec).reader
        let streams = try StreamParameters.read(&p, spec)
        let precisions = try p.stringArray("precisions", allowed: PolicyCatalogue.names)
        if !precisions.contains("fp64") {
            throw StudyError(file: spec.file, field: "experiment.precisions", value: "\(precisions)",
                             reason: "must include fp64: its run separates the series error from rounding")
        }
        let rules = try p.stringArray("rules", allowed: knownRules)
        let out = Parameters(streams: streams, precisions: precisions, rules: rules,
                             beta2: try p.doubleArray("beta2", range: 0.5...0.999999), epsilon: try p.double("epsilon", range: 1e-8...1e8),
                             slopeBand: try p.band("slope_band", range: 0...10))
        try p.finish()
        return out
    }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        let p = try parameters(spec)
        var out = [PlannedCell]()
        for stream in p.streams.streams { for rule in p.rules {
            for beta in rule == "adaptive" ? [Double.nan] : p.beta2 { for seed in p.streams.seeds {
                var params = stream.parameters
                params["rule"] = rule; params["beta2"] = beta.isNaN ? "adaptive" : NumberText.short(beta)
                params["epsilon"] = NumberText.short(p.epsilon); params["precisions"] = p.precisions.joined(separator: ",")
                let b = params["beta2"]!
                out.append(PlannedCell(key: experimentKey(spec, "\(stream.label)|\(rule)|\(b)|\(seed)"),
                                       label: "\(stream.label) \(rule) β2=\(b) seed=\(seed)", optimizer: nil,
                                       precision: p.precisions.joined(separator: ","), seed: seed, parameters: params))
            } }
        } }
        return out
    }

    /// One precision's Jorge run on the stream.
    struct Run {
        var roots: [Matrix<Double>] = []
        /// `c_t` as the run held it, nil when the step skipped the left update.
        var coefficients: [Double?] = []
        var rho: [Double] = []
        var xNorm: [Double] = []
        var events: [EventRecord] = []
        var constants: [String] = []
    }

    struct RunVisitor: PolicyVisitor {
        let gradients: [Matrix<Double>]
        let rule: String, beta2: Double, epsilon: Double, precision: String

        func visit<P: PrecisionPolicy>(_: P.Type) throws -> Run {
            var h = Jorge<P>.Hyperparameters()
            h.coefficientRule = Jorge<P>.CoefficientRule(rawValue: rule)!
            h.beta2 = beta2.isNaN ? 0.99 : beta2
            h.epsilon = epsilon; h.scaleMode = .keepScale; h.expensiveMonitors = true
            var opt = Jorge<P>(h)
            var run = Run()
            run.constants = opt.constants.entries.map { "\($0.name) = \($0.value) → \($0.rounded) (\($0.format))" }
            let g0 = gradients[0]
            var w = [Matrix<P.Weights>(rows: g0.rows, columns: g0.columns)]
            let empty = Matrix<P.Weights>(rows: 0, columns: 0)
            for (i, g) in gradients.enumerated() {
                let t = i + 1
                let stats = LayerStatistics(inputs: empty, outputGradients: empty, gradient: g.converted(to: P.Weights.self))
                let report = try opt.step(weights: &w, layers: [stats], step: t)
                func monitor(_ name: String) -> Double? { report.monitors.first { $0.name == name && $0.layer == 0 }?.value }
                run.roots.append(opt.rootsL[0].converted(to: Double.self))
                run.coefficients.append(monitor("coefficient_c_L"))
                run.rho.append(monitor("rho_Y_L") ?? .nan)
                run.xNorm.append(monitor("x_norm_L") ?? .nan)
                for e in report.events {
                    run.events.append(EventRecord(step: t, layer: e.layer, kind: e.kind.rawValue, detail: "\(precision): \(e.detail)", value: e.value))
                }
            }
            return run
        }
    }

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        try StochasticRounding.withContext(seed: UInt64(cell.seed), stream: cell.key.hashValueStable) { try compute(cell) }
    }

    static func compute(_ cell: PlannedCell) throws -> CellResult {
        var result = CellResult.experiment(cell)
        let stream = GradientStream(cell: cell)
        let rule = cell.parameters["rule"]!, beta2 = Double(cell.parameters["beta2"]!) ?? .nan
        let epsilon = ExperimentSupport.double(cell, "epsilon")
        let precisions = ["fp64"] + cell.parameters["precisions"]!.split(separator: ",").map(String.init).filter { $0 != "fp64" }
        let gradients = try stream.gradients(seed: UInt64(cell.seed))
        let grams = try gradients.map(ExactStatistic.gram)
        let n = stream.statisticDimension
        func record(_ t: Int, _ metric: String, _ value: Double) { result.records.append(MetricRecord(step: t, metric: metric, layer: -1, value: value)) }
        record(0, "dimension", Double(n))
        record(0, "flops_jorge", 10 * Double(n * n * n))
        record(0, "flops_eigh", 11 * Double(n * n * n))
        var fixedReference: (roots: [Matrix<B>], commutators: [Double])? = nil
        var fp64Roots = [Matrix<Double>]()
        for precision in precisions {
            let run = try PolicyCatalogue.visit(precision, RunVisitor(gradients: gradients, rule: rule, beta2: beta2, epsilon: epsilon, precision: precision))
            result.events += run.events
            result.roundedConstants += run.constants.map { "\(precision): \($0)" }
            let reference: (roots: [Matrix<B>], commutators: [Double])
            if rule == "fixed" {
                if fixedReference == nil {
                    fixedReference = try exactRoots(grams, epsilon: epsilon) { _ in (B(beta2), 1 - B(beta2)) }
                }
                reference = fixedReference!
            } else {
                reference = try exactRoots(grams, epsilon: epsilon) { t in
                    run.coefficients[t].map { c in let cb = B(c); return (1 / (1 + cb), cb / (1 + cb)) }
                }
            }
            if precision == "fp64" { fp64Roots = run.roots }
            for t in 1...gradients.count {
                let root = run.roots[t - 1]
                record(t, "error@\(precision)", root.isFinite ? ExperimentSupport.relativeFrobenius(root.map { B($0) }, reference.roots[t - 1]) : .infinity)
                if precision != "fp64" {
                    record(t, "drift@\(precision)", root.isFinite ? relativeDistance(root.elements, fp64Roots[t - 1].elements) : .infinity)
                }
                record(t, "rho@\(precision)", run.rho[t - 1])
                record(t, "x_norm@\(precision)", run.xNorm[t - 1])
                record(t, "commutator@\(precision)", reference.commutators[t - 1])
            }
        }
        result.stepsCompleted = gradients.count
        result.records.sort { ($0.metric, $0.layer, $0.step) < ($1.metric, $1.layer, $1.step) }
        return result
    }

    /// The exact statistic's roots `L_t^{-1/4}` (MPFR-113) and the commutators `[L_{t−1}, G_tG_tᵀ]`;
    /// `weights(t)` gives (decay, weight) for step index t (0-based), nil to leave L unchanged.
    static func exactRoots(_ grams: [Matrix<B>], epsilon: Double, weights: (Int) -> (B, B)?) throws -> (roots: [Matrix<B>], commutators: [Double]) {
        let n = grams[0].rows
        var l = Matrix<B>.identity(n).scaled(by: B(epsilon))
        var roots = [Matrix<B>](), commutators = [Double]()
        var last: Matrix<B>? = nil
        for (t, gram) in grams.enumerated() {
            commutators.append(ExactStatistic.commutator(l, gram))
            if let (decay, weight) = weights(t) {
                l = try ExactStatistic.updated(l, decay: decay, weight: weight, gram: gram)
                last = nil
            }
            if last == nil { last = try ExactStatistic.referenceRoot(l, epsilon: 0).root }
            roots.append(last!)
        }
        return (roots, commutators)
    }
}
