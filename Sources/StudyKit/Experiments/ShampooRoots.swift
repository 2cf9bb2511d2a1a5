import Foundation
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// Claim R6 (Docs/Claims.md): Shampoo's inverse fourth roots need high precision.
///
/// A cell is one (gradient stream, seed). The statistic `L_t = β2 L_{t−1} + w G_tG_tᵀ` (`β2 = 1`, `w = 1`:
/// the plain sum of the paper and of the reference code's default; otherwise `w = 1 − β2`), from
/// `L₀ = 0`, is accumulated exactly in MPFR-113 and its spectrum taken there (Jacobi). For each ridge ε,
/// the intended matrix is Shampoo's `M = L + ε·λ_max(L)·I` (relative ridge, §6.3) with
/// `κ = κ(M) = (1 + ε)λ_max/(λ_min + ελ_max)`; at every step and for each precision policy and method,
/// the library computes `X ≈ M^{-1/4}` from L rounded to the policy's factor type and then to its inverse
/// type (L passes through Double first: one extra rounding of at most 2⁻⁵³ relative, far below every u
/// studied, which can change the final rounding only at exact ties):
/// - `eigen`: `inverseRootEigen(p: 4, epsilon: ε, relativeRidge: true, method: .generic)` (Jacobi in
///   the format, the ridge `ε·max d_i` added in the format);
/// - `newton`: `inverseRootNewton(p: 4, relativeRidge: ε, tolerance:, maxIterations:)` (the reference's
///   coupled Newton with power iteration, divergence guard and iteration cap).
///
/// Measured: the root residual `rootRes(X, M, 4) = ‖X⁴M − I‖_F/√d` evaluated in MPFR-113 from the rounded
/// X and the exact M (so the measurement adds no rounding); κ; Newton iterations; every outcome other
/// than `converged` (as an event); and the fallbacks: when the residual exceeds `fallback_residual` or
/// the root is unusable, the root is recomputed by the same method in fp32 (from formats less precise
/// than fp32) or fp64 (from fp32 and fp64) and the retry's residual recorded.
enum ShampooRoots: Experiment {
    static let kind = StudyKind.shampooRoots
    static let verdictRule = "within-format-residual-slope-in-band"
    typealias B = BigFloat113
    static let knownMethods = ["eigen", "newton"]
    /// `λ_min ≤ lowRankTolerance·λ_max` in MPFR-113 marks a rank-deficient statistic (an exactly zero
    /// eigenvalue comes out near `u_113·λ_max ≈ 1e-34·λ_max`; a genuine one is far above 1e-20 here).
    static let lowRankTolerance = 1e-20

    struct Parameters {
        var streams: StreamParameters
        var precisions: [String]
        var methods: [String]
        var epsilons: [Double]
        var beta2: Double
        var fallbackResidual: Double
        var slopeBand: [Double]
        var newtonMaxIterations: Int
        var newtonTolerance: Double
    }

