import Scalars
import LinearAlgebra
import Networks

/// KFAC-LM: the paper's finish (Martens & Grosse 2015 §6.4–6.6; Docs/Optimizers.md §4.4 steps 4'–6').
///
/// With h the regularised batch loss `L + (η_wd/2)‖θ‖²`, F the exact GGN of the batch (Fisher for
/// softmax cross-entropy), `C = F + (λ + η_wd) I`, Δ the KFAC direction of `∇h = ∇L + η_wd θ` and
/// δ0 = δ_prev: (α, μ) minimise the damped model, `[ΔᵀCΔ ΔᵀCδ0; δ0ᵀCΔ δ0ᵀCδ0][α; μ] = −[∇hᵀΔ; ∇hᵀδ0]`
/// (δ0 = 0: α = −∇hᵀΔ/ΔᵀCΔ, μ = 0); θ ← θ + δ with δ = αΔ + μδ0; δ_prev ← δ. Every T1 steps the ρ
/// rule adapts λ; every T2 steps γ is re-tuned over {γ, ω2γ, γ/ω2} (each candidate refreshes the
/// inverses and solves its own 2×2 system; the one with the lowest M(δ) − M(0) is kept).
/// M is the quadratic model of h, `M(δ) − M(0) = ∇hᵀδ + ½ δᵀ(F + η_wd I)δ` (no λ: the paper's M).
///
/// Precision policy: Δ, the GGN products and δ are in `Weights` (the network's products, in its
/// accumulation model); δ_prev is held in `Moments` (it plays the momentum buffer's role). The
/// scalars of the rule — the inner products (reduced in `Inverses` under `settings.accumulation`), the
/// 2×2 solve, α, μ, M(δ) − M(0), ρ, λ and γ — are in `Inverses`: they set the scale of the
/// preconditioned step, like π and the damped inverses, so a policy that keeps curvature in fp32
/// (`FloatCurvature`) computes them in fp32 as tensorflow/kfac does, while `Uniform<bf16>` holds them in
/// bf16 (§1.3 item 4), where the loss difference of ρ is rounding noise and λ random-walks (§4.5) —
/// which is what a study of this mode measures. The losses of ρ come from the network in `Weights`.
/// Elementwise statements in `Weights` follow `settings.elementwise` through `Statement` (§1.3 item 2):
/// `∇h = ∇L + η_wd·θ` and `δ = α·Δ + μ·δ0` (per-op, or evaluated in the wider of Float and `Weights` and
/// rounded once); `α·Δ` alone and `θ + δ` are single operations. The scalar arithmetic of the rule (the
/// 2×2 system, α, μ, M(δ) − M(0), ρ, λ) is per operation in `Inverses` under either setting: it is not an
/// elementwise kernel (PyTorch evaluates such scalars in the tensor's type, or on host doubles).
///
/// Failures never throw: ΔᵀCΔ ≤ 0 or non-finite (`lm-nonpositive-curvature`) or a failed GGN product
/// leaves no step: `.abort` aborts, `.increaseDamping` skips the step and sets λ ← λ/ω1, the other
/// policies skip the step; δ_prev is cleared. A singular or non-finite 2×2 system
/// (`lm-singular-system`) is solved with δ0 = 0. A non-finite ρ (`lm-nonfinite-rho`) leaves λ unchanged.
/// Monitors: `lm_lambda`, `lm_gamma`, `lm_alpha`, `lm_mu`, `lm_model_change` (M(δ) − M(0), negative for
/// a model decrease), `lm_rho` (at ρ steps), `update_ratio`, `cos_update_gradient` (Δ against ∇h).
extension KFAC {
    /// The ρ rule (§4.4 step 6'): ρ > 3/4 → λ ← ω1 λ; ρ < 1/4 → λ ← λ/ω1; then λ ← max(λ, λ_min).
    /// A non-finite ρ leaves λ unchanged. Evaluated in `Inverses` (3/4 and 1/4 are exact in every format).
    @inlinable
    public static func adaptedDamping(_ lambda: I, rho: I, omega: I, floor: I) -> I {
        guard rho.isFinite else { return lambda }
        var l = lambda
        if rho > I(0.75) { l = omega * lambda } else if rho < I(0.25) { l = lambda / omega }
        return l < floor ? floor : l
    }

    /// KFAC-LM's λ, γ (in `Inverses`) and δ_prev (in `Moments`; empty when there is none).
    @inlinable
    public var levenbergMarquardtState: (lambda: I, gamma: I, previousStep: [Matrix<M>]) { (lmLambda, lmGamma, deltaPrevious) }

    @usableFromInline
    struct LMProposal {
        @usableFromInline var delta: [Matrix<W>]
        @usableFromInline var alpha: I
        @usableFromInline var mu: I
        /// M(δ) − M(0).
        @usableFromInline var modelChange: I
        @inlinable var score: I { modelChange.isFinite ? modelChange : .infinity }

        @inlinable
        init(delta: [Matrix<W>], alpha: I, mu: I, modelChange: I) {
            self.delta = delta; self.alpha = alpha; self.mu = mu; self.modelChange = modelChange
        }
    }

