import Scalars
import LinearAlgebra
import Networks

/// Shampoo (Gupta, Koren & Singer 2018) in the order of the reference code
/// `scalable_shampoo/pytorch/shampoo.py`, Docs/Optimizers.md §6.4:
///
/// ```
/// 2. AdaGrad graft: S ← S + G⊙G
/// 3. if t mod T_stats = 0: L ← β2 L + w GGᵀ, R ← β2 R + w GᵀG   (w = 1 if β2 = 1 else 1 − β2)
/// 4. if t mod T_root = 0:  L̂ ← InvRoot(L, 4, matrix_eps), R̂ ← InvRoot(R, 4, matrix_eps)   (K3)
/// 5. D_g ← G (SGD graft, none) | G ⊘ (√S + diagonal_eps) (AdaGrad)
/// 6. D ← L̂ G R̂ if t ≥ start else G
/// 7. D ← D·‖D_g‖_F/(‖D‖_F + 1e-16)                              (skipped for graft type none)
/// 8. D ← D + wd·W;  D_g ← D_g + wd·W
/// 9. B ← μB + D;  B_g ← μB_g + G
/// 10–11. (upd, cur) ← (B, D) if t ≥ start else (B_g, D_g);  Nesterov: upd ← μ·upd + cur
/// 12. W ← W − η·upd
/// ```
///
/// Switches: `rootMethod` (coupled Newton as the reference, or the eigen route with the same relative
/// ridge), `graftType` (SGD, AdaGrad, none — the reference maps "none" to SGD grafting; here it really
/// disables step 7), `nesterovForm` (standard, or the reference's in-place update of the buffer, §6.4
/// quirk), `variant = .paper` (§6.1: sums from `εI`, exact roots of `L` without the relative ridge,
/// no grafting, momentum, Nesterov or weight decay: `W ← W − η L̂GR̂` from step 1).
/// Intervals follow the reference (`t mod T = 0`, so with T > 1 the first refresh is at t = T and the
/// roots are I before it). The ridge goes on a copy, never into L, R (K3), unless `ridgeInPlace` asks for
/// the reference's in-place accumulation. The whole augmented W is one
/// matrix: no blocking, no shape merging (§6.3 (H)).
///
/// Root failures (§1.4, K3): K3 defines two routes and no route-to-route fallback, so there is no
/// Newton → eigen fallback here. `rootMethod` picks one route for the whole run; a root that comes back
/// unusable (non-finite input, `λ_max`, scaling or iterate; an eigensolver failure) is handled by the cell's
/// `fallback` policy — keep the previous root, use the raw gradient until the next usable root, or abort —
/// with a `non-finite` or `fallback` event. A Newton run that stops on the divergence guard or the iteration
/// cap returns a usable `X` (as the reference does) and is reported by its event, not replaced.
///
/// Grafting norms are `Statement.rescaledFrobenius`: the plain `√Σx²` overflows in fp16 once entries pass
/// 256 (and underflows for tiny ones) although ‖D‖_F is representable, which made the grafted direction
/// NaN (∞/∞) or 0 with no event.
///
/// Precision policy: L, R in `Factors` (initial `matrix_eps·I` rounded there, so it is 0 in fp16);
/// roots and `L̂GR̂` in `Inverses`; the direction is converted once into `Moments`, where grafting
/// (norms held in `Moments`, the 1e-16 rounded there), weight decay, both momentum buffers and the AdaGrad
/// accumulator live; the final `W − η·upd` in `Weights`. Products under `settings.accumulation`;
/// elementwise statements per `settings.elementwise`.
///
/// Monitors (§6.6), per layer: `max_abs_L`, `max_abs_R`; at root refreshes `newton_iterations_L`,
/// `newton_error_L`, `power_lambda_max_L` (Newton) or `clamped_eigenvalues_L`, `min_eigenvalue_L`
/// (eigen), `ridge_L` (the ridge actually added: 0 in fp16 where 1e-12·λ_max underflows), and with `expensiveMonitors` `root_residual_L` (= rootRes(L̂, L + ridge, p)), `sym_err_root_L`,
/// `lambda_min_L`, `lambda_max_L`, `kappa_L` (of L + ridge, in Double); the same for R; every step
/// `graft_ratio` (‖D_g‖/‖D‖ before grafting), `cos_direction_gradient`, `newton_guard_stops` (cumulative).
/// Events: `newton-divergence-guard`, `newton-iteration-cap`, `eigenvalue-clamped`, `non-finite`,
/// `zero-norm-division` (‖D‖ + 1e-16 = 0 in the working type), `fallback`.
public struct Shampoo<Policy: PrecisionPolicy>: Optimizer {
    public typealias W = Policy.Weights
    public typealias F = Policy.Factors
    public typealias I = Policy.Inverses
    public typealias M = Policy.Moments

