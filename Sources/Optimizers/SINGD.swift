import Scalars
import LinearAlgebra
import Networks

/// SINGD and its special case IKFAC (Lin et al. 2024), from the reference code `f-dangel/singd`,
/// Docs/Optimizers.md §5.4.
///
/// Factors K (input side) and C (output side) with `KKᵀ ≈ (A + damping)⁻¹`, `CCᵀ ≈ (G + damping)⁻¹`,
/// moved multiplicatively by a truncated exponential `K ← K(I − β1 m_K)` every `T` steps; only
/// matrix products and additions, no decomposition. `kfacLike` selects IKFAC's update
/// `M_K = ½(H_K + λP_K − I)` (α1 forced to 0).
///
/// Precision policy: K, C, m_K, m_C, their update and the preconditioned direction in `Inverses` —
/// the role they play (KKᵀ ≈ (A + λI)⁻¹ is what KFAC's inverse is), so that a policy giving KFAC fp32
/// inverses gives SINGD fp32 K and C, and a comparison between them is at matched roles; there is no
/// statistics factor to store, the batch products H_K, H_C are formed from K on the fly. Momentum b in
/// `Moments`; weights in `Weights`; reductions under `settings.accumulation`. Every elementwise
/// statement of §5.4 — `M_K = s(τ(H_C)H_K + λτ(P_C)P_K − I)` (step 4), `m_K ← α1 m_K + M_K` (5),
/// `K ← K − β1K·(K m_K)` after the product (7), weight decay (9), momentum (10) and update (11) —
/// follows `settings.elementwise` through `Statement`; the products and the traces do not.
/// Monitors (§5.8): whiteness residuals, ‖M_K‖_F, ‖m_K‖_F, ‖m_K‖_max, β1·ρ(sym m_K), κ(K), trace
/// factors τ(H), τ(P), stagnation fraction of K and C, ‖U‖/‖∇W‖, cos∠(U, ∇W).
/// Events: `invertibility` when β1·ρ(m) ≥ 1 (I − β1 m may be singular), non-finite values.
public struct SINGD<Policy: PrecisionPolicy>: Optimizer {
    public typealias W = Policy.Weights
    /// The type of K, C and everything computed from them (the `Inverses` role; see above).
    public typealias F = Policy.Inverses
    public typealias M = Policy.Moments

    public struct Hyperparameters: Sendable, Hashable {
        public var learningRate = 1e-3        // β2
        public var momentum = 0.9             // α2
        public var damping = 1e-3             // λ
        public var alpha1 = 0.5               // Riemannian momentum (0 when kfacLike)
        public var weightDecay = 0.0          // γ
        public var interval = 10              // T
        public var factorLearningRate = 1e-2  // β1
        public var structureK: FactorStructure = .dense
        public var structureC: FactorStructure = .dense
        public var kfacLike = false
        public var normalizeFactorLearningRate = false
        public var expensiveMonitors = true
        @inlinable
        public init() {}
    }

    public let hyperparameters: Hyperparameters
    public let settings: ArithmeticSettings
    public private(set) var constants = RoundedConstants()
    public var k: [Matrix<F>] = [], c: [Matrix<F>] = []
    public var mK: [Matrix<F>] = [], mC: [Matrix<F>] = []
    public var buffer: [Matrix<M>] = []
    @usableFromInline let beta2: W, alpha2: M, lambda: F, alpha1: F, gamma: W, beta1: F, scale: F

    @inlinable public var name: String {
        let s = hyperparameters.structureK == hyperparameters.structureC ? "\(hyperparameters.structureK)"
            : "\(hyperparameters.structureK)-\(hyperparameters.structureC)"
        return hyperparameters.kfacLike ? "ikfac-\(s)" : "singd-\(s)"
    }

    public init(_ h: Hyperparameters = .init(), settings: ArithmeticSettings = .init()) {
        hyperparameters = h; self.settings = settings
        var r = RoundedConstants()
        beta2 = r.round("lr", h.learningRate); alpha2 = r.round("momentum", h.momentum)
        lambda = r.round("damping", h.damping); alpha1 = r.round("alpha1", h.kfacLike ? 0 : h.alpha1)
        gamma = r.round("weight_decay", h.weightDecay); beta1 = r.round("lr_cov", h.factorLearningRate)
        scale = r.round("s", h.normalizeFactorLearningRate && !h.kfacLike ? 0.5 * (1 - h.alpha1) : 0.5)
        constants = r
    }