    /// Steps 2–3 (with γ re-tuning) and 4'–6' after the statistics of step 1.
    @inlinable
    mutating func levenbergMarquardtStep(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int,
                                         curvature: CurvatureAccess<W>?, report: inout StepReport) throws(ShapeError) {
        let h = hyperparameters
        guard let curvature else {
            report.aborted = true
            report.events.append(OptimizerEvent(.fallback, step: t, layer: -1, "abort: \(name) needs the batch's curvature access (loss, GGN products)"))
            return
        }
        // ∇h = ∇L + η_wd θ in Weights
        let etaW = lmEta.castScalar(to: W.self), fused = settings.elementwise == .fused
        var gradients = [Matrix<W>]()
        for (l, s) in layers.enumerated() {
            gradients.append(h.weightDecay == 0 ? s.gradient : try s.gradient.zipped(weights[l], "weight decay") { Statement.xpby(fused, $0, etaW, $1) })
        }
        let refresh = (t - 1) % h.inverseInterval == 0
        let retune = (t - 1) % h.lm.gammaInterval == 0
        let gammas = retune ? [lmGamma, lmOmega2 * lmGamma, lmGamma / lmOmega2] : [lmGamma]
        var chosen: (trial: Self, proposal: LMProposal?, monitors: [Monitor])? = nil
        for gamma in gammas {
            var trial = self
            var r = StepReport()
            trial.lmGamma = gamma
            if refresh || retune {
                for l in weights.indices where !r.aborted { trial.refreshInverse(layer: l, step: t, report: &r) }
            }
            if r.aborted { report.events += r.events; report.aborted = true; return }
            let p = try trial.proposal(weights: weights, gradients: gradients, step: t, curvature: curvature, report: &r)
            report.events += r.events
            if chosen == nil || (p != nil && (chosen!.proposal == nil || p!.score < chosen!.proposal!.score)) {
                chosen = (trial, p, r.monitors)
            }
        }
        self = chosen!.trial
        report.monitors += chosen!.monitors
        report.monitor("lm_gamma", layer: -1, lmGamma.doubleValue)
        guard let p = chosen!.proposal else {
            deltaPrevious = []
            switch h.fallback {
            case .abort:
                report.aborted = true
                report.events.append(OptimizerEvent(.fallback, step: t, layer: -1, "abort: no KFAC-LM step"))
            case .increaseDamping:
                lmLambda = lmLambda / lmOmega1
                report.events.append(OptimizerEvent(.fallback, step: t, layer: -1, "step skipped, λ ← λ/ω1", value: lmLambda.doubleValue))
            case .keepPrevious, .rawGradient:
                report.events.append(OptimizerEvent(.fallback, step: t, layer: -1, "step skipped"))
            }
            report.monitor("lm_lambda", layer: -1, lmLambda.doubleValue)
            return
        }
        // 5'. θ ← θ + δ ; δ_prev ← δ
        let before = weights
        for l in weights.indices { weights[l] = try weights[l].adding(p.delta[l]) }
        deltaPrevious = p.delta.map { convert($0) }
        // 6'. ρ rule
        if (t - 1) % h.lm.dampingInterval == 0 {
            adaptDamping(before: before, after: weights, modelChange: p.modelChange, step: t, curvature: curvature, report: &report)
        }
        report.monitor("lm_lambda", layer: -1, lmLambda.doubleValue)
    }