    public enum RootMethod: String, Sendable, Hashable, CaseIterable, Codable {
        case coupledNewton = "newton"
        case eigen
    }
    public enum GraftType: String, Sendable, Hashable, CaseIterable, Codable { case sgd, adagrad, none }
    public enum NesterovForm: String, Sendable, Hashable, CaseIterable, Codable {
        /// `upd = μB + D`, the buffer B is left as `μB + D` from step 9 (harness default, §6.4 (H)).
        case standard
        /// The reference's `momentum_update.mul_(μ).add_(cur)`: the stored buffer becomes `μ(μB + D) + D`.
        case referenceInPlace = "reference-in-place"
    }
    public enum Variant: String, Sendable, Hashable, CaseIterable, Codable { case reference, paper }

    /// Defaults of the reference code (§6.3).
    public struct Hyperparameters: Sendable, Hashable {
        public var variant: Variant = .reference
        public var learningRate = 1.0
        public var momentum = 0.9
        /// 1.0 sums the statistics (the paper); otherwise EMA with weight 1 − β2.
        public var beta2 = 1.0
        public var diagonalEpsilon = 1e-6
        /// Initial statistics `ε I` and the relative ridge `ε·λ_max` of the root.
        public var matrixEpsilon = 1e-12
        public var weightDecay = 0.0
        /// 0 → exponent `2·rank = 4` for matrices.
        public var inverseExponentOverride = 0
        public var startPreconditioningStep = 1
        /// Root refresh interval T_root.
        public var preconditioningComputeSteps = 1
        /// Statistics interval T_stats.
        public var statisticsComputeSteps = 1
        public var graftType: GraftType = .sgd
        public var nesterov = true
        public var nesterovForm: NesterovForm = .standard
        public var rootMethod: RootMethod = .coupledNewton
        /// Eigen route only. `.generic` (Jacobi) runs the same algorithm in every format; `.automatic`
        /// takes LAPACK for Float/Double roots.
        public var eigenMethod: FactorizationMethod = .generic
        public var newtonMaxIterations = 100
        public var newtonTolerance = 1e-6
        /// Fidelity switch (K3 quirk): add the root's ridge `ε·λ_max` into the stored L, R after each
        /// refresh, as the reference does in place (so it accumulates). Off: the ridge goes on a copy.
        public var ridgeInPlace = false
        /// Seeds the power iterations (one stream per layer, side and step).
        public var seed: UInt64 = 0
        /// What to do when a root is unusable (non-finite, eigensolver failure). `.increaseDamping` is
        /// treated as `.keepPrevious` (Shampoo has no damping to raise; the event says which was applied).
        public var fallback: FallbackPolicy = .keepPrevious
        /// Root residual, symmetry and κ at each refresh (eigendecompositions and products in Double).
        public var expensiveMonitors = true
        @inlinable
        public init() {}

        /// The exponent p of the roots.
        @inlinable public var exponent: Int { inverseExponentOverride > 0 ? inverseExponentOverride : 4 }
    }