    static func parameters(_ spec: StudySpec) throws(StudyError) -> Parameters {
        var p = try ExperimentParameters(spec).reader
        let streams = try StreamParameters.read(&p, spec)
        let precisions = try p.stringArray("precisions", allowed: PolicyCatalogue.names)
        let methods = try p.stringArray("methods", allowed: knownMethods)
        let out = Parameters(streams: streams, precisions: precisions, methods: methods,
                             epsilons: try p.doubleArray("epsilons", range: 1e-30...1), beta2: try p.double("beta2", range: 0.5...1),
                             fallbackResidual: try p.double("fallback_residual", range: 1e-12...1e6),
                             slopeBand: try p.band("slope_band", range: 0...10),
                             newtonMaxIterations: try p.int("newton_max_iterations", range: 1...10_000),
                             newtonTolerance: try p.double("newton_tolerance", range: 1e-30...1))
        try p.finish()
        return out
    }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        let p = try parameters(spec)
        var out = [PlannedCell]()
        for stream in p.streams.streams { for seed in p.streams.seeds {
            var params = stream.parameters
            params["precisions"] = p.precisions.joined(separator: ","); params["methods"] = p.methods.joined(separator: ",")
            params["epsilons"] = p.epsilons.parameterText; params["beta2"] = NumberText.short(p.beta2)
            params["fallback_residual"] = NumberText.short(p.fallbackResidual)
            params["newton_max_iterations"] = "\(p.newtonMaxIterations)"; params["newton_tolerance"] = NumberText.short(p.newtonTolerance)
            out.append(PlannedCell(key: experimentKey(spec, "\(stream.label)|\(seed)"), label: "\(stream.label) seed=\(seed)", optimizer: nil,
                                   precision: p.precisions.joined(separator: ","), seed: seed, parameters: params))
        } }
        return out
    }

    /// One root as computed in a format, returned in Double (exact for every format used).
    struct Root {
        var root: Matrix<Double>
        var outcome: InverseRootOutcome
        var iterations: Int
        var usable: Bool
        /// Unit roundoff of the type the root was computed in.
        var unitRoundoff: Double
    }

    struct Settings {
        var epsilon: Double, method: String, seed: UInt64, maxIterations: Int, tolerance: Double
    }

    /// The library's root of `l` (already in T), by the chosen method.
    static func root<T: Scalar>(_ l: Matrix<T>, _ s: Settings) throws -> Root {
        let r: InverseRoot<T> = s.method == "eigen"
            ? try l.inverseRootEigen(p: 4, epsilon: T(s.epsilon), relativeRidge: true, method: .generic)
            : try l.inverseRootNewton(p: 4, relativeRidge: s.epsilon, tolerance: s.tolerance, maxIterations: s.maxIterations, seed: s.seed)
        return Root(root: r.root.converted(to: Double.self), outcome: r.outcome, iterations: r.iterations, usable: r.isUsable,
                    unitRoundoff: T.unitRoundoff)
    }

    /// L rounded into the policy's factor type, then into its inverse type, and rooted there.
    struct RootVisitor: PolicyVisitor {
        let statistic: Matrix<Double>
        let settings: Settings
        func visit<P: PrecisionPolicy>(_: P.Type) throws -> Root {
            let stored = statistic.converted(to: P.Factors.self)
            return try ShampooRoots.root(stored.converted(to: P.Inverses.self), settings)
        }
    }

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        try StochasticRounding.withContext(seed: UInt64(cell.seed), stream: cell.key.hashValueStable) { try compute(cell) }
    }

    static func compute(_ cell: PlannedCell) throws -> CellResult {
        var result = CellResult.experiment(cell)
        let stream = GradientStream(cell: cell)
        let precisions = cell.parameters["precisions"]!.split(separator: ",").map(String.init)
        let methods = cell.parameters["methods"]!.split(separator: ",").map(String.init)
        let epsilons = cell.parameters["epsilons"]!.split(separator: ",").map { Double($0)! }
        let beta2 = ExperimentSupport.double(cell, "beta2"), bound = ExperimentSupport.double(cell, "fallback_residual")
        let maxIterations = ExperimentSupport.int(cell, "newton_max_iterations"), tolerance = ExperimentSupport.double(cell, "newton_tolerance")
        let grams = try stream.gradients(seed: UInt64(cell.seed)).map(ExactStatistic.gram)
        let n = grams[0].rows
        let decay = B(beta2), weight = beta2 == 1 ? B(1) : 1 - B(beta2)
        func record(_ t: Int, _ metric: String, _ value: Double) { result.records.append(MetricRecord(step: t, metric: metric, layer: -1, value: value)) }
        var l = Matrix<B>(rows: n, columns: n)
        for (index, gram) in grams.enumerated() {
            let t = index + 1
            l = try ExactStatistic.updated(l, decay: decay, weight: weight, gram: gram)
            let e = try l.symmetricEigen()
            let lambdaMax = e.values.last!, lambdaMin = Swift.max(e.values.first!, B.zero)
            let lowRank = lambdaMin <= B(lowRankTolerance) * lambdaMax
            record(t, "low_rank", lowRank ? 1 : 0)
            record(t, "lambda_min", lambdaMin.doubleValue); record(t, "lambda_max", lambdaMax.doubleValue)
            let lDouble = l.converted(to: Double.self)
            for eps in epsilons {
                let ridge = B(eps) * lambdaMax
                let m = l.addingToDiagonal(ridge)
                let tag = NumberText.short(eps)
                record(t, "kappa@\(tag)", ((lambdaMax + ridge) / (lambdaMin + ridge)).doubleValue)
                for method in methods {
                    let settings = Settings(epsilon: eps, method: method, seed: UInt64(cell.seed) &* 1_000_003 &+ UInt64(t),
                                            maxIterations: maxIterations, tolerance: tolerance)
                    // A retry depends only on its format (the same L, method and ε): computed once per step.
                    var retries = [String: (root: Root, residual: Double)]()
                    for precision in precisions {
                        let name = "\(precision)/\(method)/\(tag)"
                        let r = try PolicyCatalogue.visit(precision, RootVisitor(statistic: lDouble, settings: settings))
                        let residual = r.usable ? try ExactStatistic.rootResidual(r.root, m) : .infinity
                        if t == 1 { record(0, "unit_roundoff@\(precision)", r.unitRoundoff) }
                        record(t, "residual@\(name)", residual)
                        if method == "newton" { record(t, "iterations@\(name)", Double(r.iterations)) }
                        if r.outcome != .converged {
                            result.events.append(EventRecord(step: t, layer: -1, kind: r.outcome.rawValue, detail: name, value: residual))
                        }
                        let fallback = !(residual <= bound)
                        record(t, "fallback@\(name)", fallback ? 1 : 0)
                        if fallback {
                            let format = r.unitRoundoff > Float.unitRoundoff ? "fp32" : "fp64"
                            if retries[format] == nil {
                                let retry = format == "fp32" ? try root(lDouble.converted(to: Float.self), settings) : try root(lDouble, settings)
                                retries[format] = (retry, retry.usable ? try ExactStatistic.rootResidual(retry.root, m) : .infinity)
                            }
                            let again = retries[format]!.residual
                            record(t, "retry_residual@\(name)", again)
                            result.events.append(EventRecord(step: t, layer: -1, kind: "fallback",
                                                             detail: "\(name): residual \(NumberText.short(residual)) > \(NumberText.short(bound)); retried in \(format)",
                                                             value: again))
                            if !(again <= bound) {
                                result.events.append(EventRecord(step: t, layer: -1, kind: "fallback-failed", detail: name, value: again))
                            }
                        }
                    }
                }
            }
        }
        result.stepsCompleted = grams.count
        result.records.sort { ($0.metric, $0.layer, $0.step) < ($1.metric, $1.layer, $1.step) }
        return result
    }
}