    /// Step 3 and 4' for the current inverses: Δ per layer, the GGN products, the 2×2 solve and δ.
    /// Nil when there is no usable step size (the event is recorded).
    @inlinable
    func proposal(weights: [Matrix<W>], gradients: [Matrix<W>], step t: Int, curvature: CurvatureAccess<W>,
                  report: inout StepReport) throws(ShapeError) -> LMProposal? {
        let acc = settings.accumulation
        var directions = [Matrix<W>]()
        for l in weights.indices {
            let g = gradients[l]
            let dw = rawLayers.contains(l) ? g : try preconditioned(g, layer: l)
            UpdateDiagnostics.checkFinite(dw, "delta", step: t, layer: l, into: &report)
            let gNorm = g.frobeniusNorm
            report.monitor("update_ratio", layer: l, gNorm > 0 ? dw.frobeniusNorm / gNorm : .nan)
            report.monitor("cos_update_gradient", layer: l, UpdateDiagnostics.cosine(dw, g))
            directions.append(dw)
        }
        let previous: [Matrix<W>]? = deltaPrevious.isEmpty ? nil : deltaPrevious.map { convert($0) }
        let fDelta: [Matrix<W>]
        var fPrevious: [Matrix<W>]? = nil
        do {
            fDelta = try curvature.ggnProduct(weights, directions)
            if let previous { fPrevious = try curvature.ggnProduct(weights, previous) }
        } catch {
            report.events.append(OptimizerEvent(.fallback, step: t, layer: -1, "GGN product failed: \(error)"))
            return nil
        }
        /// `Σ aᵢ bᵢ` over all layers, in `Inverses` under the accumulation model.
        func dot(_ a: [Matrix<W>], _ b: [Matrix<W>]) -> I {
            let x = a.flatMap { convert($0, to: I.self).elements }, y = b.flatMap { convert($0, to: I.self).elements }
            return Reduction.dot(x.count, { x[$0] }, { y[$0] }, accumulation: acc)
        }
        let damping = lmLambda + lmEta
        let dd = dot(directions, directions), gd = dot(gradients, directions)
        let a11 = dot(directions, fDelta) + damping * dd
        var a12 = I.zero, a22 = I.zero, gp = I.zero, pd = I.zero, pp = I.zero
        if let previous, let fPrevious {
            pd = dot(previous, directions); pp = dot(previous, previous); gp = dot(gradients, previous)
            a12 = dot(previous, fDelta) + damping * pd
            a22 = dot(previous, fPrevious) + damping * pp
        }
        guard a11 > 0, a11.isFinite else {
            report.events.append(OptimizerEvent(.lmNonPositiveCurvature, step: t, layer: -1, "ΔᵀCΔ", value: a11.doubleValue))
            return nil
        }
        var alpha = -gd / a11, mu = I.zero
        if previous != nil {
            let det = a11 * a22 - a12 * a12
            let al = -(a22 * gd - a12 * gp) / det, m = -(a11 * gp - a12 * gd) / det
            if det > 0, det.isFinite, al.isFinite, m.isFinite {
                alpha = al; mu = m
            } else {
                report.events.append(OptimizerEvent(.lmSingularSystem, step: t, layer: -1, "det of the 2×2 system; solved with δ0 = 0", value: det.doubleValue))
                a12 = 0; a22 = 0; gp = 0; pd = 0; pp = 0
            }
        }
        guard alpha.isFinite else {
            report.events.append(OptimizerEvent(.nonFinite, step: t, layer: -1, "alpha", value: alpha.doubleValue))
            return nil
        }
        // M(δ) − M(0) = ∇hᵀδ + ½ δᵀCδ − ½ λ‖δ‖², δ = αΔ + μδ0, from the inner products above
        let linear = alpha * gd + mu * gp
        let quadratic = alpha * alpha * a11 + 2 * alpha * mu * a12 + mu * mu * a22
        let norm2 = alpha * alpha * dd + 2 * alpha * mu * pd + mu * mu * pp
        let change = linear + (quadratic - lmLambda * norm2) / 2
        report.monitor("lm_alpha", layer: -1, alpha.doubleValue)
        report.monitor("lm_mu", layer: -1, mu.doubleValue)
        report.monitor("lm_model_change", layer: -1, change.doubleValue)
        let alphaW = alpha.castScalar(to: W.self), muW = mu.castScalar(to: W.self), fused = settings.elementwise == .fused
        var delta = [Matrix<W>]()
        for l in directions.indices {
            let d = directions[l]
            if let previous, mu != 0 {
                let p = previous[l]
                delta.append(Matrix(rows: d.rows, columns: d.columns) { i, j in Statement.axpby(fused, alphaW, d[i, j], muW, p[i, j]) })
            } else {
                delta.append(d.scaled(by: alphaW))
            }
        }
        return LMProposal(delta: delta, alpha: alpha, mu: mu, modelChange: change)
    }

    /// Step 6': ρ = (h(θ+δ) − h(θ)) / (M(δ) − M(0)) on the same batch, then the ρ rule.
    @inlinable
    mutating func adaptDamping(before: [Matrix<W>], after: [Matrix<W>], modelChange: I, step t: Int,
                               curvature: CurvatureAccess<W>, report: inout StepReport) {
        let acc = settings.accumulation
        func regularised(_ w: [Matrix<W>]) throws(NetworkError) -> I {
            let loss = try curvature.loss(w).castScalar(to: I.self)
            guard lmEta != 0 else { return loss }
            let x = w.flatMap { convert($0, to: I.self).elements }
            return loss + lmEta * Reduction.dot(x.count, { x[$0] }, { x[$0] }, accumulation: acc) / 2
        }
        let rho: I
        do { rho = (try regularised(after) - (try regularised(before))) / modelChange } catch {
            report.events.append(OptimizerEvent(.lmNonFiniteRatio, step: t, layer: -1, "loss for ρ failed: \(error)"))
            return
        }
        report.monitor("lm_rho", layer: -1, rho.doubleValue)
        guard rho.isFinite else {
            report.events.append(OptimizerEvent(.lmNonFiniteRatio, step: t, layer: -1, "ρ; λ unchanged", value: rho.doubleValue))
            return
        }
        lmLambda = Self.adaptedDamping(lmLambda, rho: rho, omega: lmOmega1, floor: lmLambdaMin)
    }
}

extension Scalar {
    /// The value in `U`: itself when `U` is this type, else rounded once through Double.
    @inlinable
    func castScalar<U: Scalar>(to _: U.Type) -> U { Self.self == U.self ? self as! U : U(doubleValue) }
}