    public let hyperparameters: Hyperparameters
    public let settings: ArithmeticSettings
    public private(set) var constants = RoundedConstants()
    public var statisticsL: [Matrix<F>] = [], statisticsR: [Matrix<F>] = []
    public var rootsL: [Matrix<I>] = [], rootsR: [Matrix<I>] = []
    public var momentumBuffers: [Matrix<M>] = [], graftMomentumBuffers: [Matrix<M>] = []
    /// AdaGrad graft accumulators S (empty unless `graftType == .adagrad`).
    public var graftAccumulators: [Matrix<M>] = []
    /// Per layer: how many root computations stopped on the Newton divergence guard so far.
    @inlinable public var guardStops: [Int] { _guardStops }
    @usableFromInline var _guardStops: [Int] = []
    @usableFromInline var rawLayers: Set<Int> = []
    @usableFromInline let eta: W, mu: M, beta2F: F, weightF: F, epsF: F, diagEps: M, tiny: M, decay: M

    @inlinable public var name: String { hyperparameters.variant == .paper ? "shampoo-paper" : "shampoo" }

    public init(_ h: Hyperparameters = .init(), settings: ArithmeticSettings = .init()) {
        hyperparameters = h; self.settings = settings
        var c = RoundedConstants()
        let paper = h.variant == .paper
        eta = c.round("lr", h.learningRate)
        mu = c.round("momentum", paper ? 0 : h.momentum)
        if paper || h.beta2 == 1 {
            beta2F = c.round("beta2", 1); weightF = c.round("statistics_weight", 1)
        } else {
            (beta2F, weightF) = c.emaPair("beta2", h.beta2)
        }
        epsF = c.round("matrix_eps", h.matrixEpsilon)
        _ = c.round("matrix_eps (relative ridge)", paper ? 0 : h.matrixEpsilon, to: I.self)
        diagEps = c.round("diagonal_eps", h.diagonalEpsilon)
        tiny = c.round("graft_guard", 1e-16)
        decay = c.round("weight_decay", paper ? 0 : h.weightDecay)
        constants = c
    }

