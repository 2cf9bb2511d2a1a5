import Scalars
import LinearAlgebra
import Networks

/// Jorge (Singh, Sating & Bhatele 2023), Docs/Optimizers.md §7.4: Shampoo's inverse fourth roots updated
/// directly by matrix products, never forming L, R or an inverse.
///
/// ```
/// every T_P steps ((t − 1) mod T_P = 0), for the left factor (the right one with GᵀG):
///   Q ← L̂L̂; Q ← QQ;  X ← Q(GGᵀ)
///   c ← (1 − β2)/β2 (fixed) | 1/‖X‖_F (adaptive) | min((1 − β2)/β2, 1/‖X‖_F) (clamped)
///   β2,eff ← 1/(1 + c);  Y ← cX
///   L̂ ← s·L̂(I − ¼Y + (5/32)YY),  s = β2,eff^{-1/4} = (1 + c)^{1/4}     (keep-s, default)
///      or L̂ ← L̂P/‖L̂P‖_F                                              (renormalize variant)
/// D ← L̂GR̂;  D ← D·‖G‖_F/‖D‖_F (graft to SGD; ‖D‖ = 0 → D ← G);  D ← D + wd·W;  B ← μB + D;  W ← W − ηB
/// ```
///
/// Choices (H, §7.3/§11.1, the paper body was not available): `L̂₀ = ε^{-1/4}I` with ε = 1 by default (the
/// scale is irrelevant in exact arithmetic under the adaptive rule and grafting, and `ε = 1` keeps `L̂⁴`
/// representable in every format at the start; with the fixed rule ε is the prior `L₀ = εI`); the adaptive
/// rule uses the Frobenius norm, evaluated as `m·‖X/m‖_F` with `m = ‖X‖_max` so the squares do not
/// overflow in fp16 (§7.5); the adaptive rule with ‖X‖ = 0 (a zero gradient) skips that factor's update
/// and records `zero-norm-division`; `s` is kept unless the renormalize variant is chosen (never dropped
/// without renormalising, §7.4).
///
/// Precision policy: `GGᵀ`, `GᵀG` formed in `Factors`; L̂, R̂, every product of the update, the scalars
/// c, s and ‖X‖, and `L̂GR̂` in `Inverses`; the direction converted once into `Moments` for grafting
/// (norms held in `Moments`), weight decay and momentum; `W − ηB` in `Weights`.
///
/// Monitors (§7.6), per layer and side: `x_norm_L` (‖X_L‖_F before normalisation), `rho_Y_L`,
/// `coefficient_c_L`, `beta2_eff_L`, `scale_s_L`, `max_abs_root_L`, `min_abs_root_L` (smallest non-zero
/// |L̂_ij|), `sym_err_root_L`, and with `expensiveMonitors` `kappa_root_L` (κ₂ of L̂ in Double); per layer
/// `graft_ratio` (‖G‖/‖D‖), `cos_direction_gradient`. Events: `rho-above-one`, `zero-norm-division`,
/// `non-finite` (the factor update is then discarded, with a `fallback` event).
///
/// `ρ(Y)` is computed exactly (Gelfand, in Double) only when `‖Y‖_F > 1` or monitors are expensive; if
/// `‖Y‖_F ≤ 1` then `ρ(Y) ≤ 1` and `‖Y‖_F` is reported as the bound.
public struct Jorge<Policy: PrecisionPolicy>: Optimizer {
    public typealias W = Policy.Weights
    public typealias F = Policy.Factors
    public typealias I = Policy.Inverses
    public typealias M = Policy.Moments

    public enum CoefficientRule: String, Sendable, Hashable, CaseIterable, Codable { case fixed, adaptive, clamped }
    public enum ScaleMode: String, Sendable, Hashable, CaseIterable, Codable {
        /// Multiply by `s = β2,eff^{-1/4}` (paper form).
        case keepScale = "keep-s"
        /// Drop `s` and renormalise the factor to unit Frobenius norm after each update.
        case renormalize
    }

    public struct Hyperparameters: Sendable, Hashable {
        /// η, μ, weight decay: copied from the SGD baseline (§7.3); 0.1 / 0.9 / 0 here.
        public var learningRate = 0.1
        public var momentum = 0.9
        public var weightDecay = 0.0
        /// Nominal EMA decay of the implied statistics (fixed and clamped rules).
        public var beta2 = 0.99
        public var coefficientRule: CoefficientRule = .adaptive
        public var scaleMode: ScaleMode = .keepScale
        /// `L̂₀ = R̂₀ = ε^{-1/4} I`.
        public var epsilon = 1.0
        /// T_P: the roots are updated when (t − 1) mod T_P = 0.
        public var preconditionerInterval = 1
        public var expensiveMonitors = true
        @inlinable
        public init() {}
    }

