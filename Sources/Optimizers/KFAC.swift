import Scalars
import LinearAlgebra
import Networks

/// KFAC (Martens & Grosse 2015) in its practical forms, Docs/Optimizers.md §4.4.
///
/// Variants (`Variant`): **KFAC-F** (factored Tikhonov damping with π, inverses by Cholesky — the
/// harness default), **KFAC-E** (exact damping of the Kronecker product through eigendecompositions,
/// eigenvalues clamped at 0, kfac-pytorch's default), **KFAC-I** (the same damping γ on both factors;
/// with `unmodifiedDamping` it adds λ itself, as kfac-pytorch's INVERSE method does).
///
/// Precision policy: statistics A, G and their EMA in `Factors`; inverses, eigendecompositions and the
/// preconditioned direction in `Inverses`; momentum in `Moments`; weights in `Weights`. Reductions follow
/// `settings.accumulation`. The EMA weight ε_k = min(1 − 1/k, ε_max) and 1 − ε_k are formed in Double
/// and rounded separately each update. Elementwise statements follow `settings.elementwise` through
/// `Statement`: the factor EMAs (step 1), KFAC-E's eigenbasis division (step 3), and the weight decay,
/// momentum and update of the SGD finish (step 5, `SGD`); reductions and their scaling by 1/N do not.
/// Monitors (§4.6): κ(A + πγI), κ(G + γ/π I), λ_min(A), λ_min(G) before damping, symErr(A), symErr(G),
/// invRes of both inverses, π, KL factor ν, ‖Δ‖/‖∇W‖, cos∠(Δ, ∇W). Events: Cholesky failures with pivot,
/// clamped eigenvalues, fallbacks, non-finite values.
public struct KFAC<Policy: PrecisionPolicy>: Optimizer {
    public typealias W = Policy.Weights
    public typealias F = Policy.Factors
    public typealias I = Policy.Inverses
    public typealias M = Policy.Moments

    public enum Variant: String, Sendable, Hashable, CaseIterable, Codable { case factored = "kfac-f", eigen = "kfac-e", identity = "kfac-i" }
    /// How the preconditioned direction Δ becomes an update: `practical` (steps 4–5: KL clip and momentum
    /// SGD, the harness default) or `lm` (steps 4'–6': the paper's exact-model step size and momentum with
    /// Levenberg–Marquardt damping, see `KFAC+LM.swift`).
    public enum Finish: String, Sendable, Hashable, CaseIterable, Codable { case practical, lm }

    /// The paper finish's settings (§4.3, paper column).
    public struct LevenbergMarquardt: Sendable, Hashable {
        /// Initial λ of C = F + (λ + η_wd) I.
        public var initialDamping: Double = 150
        /// T1: the ρ rule runs at the steps with (t − 1) mod T1 = 0.
        public var dampingInterval: Int = 5
        /// Per-step decay: ω1 = decay^T1, ω2 = (√decay)^T2 (the paper's 19/20).
        public var decay: Double = 0.95
        /// λ_min, the floor of the ρ rule.
        public var minimumDamping: Double = 1e-8
        /// T2: γ is re-tuned over {γ, ω2 γ, γ/ω2} at the steps with (t − 1) mod T2 = 0.
        public var gammaInterval: Int = 20
        /// Initial factor damping γ; nil means √(λ + η_wd).
        public var initialGamma: Double? = nil
        @inlinable
        public init() {}
    }