    @inlinable var effectiveGraft: GraftType { hyperparameters.variant == .paper ? .none : hyperparameters.graftType }
    @inlinable
    var effectiveNesterov: Bool { hyperparameters.variant == .reference && hyperparameters.nesterov && hyperparameters.momentum != 0 }
    @inlinable var startStep: Int { hyperparameters.variant == .paper ? 1 : hyperparameters.startPreconditioningStep }

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
        if statisticsL.isEmpty { allocate(weights) }
        for l in weights.indices {
            let g = layers[l].gradient
            let gm: Matrix<M> = convert(g)
            // 2. AdaGrad graft statistics
            if effectiveGraft == .adagrad {
                graftAccumulators[l] = try graftAccumulators[l].zipped(gm, "adagrad") { s, gi in Statement.axpby(fused, 1, s, gi, gi) }
            }
            // 3. statistics
            if t % h.statisticsComputeSteps == 0 {
                let gf: Matrix<F> = convert(g)
                let ggt = try Matrix.product(gf, .none, gf, .transposed, accumulation: acc)
                let gtg = try Matrix.product(gf, .transposed, gf, .none, accumulation: acc)
                let (b2, w) = (beta2F, weightF)
                statisticsL[l] = try statisticsL[l].zipped(ggt, "statistics L") { Statement.axpby(fused, b2, $0, w, $1) }
                statisticsR[l] = try statisticsR[l].zipped(gtg, "statistics R") { Statement.axpby(fused, b2, $0, w, $1) }
                UpdateDiagnostics.checkFinite(statisticsL[l], "L", step: t, layer: l, into: &report)
                UpdateDiagnostics.checkFinite(statisticsR[l], "R", step: t, layer: l, into: &report)
                report.monitor("max_abs_L", layer: l, statisticsL[l].maxNorm)
                report.monitor("max_abs_R", layer: l, statisticsR[l].maxNorm)
            }
            // 4. roots
            if t % h.preconditioningComputeSteps == 0 {
                refreshRoots(layer: l, step: t, report: &report)
                if report.aborted { return report }
            }
            // 5. graft direction
            var dg: Matrix<M>
            if effectiveGraft == .adagrad {
                let e = diagEps
                dg = try gm.zipped(graftAccumulators[l], "adagrad graft") { Statement.adagrad(fused, $0, $1, e) }
            } else {
                dg = gm
            }
            // 6. Shampoo direction
            let preconditioned = t >= startStep
            var d: Matrix<M>
            if preconditioned && !rawLayers.contains(l) {
                let gi: Matrix<I> = convert(g)
                let di = try Matrix.product(rootsL[l], .none, try Matrix.product(gi, .none, rootsR[l], .none, accumulation: acc), .none, accumulation: acc)
                d = convert(di)
            } else {
                d = gm
            }
            report.monitor("cos_direction_gradient", layer: l, UpdateDiagnostics.cosine(d, g))
            // 7. grafting
            if effectiveGraft != .none {
                // ‖·‖_F that does not overflow (fp16: entries past 256) or underflow when the norm is representable
                let ng = Statement.rescaledFrobenius(dg, accumulation: acc), nd = Statement.rescaledFrobenius(d, accumulation: acc)
                report.monitor("graft_ratio", layer: l, ng.doubleValue / nd.doubleValue)
                let denominator = nd + tiny
                if denominator == 0 {
                    report.events.append(OptimizerEvent(.zeroNormDivision, step: t, layer: l, "grafting ‖D‖ + 1e-16 = 0 in \(M.formatName)", value: nd.doubleValue))
                }
                d = d.scaled(by: ng / denominator)          // as the reference: 0/0 propagates as NaN
            }
            // 8. weight decay
            if h.weightDecay != 0 && h.variant == .reference {
                let wm: Matrix<M> = convert(weights[l]), wd = decay
                d = try d.zipped(wm, "weight decay") { Statement.axpby(fused, 1, $0, wd, $1) }
                dg = try dg.zipped(wm, "weight decay graft") { Statement.axpby(fused, 1, $0, wd, $1) }
            }
            // 9. momentum (the graft buffer takes the raw G, as the reference)
            let m = mu
            momentumBuffers[l] = try momentumBuffers[l].zipped(d, "momentum") { Statement.axpby(fused, m, $0, 1, $1) }
            graftMomentumBuffers[l] = try graftMomentumBuffers[l].zipped(gm, "graft momentum") { Statement.axpby(fused, m, $0, 1, $1) }
            // 10–11.
            var update = preconditioned ? momentumBuffers[l] : graftMomentumBuffers[l]
            let current = preconditioned ? d : dg
            if effectiveNesterov {
                update = try update.zipped(current, "nesterov") { Statement.axpby(fused, m, $0, 1, $1) }
                if h.nesterovForm == .referenceInPlace {
                    if preconditioned { momentumBuffers[l] = update } else { graftMomentumBuffers[l] = update }
                }
            }
            // 12.
            let lr = eta
            weights[l] = try weights[l].zipped(update, "update") { w, u in Statement.axpby(fused, 1, w, -lr, W(u.doubleValue)) }
            UpdateDiagnostics.checkFinite(weights[l], "W", step: t, layer: l, into: &report)
            report.monitor("newton_guard_stops", layer: l, Double(guardStops[l]))
        }
        return report
    }

    @inlinable
    mutating func allocate(_ weights: [Matrix<W>]) {
        statisticsL = weights.map { Matrix<F>.identity($0.rows).scaled(by: epsF) }
        statisticsR = weights.map { Matrix<F>.identity($0.columns).scaled(by: epsF) }
        rootsL = weights.map { .identity($0.rows) }
        rootsR = weights.map { .identity($0.columns) }
        momentumBuffers = weights.map { Matrix(rows: $0.rows, columns: $0.columns) }
        graftMomentumBuffers = momentumBuffers
        graftAccumulators = effectiveGraft == .adagrad ? momentumBuffers : []
        _guardStops = Array(repeating: 0, count: weights.count)
    }

    /// Step 4 for both sides of layer `l`, with the outcome turned into monitors, events and the fallback.
    @inlinable
    mutating func refreshRoots(layer l: Int, step t: Int, report: inout StepReport) {
        var usable = true
        if let (x, ridge) = root(of: statisticsL[l], side: "L", layer: l, step: t, report: &report) {
            rootsL[l] = x
            if hyperparameters.ridgeInPlace { statisticsL[l] = statisticsL[l].addingToDiagonal(F(ridge)) }
        } else { usable = false }
        if let (x, ridge) = root(of: statisticsR[l], side: "R", layer: l, step: t, report: &report) {
            rootsR[l] = x
            if hyperparameters.ridgeInPlace { statisticsR[l] = statisticsR[l].addingToDiagonal(F(ridge)) }
        } else { usable = false }
        _guardStops[l] += report.events.filter { $0.kind == .newtonDivergenceGuard && $0.layer == l && $0.step == t }.count
        if usable { rawLayers.remove(l); return }
        switch hyperparameters.fallback {
        case .abort:
            report.aborted = true
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "abort: unusable inverse root"))
        case .keepPrevious, .increaseDamping:
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "keep previous root (a side whose root failed)"))
        case .rawGradient:
            rawLayers.insert(l)
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "raw gradient until the next usable root"))
        }
    }

    /// The inverse p-th root of one statistics matrix (K3) and the ridge it used, or nil when it is unusable.
    @inlinable
    func root(of statistic: Matrix<F>, side: String, layer l: Int, step t: Int, report: inout StepReport) -> (Matrix<I>, Double)? {
        let h = hyperparameters, acc = settings.accumulation
        let paper = h.variant == .paper
        let m: Matrix<I> = convert(statistic)
        let r: InverseRoot<I>
        switch h.rootMethod {
        case .coupledNewton:
            var g = SplitMix64.stream(seed: h.seed, "shampoo-power-\(l)-\(side)-\(t)")
            r = try! m.inverseRootNewton(p: h.exponent, relativeRidge: paper ? 0 : h.matrixEpsilon, tolerance: h.newtonTolerance,
                                          maxIterations: h.newtonMaxIterations, seed: g.next(), accumulation: acc)
            report.monitor("newton_iterations_\(side)", layer: l, Double(r.iterations))
            report.monitor("newton_error_\(side)", layer: l, r.finalError)
            report.monitor("power_lambda_max_\(side)", layer: l, r.lambdaMax)
        case .eigen:
            r = try! m.inverseRootEigen(p: h.exponent, epsilon: I(paper ? 0 : h.matrixEpsilon), relativeRidge: true,
                                         method: h.eigenMethod, accumulation: acc)
            report.monitor("clamped_eigenvalues_\(side)", layer: l, Double(r.clampedEigenvalues))
            report.monitor("min_eigenvalue_\(side)", layer: l, r.minimumEigenvalue)
            if r.clampedEigenvalues > 0 {
                report.events.append(OptimizerEvent(.negativeEigenvalueClamped, step: t, layer: l,
                                                    "\(r.clampedEigenvalues) eigenvalues of \(side)", value: r.minimumEigenvalue))
            }
        }
        switch r.outcome {
        case .divergenceGuard:
            report.events.append(OptimizerEvent(.newtonDivergenceGuard, step: t, layer: l, "root of \(side) after \(r.iterations) iterations", value: r.finalError))
        case .iterationCap:
            report.events.append(OptimizerEvent(.newtonIterationCap, step: t, layer: l, "root of \(side) after \(r.iterations) iterations", value: r.finalError))
        case .nonFinite:
            report.events.append(OptimizerEvent(.nonFinite, step: t, layer: l, "inverse root of \(side)", value: r.finalError))
        case .eigenFailure:
            report.events.append(OptimizerEvent(.fallback, step: t, layer: l, "eigensolver failed on \(side)"))
        case .converged, .scalarIdentity: break
        }
        guard r.isUsable else { return nil }
        report.monitor("ridge_\(side)", layer: l, r.ridge)
        if h.expensiveMonitors {
            let mr = m.converted(to: Double.self).addingToDiagonal(r.ridge)
            let health = MatrixHealth(mr)
            report.monitor("root_residual_\(side)", layer: l, MatrixHealth.rootResidual(r.root, mr, power: h.exponent))
            report.monitor("sym_err_root_\(side)", layer: l, MatrixHealth(r.root).symmetryError)
            report.monitor("lambda_min_\(side)", layer: l, health.lambdaMin)
            report.monitor("lambda_max_\(side)", layer: l, health.lambdaMax)
            report.monitor("kappa_\(side)", layer: l, health.conditionNumber)
        }
        return (r.root, r.ridge)
    }
}