    public let hyperparameters: Hyperparameters
    public let settings: ArithmeticSettings
    public private(set) var constants = RoundedConstants()
    public var rootsL: [Matrix<I>] = [], rootsR: [Matrix<I>] = []
    public var buffers: [Matrix<M>] = []
    @usableFromInline let eta: W, mu: M, decay: M, cFixed: I, sFixed: I, quarter: I, fiveThirtySeconds: I, initial: I

    @inlinable public var name: String { "jorge" }

    public init(_ h: Hyperparameters = .init(), settings: ArithmeticSettings = .init()) {
        hyperparameters = h; self.settings = settings
        var c = RoundedConstants()
        eta = c.round("lr", h.learningRate); mu = c.round("momentum", h.momentum); decay = c.round("weight_decay", h.weightDecay)
        cFixed = c.round("c=(1-beta2)/beta2", (1 - h.beta2) / h.beta2)
        sFixed = c.round("s=beta2^-1/4", Double.pow(h.beta2, -0.25))
        quarter = c.round("1/4", 0.25); fiveThirtySeconds = c.round("5/32", 5.0 / 32)
        initial = c.round("root_init=eps^-1/4", Double.pow(h.epsilon, -0.25))
        constants = c
    }

    /// Pre-specialised for the common policies: a generic, non-inlinable step called from another module
    /// runs ~20× slower than the specialised one (measured in release builds).
    @_specialize(exported: true, where Policy == Uniform<Float>)
    @_specialize(exported: true, where Policy == Uniform<Double>)
    @_specialize(exported: true, where Policy == Uniform<BFloat16>)
    @_specialize(exported: true, where Policy == Uniform<Float16>)
    @_specialize(exported: true, where Policy == FloatCurvature<BFloat16>)
    @inlinable
    public mutating func step(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int) throws(ShapeError) -> StepReport {
        try checkShapes(weights, layers)
        var report = StepReport()
        let h = hyperparameters, acc = settings.accumulation, fused = settings.elementwise == .fused
        if rootsL.isEmpty {
            rootsL = weights.map { Matrix<I>.identity($0.rows).scaled(by: initial) }
            rootsR = weights.map { Matrix<I>.identity($0.columns).scaled(by: initial) }
            buffers = weights.map { Matrix(rows: $0.rows, columns: $0.columns) }
        }
        for l in weights.indices {
            let g = layers[l].gradient
            // 2. factor updates
            if (t - 1) % h.preconditionerInterval == 0 {
                let gf: Matrix<F> = convert(g)
                let ggt: Matrix<I> = convert(try Matrix.product(gf, .none, gf, .transposed, accumulation: acc))
                let gtg: Matrix<I> = convert(try Matrix.product(gf, .transposed, gf, .none, accumulation: acc))
                rootsL[l] = try updatedRoot(rootsL[l], gram: ggt, side: "L", layer: l, step: t, report: &report)
                rootsR[l] = try updatedRoot(rootsR[l], gram: gtg, side: "R", layer: l, step: t, report: &report)
            }
            // 3. D = L̂ G R̂
            let gi: Matrix<I> = convert(g)
            var d: Matrix<M> = convert(try Matrix.product(rootsL[l], .none, try Matrix.product(gi, .none, rootsR[l], .none, accumulation: acc), .none, accumulation: acc))
            report.monitor("cos_direction_gradient", layer: l, UpdateDiagnostics.cosine(d, g))
            // 4. graft to SGD
            let gm: Matrix<M> = convert(g)
            let ng = Self.graftNorm(gm, accumulation: acc), nd = Self.graftNorm(d, accumulation: acc)
            report.monitor("graft_ratio", layer: l, ng.doubleValue / nd.doubleValue)
            if nd == 0 {
                report.events.append(OptimizerEvent(.zeroNormDivision, step: t, layer: l, "grafting ‖D‖ = 0: D ← G", value: 0))
                d = gm
            } else {
                d = d.scaled(by: ng / nd)
            }
            // 5. weight decay
            if h.weightDecay != 0 {
                let wm: Matrix<M> = convert(weights[l]), wd = decay
                d = try d.zipped(wm, "weight decay") { Statement.axpby(fused, 1, $0, wd, $1) }
            }
            // 6. momentum and step
            let m = mu, lr = eta
            buffers[l] = try buffers[l].zipped(d, "momentum") { Statement.axpby(fused, m, $0, 1, $1) }
            weights[l] = try weights[l].zipped(buffers[l], "update") { w, b in Statement.axpby(fused, 1, w, -lr, W(b.doubleValue)) }
            UpdateDiagnostics.checkFinite(weights[l], "W", step: t, layer: l, into: &report)
        }
        return report
    }

    /// ‖X‖_F for the grafting of step 4: `Statement.rescaledFrobenius`. The plain sum of squares leaves the
    /// format's range once entries pass √(largest finite) although ‖X‖_F is representable — as when ρ(Y) > 1
    /// lets L̂ grow (§7.5) — and then turned the grafted direction silently into 0 (‖D‖ = ∞) or into G (‖D‖ = 0).
    @inlinable
    static func graftNorm(_ x: Matrix<M>, accumulation: AccumulationModel) -> M {
        Statement.rescaledFrobenius(x, accumulation: accumulation)
    }