    public struct Hyperparameters: Sendable, Hashable {
        public var variant: Variant = .factored
        public var learningRate: Double = 0.1
        public var damping: Double = 1e-3
        public var emaMax: Double = 0.95
        public var statisticsInterval: Int = 1
        public var inverseInterval: Int = 10
        public var momentum: Double = 0.9
        public var weightDecay: Double = 0
        /// KL clip κ; nil disables the clip.
        public var klClip: Double? = 1e-3
        /// kfac-pytorch's INVERSE method: add λ (not γ = √λ) to each factor (KFAC-I only).
        public var unmodifiedDamping = false
        public var fallback: FallbackPolicy = .keepPrevious
        /// Compute eigenvalue-based monitors (κ, λ_min) at inverse refreshes; costs an eigendecomposition in Double.
        public var expensiveMonitors = true
        /// `practical` unless set; with `lm`, `learningRate`, `momentum` and `klClip` are not used and
        /// the factor damping γ (and KFAC-E's product damping γ²) is the adapted one.
        public var finish: Finish = .practical
        public var lm = LevenbergMarquardt()
        @inlinable
        public init() {}
    }

    public let hyperparameters: Hyperparameters
    public let settings: ArithmeticSettings
    public private(set) var constants = RoundedConstants()
    public var factorsA: [Matrix<F>] = []
    public var factorsG: [Matrix<F>] = []
    public var inverseA: [Matrix<I>] = []
    public var inverseG: [Matrix<I>] = []
    @usableFromInline var eigenA: [SymmetricEigen<I>?] = []
    @usableFromInline var eigenG: [SymmetricEigen<I>?] = []
    /// Layers whose inverse failed with the raw-gradient fallback.
    @usableFromInline var rawLayers: Set<Int> = []
    /// Statistic updates so far (the k of the EMA weight ε_k).
    @inlinable public var statisticUpdates: Int { _statisticUpdates }
    @usableFromInline var _statisticUpdates = 0
    @usableFromInline var momentumSGD: SGD<Policy>
    @usableFromInline let lambdaI: I, gammaI: I
    /// KFAC-LM state: λ and γ (adapted), δ_prev (empty before the first step and after a skipped one).
    @usableFromInline var lmLambda: I = 0, lmGamma: I = 0
    @usableFromInline var deltaPrevious: [Matrix<M>] = []
    /// KFAC-LM constants: ω1, ω2, λ_min, η_wd in `Inverses`.
    @usableFromInline var lmOmega1: I = 1, lmOmega2: I = 1, lmLambdaMin: I = 0, lmEta: I = 0

    @inlinable public var name: String {
        guard hyperparameters.finish == .lm else { return hyperparameters.variant.rawValue }
        return hyperparameters.variant == .factored ? "kfac-lm" : hyperparameters.variant.rawValue + "-lm"
    }

    /// The per-factor damping of the refreshes: γ = √λ, or KFAC-LM's adapted γ.
    @inlinable var factorGamma: I { hyperparameters.finish == .lm ? lmGamma : gammaI }
    /// KFAC-E's damping of the Kronecker product: λ, or γ² in KFAC-LM.
    @inlinable var productDamping: I { hyperparameters.finish == .lm ? lmGamma * lmGamma : lambdaI }

    public init(_ h: Hyperparameters = .init(), settings: ArithmeticSettings = .init()) {
        hyperparameters = h; self.settings = settings
        var c = RoundedConstants()
        lambdaI = c.round("damping", h.damping)
        gammaI = c.round("gamma=sqrt(damping)", h.damping.squareRoot())
        momentumSGD = SGD(.init(learningRate: h.learningRate, momentum: h.momentum, weightDecay: h.weightDecay), settings: settings)
        for e in momentumSGD.constants.entries { _ = c.round(e.name, e.value, to: W.self) }
        if h.finish == .lm {
            let lm = h.lm
            lmLambda = c.round("lm_damping", lm.initialDamping)
            lmGamma = c.round("lm_gamma", lm.initialGamma ?? (lm.initialDamping + h.weightDecay).squareRoot())
            lmOmega1 = c.round("omega1=decay^T1", Double.pow(lm.decay, Double(lm.dampingInterval)))
            lmOmega2 = c.round("omega2=sqrt(decay)^T2", Double.pow(lm.decay.squareRoot(), Double(lm.gammaInterval)))
            lmLambdaMin = c.round("lm_damping_min", lm.minimumDamping)
            lmEta = c.round("weight_decay", h.weightDecay)
        }
        constants = c
    }