    @inlinable
    func tau(_ m: Matrix<F>) -> F { m.trace / F(Double(m.rows)) }

    @inlinable
    public mutating func step(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int) throws(ShapeError) -> StepReport {
        try checkShapes(weights, layers)
        var report = StepReport()
        let acc = settings.accumulation, h = hyperparameters, fused = settings.elementwise == .fused
        if k.isEmpty {
            k = weights.map { .identity($0.columns) }; c = weights.map { .identity($0.rows) }
            mK = k.map { Matrix(rows: $0.rows, columns: $0.columns) }; mC = c.map { Matrix(rows: $0.rows, columns: $0.columns) }
            buffer = weights.map { Matrix(rows: $0.rows, columns: $0.columns) }
        }
        for l in weights.indices {
            if (t - 1) % h.interval == 0 {
                let abar: Matrix<F> = convert(layers[l].inputs), ghat: Matrix<F> = convert(layers[l].outputGradients)
                let n = F(Double(abar.columns))
                let (sk, sc) = (h.structureK, h.structureC)
                // H_K = Π(Kᵀ A_b K) with A_b = ĀĀᵀ/N, formed as (KᵀĀ)(KᵀĀ)ᵀ/N
                let ka = try Matrix.product(k[l], .transposed, abar, .none, accumulation: acc)
                let hK = sk.project(try Matrix.product(ka, .none, ka, .transposed, accumulation: acc).map { $0 / n })
                let cg = try Matrix.product(c[l], .transposed, ghat, .none, accumulation: acc)
                let hC = sc.project(try Matrix.product(cg, .none, cg, .transposed, accumulation: acc).map { $0 / n })
                let pK = sk.project(try Matrix.product(k[l], .transposed, k[l], .none, accumulation: acc))
                let pC = sc.project(try Matrix.product(c[l], .transposed, c[l], .none, accumulation: acc))
                let newMK: Matrix<F>, newMC: Matrix<F>
                // M = s·(a·H + b·P − I), one statement per entry
                func update(_ s: F, _ a: F, _ hm: Matrix<F>, _ b: F, _ pm: Matrix<F>) -> Matrix<F> {
                    Matrix(rows: hm.rows, columns: hm.columns) { i, j in
                        Statement.scaledCombinationMinus(fused, s, a, hm[i, j], b, pm[i, j], i == j ? 1 : 0)
                    }
                }
                if h.kfacLike {
                    newMK = update(F(0.5), 1, hK, lambda, pK)
                    newMC = update(F(0.5), 1, hC, lambda, pC)
                } else {
                    let (tHK, tHC, tPK, tPC) = (tau(hK), tau(hC), tau(pK), tau(pC))
                    newMK = update(scale, tHC, hK, lambda * tPC, pK)
                    newMC = update(scale, tHK, hC, lambda * tPK, pC)
                    report.monitor("tau_H_K", layer: l, tHK.doubleValue); report.monitor("tau_H_C", layer: l, tHC.doubleValue)
                }
                if alpha1 != 0 {
                    mK[l] = try mK[l].zipped(newMK, "momentum m_K") { Statement.axpy(fused, alpha1, $0, $1) }
                    mC[l] = try mC[l].zipped(newMC, "momentum m_C") { Statement.axpy(fused, alpha1, $0, $1) }
                } else { mK[l] = newMK; mC[l] = newMC }
                var b1K = beta1, b1C = beta1
                if h.normalizeFactorLearningRate {
                    b1K = beta1 / F(max(1, sk.maxNorm(mK[l]))); b1C = beta1 / F(max(1, sc.maxNorm(mC[l])))
                }
                let oldK = k[l], oldC = c[l]
                // K ← K − β1K·(K m_K), one statement per entry after the product
                let productK = try Matrix.product(k[l], .none, mK[l], .none, accumulation: acc)
                let productC = try Matrix.product(c[l], .none, mC[l], .none, accumulation: acc)
                let stepK = productK.scaled(by: b1K), stepC = productC.scaled(by: b1C)
                k[l] = sk.extract(try k[l].zipped(productK, "factor K") { Statement.xmby(fused, $0, b1K, $1) })
                c[l] = sc.extract(try c[l].zipped(productC, "factor C") { Statement.xmby(fused, $0, b1C, $1) })
                report.monitor("stagnation_K", layer: l, UpdateDiagnostics.stagnation(before: oldK, after: k[l], intended: stepK))
                report.monitor("stagnation_C", layer: l, UpdateDiagnostics.stagnation(before: oldC, after: c[l], intended: stepC))
                report.monitor("norm_M_K", layer: l, newMK.frobeniusNorm); report.monitor("norm_m_K", layer: l, mK[l].frobeniusNorm)
                report.monitor("max_m_K", layer: l, sk.maxNorm(mK[l]))
                UpdateDiagnostics.checkFinite(k[l], "K", step: t, layer: l, into: &report)
                UpdateDiagnostics.checkFinite(c[l], "C", step: t, layer: l, into: &report)
                if h.expensiveMonitors {
                    // whiteness ‖Kᵀ(A_b + λI)K − I‖_F/√d_i in Double from the stored values (uses the old K)
                    let kd = oldK.converted(to: Double.self), ad = abar.converted(to: Double.self)
                    if let abd = try? Matrix.product(ad, .none, ad, .transposed, accumulation: .perOperation).map({ $0 / Double(ad.columns) }).addingToDiagonal(h.damping),
                       let wk = try? matmul(kd.transposed, matmul(abd, kd, accumulation: .perOperation), accumulation: .perOperation),
                       let r = try? wk.subtracting(.identity(wk.rows)) {
                        report.monitor("whiteness_K", layer: l, r.frobeniusNorm / Double(wk.rows).squareRoot())
                    }
                    let symM = (try? mK[l].converted(to: Double.self).symmetrized()) ?? .identity(1)
                    if let e = try? symM.symmetricEigen() {
                        let rho = max(abs(e.values.first ?? 0), abs(e.values.last ?? 0)) * beta1.doubleValue
                        report.monitor("beta1_rho_m_K", layer: l, rho)
                        if rho >= 1 { report.events.append(OptimizerEvent(.invertibility, step: t, layer: l, "beta1·rho(m_K) >= 1", value: rho)) }
                    }
                    report.monitor("kappa_K", layer: l, MatrixHealth(try Matrix.product(k[l], .transposed, k[l], .none, accumulation: acc)).conditionNumber.squareRoot())
                }
            }
            // U = C Cᵀ ∇W K Kᵀ, evaluated right to left
            let g: Matrix<F> = convert(layers[l].gradient)
            let u1 = try Matrix.product(g, .none, k[l], .none, accumulation: acc)
            let u2 = try Matrix.product(u1, .none, k[l], .transposed, accumulation: acc)
            let u3 = try Matrix.product(c[l], .transposed, u2, .none, accumulation: acc)
            var u: Matrix<W> = convert(try Matrix.product(c[l], .none, u3, .none, accumulation: acc))
            if h.weightDecay != 0 { u = try u.zipped(weights[l], "weight decay") { Statement.xpby(fused, $0, gamma, $1) } }
            let gNorm = layers[l].gradient.frobeniusNorm
            report.monitor("update_ratio", layer: l, gNorm > 0 ? u.frobeniusNorm / gNorm : .nan)
            report.monitor("cos_update_gradient", layer: l, UpdateDiagnostics.cosine(u, layers[l].gradient))
            let um: Matrix<M> = convert(u)
            buffer[l] = try buffer[l].zipped(um, "momentum") { Statement.axpy(fused, alpha2, $0, $1) }
            let bw: Matrix<W> = convert(buffer[l])
            weights[l] = try weights[l].zipped(bw, "update") { Statement.xmby(fused, $0, beta2, $1) }
            UpdateDiagnostics.checkFinite(weights[l], "W", step: t, layer: l, into: &report)
        }
        return report
    }
}