    /// Step 2a–e for one side. Returns the previous root when the update is skipped or non-finite.
    @inlinable
    func updatedRoot(_ root: Matrix<I>, gram: Matrix<I>, side: String, layer l: Int, step t: Int, report: inout StepReport) throws(ShapeError) -> Matrix<I> {
        let h = hyperparameters, acc = settings.accumulation, fused = settings.elementwise == .fused
        let n = root.rows
        var q = try Matrix.product(root, .none, root, .none, accumulation: acc)
        q = try Matrix.product(q, .none, q, .none, accumulation: acc)
        let x = try Matrix.product(q, .none, gram, .none, accumulation: acc)
        // ‖X‖_F as m·‖X/m‖_F, m = ‖X‖_max (no overflow of the squares in fp16, §7.5)
        var mx = I.zero
        for v in x.elements where !(v.magnitude <= mx) { mx = v.magnitude }     // NaN wins
        let xNorm = mx == 0 || !mx.isFinite ? mx : mx * Statement.frobenius(x.map { $0 / mx }, accumulation: acc)
        report.monitor("x_norm_\(side)", layer: l, xNorm.doubleValue)
        guard xNorm.isFinite else {
            report.events.append(OptimizerEvent(.nonFinite, step: t, layer: l, "‖X_\(side)‖", value: xNorm.doubleValue))
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "keep previous \(side)̂"))
            return root
        }
        let c: I, s: I
        switch h.coefficientRule {
        case .fixed:
            c = cFixed; s = sFixed
        case .adaptive:
            guard xNorm > 0 else {
                report.events.append(OptimizerEvent(.zeroNormDivision, step: t, layer: l, "adaptive c = 1/‖X_\(side)‖ with ‖X‖ = 0: update skipped", value: 0))
                return root
            }
            c = 1 / xNorm; s = I.root(1 + c, 4)
        case .clamped:
            let adaptive = 1 / xNorm                       // +∞ when ‖X‖ = 0: the fixed value wins
            if cFixed <= adaptive { c = cFixed; s = sFixed } else { c = adaptive; s = I.root(1 + c, 4) }
        }
        report.monitor("coefficient_c_\(side)", layer: l, c.doubleValue)
        report.monitor("beta2_eff_\(side)", layer: l, 1 / (1 + c.doubleValue))
        report.monitor("scale_s_\(side)", layer: l, h.scaleMode == .keepScale ? s.doubleValue : .nan)
        let y = x.scaled(by: c)
        let yy = try Matrix.product(y, .none, y, .none, accumulation: acc)
        // P = I − ¼Y + (5/32)YY, one statement per entry
        var p = Matrix<I>(rows: n, columns: n)
        for i in 0..<n { for j in 0..<n {
            let delta: I = i == j ? 1 : 0
            p[i, j] = Statement.axpbypcz(fused, 1, delta, -quarter, y[i, j], fiveThirtySeconds, yy[i, j])
        } }
        var updated = try Matrix.product(root, .none, p, .none, accumulation: acc)
        switch h.scaleMode {
        case .keepScale: updated = updated.scaled(by: s)
        case .renormalize:
            let f = Statement.frobenius(updated, accumulation: acc)
            updated = updated.map { $0 / f }
        }
        // ρ(Y) ≤ ‖Y‖_F; the exact value only when the bound says nothing or monitors are expensive
        let yF = y.frobeniusNorm
        let rho = (yF > 1 || h.expensiveMonitors) ? ((try? y.spectralRadius()) ?? .nan) : yF
        report.monitor("rho_Y_\(side)", layer: l, rho)
        if rho > 1 {
            report.events.append(OptimizerEvent(.spectralRadiusAboveOne, step: t, layer: l, "ρ(Y_\(side))", value: rho))
        }
        guard updated.isFinite else {
            report.events.append(OptimizerEvent(.nonFinite, step: t, layer: l, "updated \(side)̂"))
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "keep previous \(side)̂"))
            return root
        }
        report.monitor("max_abs_root_\(side)", layer: l, updated.maxNorm)
        report.monitor("min_abs_root_\(side)", layer: l, updated.elements.lazy.map { abs($0.doubleValue) }.filter { $0 > 0 }.min() ?? 0)
        let ud = updated.converted(to: Double.self)
        let un = ud.frobeniusNorm
        report.monitor("sym_err_root_\(side)", layer: l, un == 0 ? 0 : ((try? ud.subtracting(ud.transposed))?.frobeniusNorm ?? .nan) / un)
        if h.expensiveMonitors { report.monitor("kappa_root_\(side)", layer: l, updated.spectralConditionNumber) }
        return updated
    }
}