    @inlinable
    public mutating func step(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int) throws(ShapeError) -> StepReport {
        try step(weights: &weights, layers: layers, step: t, curvature: nil)
    }

    /// One step; `curvature` gives the batch's loss and GGN products, which KFAC-LM needs (without it a
    /// KFAC-LM step is not taken: the report is aborted with a fallback event). The practical finish ignores it.
    @inlinable
    public mutating func step(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int,
                              curvature: CurvatureAccess<W>?) throws(ShapeError) -> StepReport {
        try checkShapes(weights, layers)
        var report = StepReport()
        let acc = settings.accumulation
        let h = hyperparameters
        if factorsA.isEmpty {
            factorsA = weights.map { Matrix<F>(rows: $0.columns, columns: $0.columns) }
            factorsG = weights.map { Matrix<F>(rows: $0.rows, columns: $0.rows) }
            inverseA = weights.map { .identity($0.columns) }
            inverseG = weights.map { .identity($0.rows) }
            eigenA = Array(repeating: nil, count: weights.count); eigenG = eigenA
        }
        // 1. statistics
        if (t - 1) % h.statisticsInterval == 0 {
            _statisticUpdates += 1
            let k = Double(statisticUpdates)
            let eps = min(1 - 1 / k, h.emaMax)
            let epsF = F(eps), oneMinusF = F(1 - eps), fused = settings.elementwise == .fused
            for l in weights.indices {
                let abar: Matrix<F> = convert(layers[l].inputs), ghat: Matrix<F> = convert(layers[l].outputGradients)
                let n = F(Double(abar.columns))
                let ab = try Matrix.product(abar, .none, abar, .transposed, accumulation: acc).map { $0 / n }.symmetrized()
                var gb = try Matrix.product(ghat, .none, ghat, .transposed, accumulation: acc).map { $0 / n }
                // Ĝ exposed still scaled by S (loss scaling unscaled *after* the statistics, Docs/Claims.md claim
                // R8): the product carries S², divided out here, in F, once per factor of S — so exact
                // arithmetic is unchanged and only the product's range (S·|ĝ|)² is what low precision sees.
                if layers[l].outputGradientScale != 1 {
                    let s = F(layers[l].outputGradientScale)
                    gb = gb.map { $0 / s / s }
                }
                gb = try gb.symmetrized()
                factorsA[l] = try factorsA[l].zipped(ab, "ema A") { Statement.axpby(fused, epsF, $0, oneMinusF, $1) }
                factorsG[l] = try factorsG[l].zipped(gb, "ema G") { Statement.axpby(fused, epsF, $0, oneMinusF, $1) }
                UpdateDiagnostics.checkFinite(factorsA[l], "A", step: t, layer: l, into: &report)
                UpdateDiagnostics.checkFinite(factorsG[l], "G", step: t, layer: l, into: &report)
            }
        }
        if h.finish == .lm {
            try levenbergMarquardtStep(weights: &weights, layers: layers, step: t, curvature: curvature, report: &report)
            return report
        }
        // 2. inverses
        if (t - 1) % h.inverseInterval == 0 {
            for l in weights.indices {
                refreshInverse(layer: l, step: t, report: &report)
                if report.aborted { return report }
            }
        }
        // 3. directions
        var directions = [Matrix<W>]()
        var klSum = 0.0
        for l in weights.indices {
            let grad = layers[l].gradient
            if rawLayers.contains(l) { directions.append(grad); continue }
            let dw = try preconditioned(grad, layer: l)
            UpdateDiagnostics.checkFinite(dw, "delta", step: t, layer: l, into: &report)
            let gNorm = grad.frobeniusNorm
            report.monitor("update_ratio", layer: l, gNorm > 0 ? dw.frobeniusNorm / gNorm : .nan)
            report.monitor("cos_update_gradient", layer: l, UpdateDiagnostics.cosine(dw, grad))
            for (a, b) in zip(dw.elements, grad.elements) { klSum += a.doubleValue * b.doubleValue }
            directions.append(dw)
        }
        // 4. KL clip: one ν for the whole network (ν computed in Double, rounded once to W)
        if let kappa = h.klClip {
            let s = klSum * h.learningRate * h.learningRate
            let nu = s == 0 ? 1 : min(1, (kappa / abs(s)).squareRoot())
            report.monitor("kl_nu", layer: -1, nu)
            if nu < 1 { let nuW = W(nu); directions = directions.map { $0.scaled(by: nuW) } }
        }
        // 5. SGD momentum step on Δ
        let stats = zip(layers, directions).map { LayerStatistics(inputs: $0.inputs, outputGradients: $0.outputGradients, outputGradientScale: $0.outputGradientScale, gradient: $1) }
        let inner = try momentumSGD.step(weights: &weights, layers: stats, step: t)
        report.monitors += inner.monitors
        report.events += inner.events
        return report
    }

    /// Step 3 for layer `l`: Δ = G_inv ∇ A_inv (KFAC-F/I) or the eigenbasis division (KFAC-E), computed
    /// in `Inverses` and rounded once to `Weights`.
    @inlinable
    func preconditioned(_ grad: Matrix<W>, layer l: Int) throws(ShapeError) -> Matrix<W> {
        let acc = settings.accumulation
        let gi: Matrix<I> = convert(grad)
        let delta: Matrix<I>
        if hyperparameters.variant == .eigen, let ea = eigenA[l], let eg = eigenG[l] {
            let damping = productDamping
            var v = try Matrix.product(eg.vectors, .transposed, try Matrix.product(gi, .none, ea.vectors, .none, accumulation: acc), .none, accumulation: acc)
            let fused = settings.elementwise == .fused
            for i in 0..<v.rows { for j in 0..<v.columns {
                v[i, j] = Statement.quotientOfAffine(fused, v[i, j], eg.values[i], ea.values[j], damping)
            } }
            delta = try Matrix.product(eg.vectors, .none, try Matrix.product(v, .none, ea.vectors, .transposed, accumulation: acc), .none, accumulation: acc)
        } else {
            delta = try Matrix.product(inverseG[l], .none, try Matrix.product(gi, .none, inverseA[l], .none, accumulation: acc), .none, accumulation: acc)
        }
        return convert(delta)
    }

    /// Refreshes layer `l`'s inverse data (§4.4 step 2), applying the fallback policy on failure.
    @inlinable
    mutating func refreshInverse(layer l: Int, step t: Int, report: inout StepReport) {
        let h = hyperparameters
        let a: Matrix<I> = convert(factorsA[l]), g: Matrix<I> = convert(factorsG[l])
        if h.expensiveMonitors {
            let ha = MatrixHealth(a), hg = MatrixHealth(g)
            report.monitor("lambda_min_A", layer: l, ha.lambdaMin); report.monitor("lambda_min_G", layer: l, hg.lambdaMin)
            report.monitor("sym_err_A", layer: l, ha.symmetryError); report.monitor("sym_err_G", layer: l, hg.symmetryError)
        }
        switch h.variant {
        case .eigen:
            do {
                var ea = try a.symmetricEigen(), eg = try g.symmetricEigen()
                var clamped = 0
                for i in ea.values.indices where ea.values[i] < 0 { ea.values[i] = 0; clamped += 1 }
                for i in eg.values.indices where eg.values[i] < 0 { eg.values[i] = 0; clamped += 1 }
                if clamped > 0 { report.events.append(OptimizerEvent(.negativeEigenvalueClamped, step: t, layer: l, "\(clamped) eigenvalues", value: Double(clamped))) }
                if ea.values.contains(where: { !$0.isFinite }) || eg.values.contains(where: { !$0.isFinite }) {
                    report.events.append(OptimizerEvent(.nonFinite, step: t, layer: l, "eigenvalues"))
                    applyFallback(layer: l, step: t, report: &report, reason: "non-finite eigenvalues")
                    return
                }
                eigenA[l] = ea; eigenG[l] = eg; rawLayers.remove(l)
                if h.expensiveMonitors {
                    let lam = productDamping.doubleValue
                    let kA = (ea.values.last!.doubleValue * eg.values.last!.doubleValue + lam) / (ea.values.first!.doubleValue * eg.values.first!.doubleValue + lam)
                    report.monitor("kappa_damped_kronecker", layer: l, kA)
                }
            } catch { applyFallback(layer: l, step: t, report: &report, reason: "\(error)") }
        case .factored, .identity:
            var dampA: I, dampG: I
            if h.variant == .factored {
                let ta = a.trace / I(Double(a.rows)), tg = g.trace / I(Double(g.rows))
                // Each trace tested on its own: the product τ(A)·τ(G) underflows (fp16: below 2⁻²⁵) or
                // overflows (above 65504) in a narrow `I` and would force π = 1 for traces that are not 0.
                let pi: I = (ta == 0 || tg == 0 || !ta.isFinite || !tg.isFinite) ? 1 : (ta / tg).squareRoot()
                report.monitor("pi", layer: l, pi.doubleValue)
                dampA = pi * factorGamma; dampG = factorGamma / pi
            } else {
                let d = h.unmodifiedDamping ? lambdaI : factorGamma
                dampA = d; dampG = d
            }
            var attempts = 0
            while true {
                let ra = try! a.dampedSPDInverse(damping: dampA, accumulation: settings.accumulation)
                let rg = try! g.dampedSPDInverse(damping: dampG, accumulation: settings.accumulation)
                switch (ra, rg) {
                case (.success(let ai), .success(let gi)):
                    inverseA[l] = ai; inverseG[l] = gi; rawLayers.remove(l)
                    if h.expensiveMonitors {
                        let ma = a.addingToDiagonal(dampA), mg = g.addingToDiagonal(dampG)
                        report.monitor("kappa_A_damped", layer: l, MatrixHealth(ma).conditionNumber)
                        report.monitor("kappa_G_damped", layer: l, MatrixHealth(mg).conditionNumber)
                        report.monitor("inv_res_A", layer: l, MatrixHealth.inverseResidual(ai, ma))
                        report.monitor("inv_res_G", layer: l, MatrixHealth.inverseResidual(gi, mg))
                    }
                    return
                default:
                    for case let (factor, .failure(f)) in [("A", ra), ("G", rg)] {
                        report.events.append(OptimizerEvent(.choleskyFailure, step: t, layer: l,
                                                            "\(f.pivotIndex == -1 ? "" : "pivot \(f.pivotIndex)") of \(factor)",
                                                            value: f.pivotValue))
                    }
                    if h.fallback == .increaseDamping && attempts < 3 {
                        attempts += 1
                        dampA = dampA * 10; dampG = dampG * 10
                        report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "damping ×10 (retry \(attempts))", value: dampA.doubleValue))
                        continue
                    }
                    applyFallback(layer: l, step: t, report: &report, reason: "Cholesky failure")
                    return
                }
            }
        }
    }

    @inlinable
    mutating func applyFallback(layer l: Int, step t: Int, report: inout StepReport, reason: String) {
        switch hyperparameters.fallback {
        case .abort:
            report.aborted = true
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "abort: \(reason)"))
        case .keepPrevious, .increaseDamping:
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "keep previous inverse: \(reason)"))
        case .rawGradient:
            rawLayers.insert(l)
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "raw gradient: \(reason)"))
        }
    }
}

extension Result {
    @inlinable var isFailure: Bool { if case .failure = self { true } else { false } }
}
