import Scalars
import LinearAlgebra
import TestSupport
import Optimizers

/// KFAC's practical finish (Docs/Optimizers.md §4.4 steps 1–5, with the SGD step of §3.1) evaluated from the
/// specification in MPFR-256, together with a running bound on how far a run in a type of unit
/// roundoff `u` may lie from it.
///
/// Independence: nothing here calls KFAC, `Matrix.product`, the library's Cholesky,
/// `dampedSPDInverse`, `symmetricEigen`, `Reduction`, `trace`, `addingToDiagonal`, `symmetrized` or
/// `kronecker`. `Matrix<B>` serves as storage only (init, subscripts, `elements`); products are
/// `DenseOracle.product` (a triple loop), inverses `DenseOracle.inverse` (Gauss–Jordan, not Cholesky),
/// positive definiteness `Independent.isPositiveDefinite` (elimination pivots), KFAC-E's direction the
/// explicit Kronecker system solved by Gauss–Jordan. MPFR-256's own rounding (2⁻²⁵⁶ relative) is far
/// below every bound stated here.
///
/// The bounds (`KFACTruthBounds`) are first order in `u`: the neglected terms are products of two
/// bounds, each checked below `√u` relative, so they are below `u` relative.
struct KFACTruthOracle {
    typealias B = BigFloat256

    /// A study configuration of the practical finish, mapped onto `KFAC.Hyperparameters` for any policy.
    struct Configuration: CustomStringConvertible, Sendable {
        var variant = "kfac-f"
        var unmodifiedDamping = false
        var damping = 0.05
        var emaMax = 0.7
        var statisticsInterval = 1
        var inverseInterval = 2
        var momentum = 0.9
        var weightDecay = 0.01
        var learningRate = 0.1
        var klClip: Double? = nil
        var fallback = FallbackPolicy.increaseDamping
        var label = ""

        func hyperparameters<P: PrecisionPolicy>(_: P.Type) -> KFAC<P>.Hyperparameters {
            var h = KFAC<P>.Hyperparameters()
            h.variant = KFAC<P>.Variant(rawValue: variant)!
            h.unmodifiedDamping = unmodifiedDamping; h.damping = damping; h.emaMax = emaMax
            h.statisticsInterval = statisticsInterval; h.inverseInterval = inverseInterval
            h.momentum = momentum; h.weightDecay = weightDecay; h.learningRate = learningRate
            h.klClip = klClip; h.fallback = fallback; h.expensiveMonitors = false
            return h
        }
        var description: String { label.isEmpty ? variant : label }
    }

    /// One layer's batch: Ā (`d_i × N`), Ĝ (`d_o × N`), ∇W, exactly as the run in `T` received them.
    struct Batch { var abar: Matrix<B>; var ghat: Matrix<B>; var grad: Matrix<B> }

    /// What one refresh of one layer decided: the damping of each factor, π, and the number of ×10 retries.
    struct Refresh { var pi: B?; var dampA: B; var dampG: B; var retries: Int; var failures: [(retry: Int, factor: String)]; var kept: Bool }

    let config: Configuration
    let bounds: KFACTruthBounds
    // State, exact.
    var a: [Matrix<B>], g: [Matrix<B>]
    /// Componentwise magnitudes of the EMA terms: the same EMA applied to |Ā||Ā|ᵀ/N (and |A₀| for an imported start).
    var aAbs: [Matrix<B>], gAbs: [Matrix<B>]
    /// The longest chain of roundings from a leaf of A (G) to the stored entry, see `KFACTruthBounds.factorRoundings`.
    var aRoundings: [Int], gRoundings: [Int]
    var k: Int
    var inverseA: [Matrix<B>], inverseG: [Matrix<B>]
    /// KFAC-E: (A⊗G + λI)⁻¹ of the last refresh, and that refresh's A and G.
    var kroneckerInverse: [Matrix<B>?]
    var refreshedA: [Matrix<B>], refreshedG: [Matrix<B>]
    var buffers: [Matrix<B>], weights: [Matrix<B>]
    // Bounds on ‖state_T − state‖_F, carried between steps.
    var inverseABound: [Double], inverseGBound: [Double]
    /// KFAC-E: Frobenius bounds on Â − A and Ĝ − G at the last refresh.
    var refreshedABound: [Double], refreshedGBound: [Double]
    var bufferBound: [Double], weightBound: [Double]

    /// A fresh optimizer (zero factors, identity inverses, step 1 next).
    init(_ config: Configuration, bounds: KFACTruthBounds, weights w: [Matrix<B>]) {
        self.config = config; self.bounds = bounds
        a = w.map { Matrix<B>(rows: $0.columns, columns: $0.columns) }
        g = w.map { Matrix<B>(rows: $0.rows, columns: $0.rows) }
        aAbs = a; gAbs = g
        aRoundings = w.map { _ in 0 }; gRoundings = aRoundings
        k = 0
        inverseA = w.map { Oracle.identity($0.columns) }; inverseG = w.map { Oracle.identity($0.rows) }
        kroneckerInverse = w.map { _ in nil }
        refreshedA = a; refreshedG = g
        buffers = w.map { Matrix<B>(rows: $0.rows, columns: $0.columns) }
        weights = w
        inverseABound = w.map { _ in 0 }; inverseGBound = inverseABound
        refreshedABound = inverseABound; refreshedGBound = inverseABound
        bufferBound = inverseABound; weightBound = inverseABound
    }

    /// A start from an exported state (values exact in B): the imported entries are data, with zero error.
    init(_ config: Configuration, bounds: KFACTruthBounds, weights w: [Matrix<B>], state: OptimizerState) {
        self.init(config, bounds: bounds, weights: w)
        func get(_ key: String) -> [Matrix<B>] { state.matrices[key]!.map { $0.converted(to: B.self) } }
        a = get("factors_A"); g = get("factors_G")
        aAbs = a.map(Oracle.magnitude); gAbs = g.map(Oracle.magnitude)
        k = state.integers["statistic_updates"]![0]
        inverseA = get("inverse_A"); inverseG = get("inverse_G")
        buffers = get("momentum.buffers")
    }

    /// ε_k = min(1 − 1/k, ε_max) (§4.3, §4.4 step 1), exact.
    func emaWeight(_ k: Int) -> B { min(1 - 1 / B(Double(k)), B(config.emaMax)) }

    /// Steps 1–5 at step `t`. Returns the refreshes (nil entries when step 2 did not run), the KL
    /// quantities s and ν (nil without clip) and the bound on ν.
    mutating func step(_ t: Int, _ batches: [Batch]) -> (refreshes: [Refresh?], s: B?, nu: B, nuBound: Double, sBound: Double) {
        // 1. statistics
        if (t - 1) % config.statisticsInterval == 0 {
            k += 1
            let eps = emaWeight(k), oneMinus = 1 - eps
            for l in batches.indices {
                let n = B(Double(batches[l].abar.columns))
                let ab = Oracle.symmetric(Oracle.map(DenseOracle.product(batches[l].abar, Independent.transpose(batches[l].abar))) { $0 / n })
                let gb = Oracle.symmetric(Oracle.map(DenseOracle.product(batches[l].ghat, Independent.transpose(batches[l].ghat))) { $0 / n })
                let abAbs = Oracle.map(DenseOracle.product(Oracle.magnitude(batches[l].abar), Independent.transpose(Oracle.magnitude(batches[l].abar)))) { $0 / n }
                let gbAbs = Oracle.map(DenseOracle.product(Oracle.magnitude(batches[l].ghat), Independent.transpose(Oracle.magnitude(batches[l].ghat)))) { $0 / n }
                a[l] = Oracle.combination(eps, a[l], oneMinus, ab); g[l] = Oracle.combination(eps, g[l], oneMinus, gb)
                aAbs[l] = Oracle.combination(eps, aAbs[l], oneMinus, abAbs); gAbs[l] = Oracle.combination(eps, gAbs[l], oneMinus, gbAbs)
                aRoundings[l] = bounds.factorRoundings(previous: aRoundings[l], samples: batches[l].abar.columns, k: k)
                gRoundings[l] = bounds.factorRoundings(previous: gRoundings[l], samples: batches[l].ghat.columns, k: k)
            }
        }
        // 2. inverses
        var refreshes = [Refresh?](repeating: nil, count: batches.count)
        if (t - 1) % config.inverseInterval == 0 {
            for l in batches.indices { refreshes[l] = refresh(l) }
        }
        // 3. directions, and the bound on each
        var deltas = [Matrix<B>](), deltaBounds = [Double]()
        for l in batches.indices {
            let grad = batches[l].grad
            if config.variant == "kfac-e", let kinv = kroneckerInverse[l] {
                let x = DenseOracle.product(kinv, Oracle.vec(grad))
                let delta = Oracle.unvec(x, rows: grad.rows, columns: grad.columns)
                deltas.append(delta)
                deltaBounds.append(bounds.eigenDirection(delta: delta, a: refreshedA[l], g: refreshedG[l], aBound: refreshedABound[l],
                                                         gBound: refreshedGBound[l], lambda: B(config.damping), kroneckerInverse: kinv))
            } else {
                let delta = DenseOracle.product(inverseG[l], DenseOracle.product(grad, inverseA[l]))
                deltas.append(delta)
                deltaBounds.append(bounds.factoredDirection(grad: grad, inverseA: inverseA[l], inverseG: inverseG[l],
                                                            inverseABound: inverseABound[l], inverseGBound: inverseGBound[l]))
            }
        }
        // 4. KL clip: s = η² Σ_layers ⟨Δ, ∇W⟩, ν = min(1, √(κ/|s|)) (ν = 1 if s = 0)
        var nu = B(1), nuBound = 0.0, sValue: B? = nil, sBound = 0.0
        if let kappa = config.klClip {
            let eta = B(config.learningRate)
            var s = B.zero, sumAbs = B.zero, entries = 0
            var errorOfSum = 0.0
            for l in deltas.indices {
                for (d, gv) in zip(deltas[l].elements, batches[l].grad.elements) { s += d * gv; sumAbs += (d * gv).magnitude; entries += 1 }
                errorOfSum += deltaBounds[l] * Oracle.frobenius(batches[l].grad).doubleValue
            }
            s = eta * eta * s
            // Δ's error enters ⟨Δ, ∇⟩ through Cauchy–Schwarz; the Double sum of `entries` products and the
            // two multiplications by η add γ_{entries+2} of Double relative to Σ|Δ_ij ∇_ij| (Higham Lemma 3.1).
            sBound = (eta * eta).doubleValue * (errorOfSum + Double.gammaBound(entries + 2) * sumAbs.doubleValue)
            sValue = s
            if s != 0 {
                let ratio = B(kappa) / s.magnitude
                if ratio < 1 {
                    nu = ratio.squareRoot()
                    // ν = √(κ/|s|): half the relative error of s, plus the division and the square root in Double.
                    nuBound = nu.doubleValue * (0.5 * sBound / s.magnitude.doubleValue + 2 * Double.unitRoundoff)
                }
            }
        }
        // 5. SGD (§3.1, dampening 0): d = νΔ + wW; b = d at t = 1, else μb + d; W ← W − ηb
        let mu = B(config.momentum), wd = B(config.weightDecay), eta = B(config.learningRate)
        for l in batches.indices {
            let d = Oracle.combination(nu, deltas[l], wd, weights[l])
            let dBound = nu.doubleValue * deltaBounds[l] + nuBound * Oracle.frobenius(deltas[l]).doubleValue
                + config.weightDecay * weightBound[l]
                + bounds.gamma(4) * (nu.doubleValue * Oracle.frobenius(deltas[l]).doubleValue + config.weightDecay * Oracle.frobenius(weights[l]).doubleValue)
            let previous = buffers[l]
            if t == 1 {
                buffers[l] = d; bufferBound[l] = dBound
            } else {
                buffers[l] = Oracle.combination(mu, buffers[l], 1, d)
                bufferBound[l] = config.momentum * bufferBound[l] + dBound
                    + bounds.gamma(3) * (config.momentum * Oracle.frobenius(previous).doubleValue + Oracle.frobenius(d).doubleValue)
            }
            let before = weights[l]
            weights[l] = Oracle.combination(1, weights[l], -eta, buffers[l])
            weightBound[l] = weightBound[l] + config.learningRate * bufferBound[l]
                + bounds.gamma(3) * (Oracle.frobenius(before).doubleValue + config.learningRate * Oracle.frobenius(buffers[l]).doubleValue)
        }
        return (refreshes, sValue, nu, nuBound, sBound)
    }

    /// Step 2 for layer `l` (§4.4 step 2, K1 with the increase-damping policy of §1.4: ×10 on both
    /// factors' damping, up to 3 retries; then the previous inverse is kept).
    mutating func refresh(_ l: Int) -> Refresh {
        let lambda = B(config.damping), gamma = lambda.squareRoot()
        let dA = a[l].rows, dG = g[l].rows
        let factorErrorA = bounds.gamma(aRoundings[l] + 1) * Oracle.frobenius(aAbs[l]).doubleValue
        let factorErrorG = bounds.gamma(gRoundings[l] + 1) * Oracle.frobenius(gAbs[l]).doubleValue
        if config.variant == "kfac-e" {
            let kron = Oracle.kronecker(a[l], g[l], plus: lambda)
            kroneckerInverse[l] = DenseOracle.inverse(kron)
            refreshedA[l] = a[l]; refreshedG[l] = g[l]
            refreshedABound[l] = factorErrorA; refreshedGBound[l] = factorErrorG
            return Refresh(pi: nil, dampA: lambda, dampG: lambda, retries: 0, failures: [], kept: false)
        }
        var pi: B? = nil
        var dampA: B, dampG: B, relativeDamping: Double
        switch (config.variant, config.unmodifiedDamping) {
        case ("kfac-f", _):
            let tauA = Oracle.trace(a[l]) / B(Double(dA)), tauG = Oracle.trace(g[l]) / B(Double(dG))
            let p = (tauA == 0 || tauG == 0) ? B(1) : (tauA / tauG).squareRoot()
            pi = p
            dampA = p * gamma; dampG = gamma / p
            relativeDamping = bounds.piRelative(a: a[l], aAbs: aAbs[l], aRoundings: aRoundings[l],
                                                g: g[l], gAbs: gAbs[l], gRoundings: gRoundings[l]) + 3 * bounds.u
        case (_, false): dampA = gamma; dampG = gamma; relativeDamping = 2 * bounds.u
        case (_, true): dampA = lambda; dampG = lambda; relativeDamping = bounds.u
        }
        var failures = [(retry: Int, factor: String)]()
        var retries = 0
        while true {
            let okA = Independent.isPositiveDefinite(Oracle.addingDiagonal(a[l], dampA))
            let okG = Independent.isPositiveDefinite(Oracle.addingDiagonal(g[l], dampG))
            if okA && okG { break }
            if !okA { failures.append((retries, "A")) }
            if !okG { failures.append((retries, "G")) }
            guard config.fallback == .increaseDamping, retries < 3 else {
                return Refresh(pi: pi, dampA: dampA, dampG: dampG, retries: retries, failures: failures, kept: true)
            }
            retries += 1
            dampA = dampA * 10; dampG = dampG * 10
            relativeDamping += bounds.u                       // each ×10 is one rounding in T
        }
        let ma = Oracle.addingDiagonal(a[l], dampA), mg = Oracle.addingDiagonal(g[l], dampG)
        inverseA[l] = DenseOracle.inverse(ma); inverseG[l] = DenseOracle.inverse(mg)
        inverseABound[l] = bounds.choleskyInverse(m: ma, inverse: inverseA[l], factorError: factorErrorA, damping: dampA, dampingRelative: relativeDamping)
        inverseGBound[l] = bounds.choleskyInverse(m: mg, inverse: inverseG[l], factorError: factorErrorG, damping: dampG, dampingRelative: relativeDamping)
        return Refresh(pi: pi, dampA: dampA, dampG: dampG, retries: retries, failures: failures, kept: false)
    }
}

/// The error bounds of a KFAC run in a type of unit roundoff `u` (per-op accumulation, `Uniform<T>`),
/// each derived where it is defined. γ_n = n·u/(1 − n·u) (Higham, *Accuracy and Stability of Numerical
/// Algorithms*, 2nd ed., Lemma 3.1): a value reached through n roundings (each a factor (1 + δ)^{±1},
/// |δ| ≤ u) lies within γ_n relative of the exact one (Lemma 3.3).
struct KFACTruthBounds {
    typealias B = BigFloat256
    let u: Double
    let gamma: (Int) -> Double

    init<T: Scalar>(_: T.Type) { u = T.unitRoundoff; gamma = { T.gammaBound($0) } }

    /// The longest chain of roundings from a leaf product ā_ip ā_jp (or ĝ ĝ) to the stored A_ij after the
    /// k-th statistics update. The batch matrix: a length-N dot product (N roundings, γ_N whatever the
    /// summation order), the division by N (1) and sym's addition (1; the halving is exact): N + 2.
    /// The EMA A ← ε_k A + (1 − ε_k) A_b: the library forms ε_k = min(1 − 1/k, ε_max) in Double (1/k and
    /// 1 − 1/k rounded: ε_k within 2u_D relative) and 1 − ε_k in Double (exact by Sterbenz once ε_k ≥ ½,
    /// but carrying ε_k's absolute error: within k·u_D relative), then rounds each to T (u): with
    /// u_D ≤ u, at most 3 roundings for ε_k and k + 1 for 1 − ε_k; then two products and one sum (3).
    /// So the previous A's leaves gain 3 + 3 and the batch's N + 2 + (k + 1) + 3.
    func factorRoundings(previous: Int, samples: Int, k: Int) -> Int {
        max(previous + 6, samples + 2 + k + 1 + 3)
    }

    /// Relative bound on π̂ = √(τ̂(A)/τ̂(G)) (§4.4 step 2, KFAC-F). τ(A) = Σ A_ii / d: each diagonal entry
    /// within γ_n·|A|_ii (`factorRoundings`, |A|_ii the magnitude EMA), the sum of d entries γ_{d−1} and the
    /// division 1 more: |τ̂ − τ| ≤ γ_{n+d} τ(|A|). The ratio adds u, the square root halves the ratio's
    /// relative error and adds u.
    func piRelative(a: Matrix<B>, aAbs: Matrix<B>, aRoundings: Int, g: Matrix<B>, gAbs: Matrix<B>, gRoundings: Int) -> Double {
        let eA = gamma(aRoundings + a.rows) * (Oracle.trace(aAbs) / Oracle.trace(a)).magnitude.doubleValue
        let eG = gamma(gRoundings + g.rows) * (Oracle.trace(gAbs) / Oracle.trace(g)).magnitude.doubleValue
        return (eA + eG + u) / 2 + u
    }

    /// Bound on ‖X̂ − X‖_F for X = (A + δI)⁻¹ (K1) computed by the library from Â and δ̂.
    ///
    /// Data: M̂ = fl(sym(Â) + δ̂I) (sym(Â) = Â: the EMA of exactly symmetric matrices is symmetric) differs
    /// from M = A + δI by E with ‖E‖_F ≤ `factorError` (γ_{n+1}‖|A|‖_F, the +1 the diagonal addition)
    /// + √d·(ρ_δ + u)·δ, ρ_δ the relative error of δ̂. First-order perturbation of the inverse:
    /// ‖M̂⁻¹ − M⁻¹‖_F ≤ ‖M⁻¹‖₂²‖E‖_F ≤ ‖X‖_F²‖E‖_F.
    /// Algorithm: each column of X̂ solves M̂ by Cholesky and two triangular solves, so
    /// (M̂ + ΔM_j) x̂_j = e_j with |ΔM_j| ≤ γ_{3d+1}|R̂ᵀ||R̂| (Higham Thm 10.4) and ‖|R̂ᵀ||R̂|‖₂ ≤ d‖M̂‖₂
    /// (Higham §10.1, after Thm 10.4): ‖x̂_j − x_j‖ ≤ κ₂(M)·d·γ_{3d+1}‖x_j‖, over the columns
    /// ‖X̂ − M̂⁻¹‖_F ≤ d·γ_{3d+1}·κ₂(M)‖X‖_F; the final sym(X̂) is a Frobenius-orthogonal projection (it
    /// cannot increase the distance to the symmetric X) plus one rounding (u‖X‖_F). κ₂ ≤ κ_F = ‖M‖_F‖X‖_F.
    func choleskyInverse(m: Matrix<B>, inverse x: Matrix<B>, factorError: Double, damping: B, dampingRelative: Double) -> Double {
        let d = m.rows
        let xF = Oracle.frobenius(x).doubleValue, kappa = Oracle.frobenius(m).doubleValue * xF
        let e = factorError + Double(d).squareRoot() * (dampingRelative + u) * damping.doubleValue
        return xF * xF * e + (Double(d) * gamma(3 * d + 1) * kappa + u) * xF
    }

    /// Bound on ‖Δ̂ − Δ‖_F for Δ = X_G ∇W X_A (KFAC-F/I, §4.4 step 3): the errors of the inverses enter
    /// through Frobenius submultiplicativity, the two products in T add γ_{d_i} and γ_{d_o} times
    /// ‖|X_G||∇W||X_A|‖_F ≤ ‖X_G‖_F‖∇W‖_F‖X_A‖_F (inputs ∇W are exact data).
    func factoredDirection(grad: Matrix<B>, inverseA: Matrix<B>, inverseG: Matrix<B>, inverseABound: Double, inverseGBound: Double) -> Double {
        let gF = Oracle.frobenius(grad).doubleValue
        let aF = Oracle.frobenius(inverseA).doubleValue, gIF = Oracle.frobenius(inverseG).doubleValue
        return gF * (inverseGBound * aF + gIF * inverseABound + (gamma(inverseA.rows) + gamma(inverseG.rows)) * gIF * aF)
    }

    /// Rotations the library's cyclic Jacobi may apply: at most 60 sweeps (its `maxSweeps` default) of
    /// d(d − 1)/2 rotations.
    func jacobiRotations(_ d: Int) -> Int { 60 * d * (d - 1) / 2 }

    /// Bound on ‖Q̂ᵀQ̂ − I‖_F for Jacobi's accumulated eigenvectors: each computed rotation applied to Q
    /// is an exact rotation of a perturbed Q with ‖ΔQ‖_F ≤ √2·γ_6‖Q‖_F (Higham Lemma 19.8, two rows per
    /// rotation), so R rotations leave Q̂ within R·√2·γ_6 of orthogonal, and Q̂ᵀQ̂ − I twice that.
    func jacobiOrthogonality(_ d: Int) -> Double { 2 * Double(jacobiRotations(d)) * 2.0.squareRoot() * gamma(6) }

    /// Bound on ‖Q̂D̂Q̂ᵀ − Â‖_F / ‖Â‖_F for Jacobi: each two-sided rotation perturbs the iterate by
    /// 2·√2·γ_6 of its norm (Lemma 19.8 on both sides), the off-diagonal part dropped at the stop is
    /// below u‖Â‖_F, and reassembling with the non-orthogonal Q̂ adds the orthogonality defect.
    func jacobiBackward(_ d: Int) -> Double {
        2 * Double(jacobiRotations(d)) * 2.0.squareRoot() * gamma(6) + u + jacobiOrthogonality(d)
    }

    /// Bound on ‖Δ̂ − Δ‖_F for KFAC-E (§4.4 step 3, K2), Δ = K⁻¹ vec ∇W with K = A⊗G + λI.
    /// First order, ΔΔ = −K⁻¹(ΔK)Δ with ΔK = ΔA⊗G + A⊗ΔG + Δλ·I, ΔA the factor error plus Jacobi's
    /// backward error (`jacobiBackward`‖A‖_F); ‖ΔA⊗G‖_F = ‖ΔA‖_F‖G‖_F, and λ̂ = λ(1 + u): so
    /// ‖ΔΔ‖_F ≤ ‖K⁻¹‖_F‖ΔK‖_F‖Δ‖_F. The evaluation Q_G[(Q_Gᵀ∇Q_A) ⊘ (d_G d_Aᵀ + λ)]Q_Aᵀ: four products
    /// with ‖Q‖₂ ≈ 1 (γ_{d_i} or γ_{d_o} each of the input's norm), three roundings in the divisor, and
    /// the non-orthogonality of Q̂ (two uses of each Q̂ᵀ as Q̂⁻¹): relative to the operator, each enters
    /// the result amplified by at most κ(K) ≤ κ_F(K).
    func eigenDirection(delta: Matrix<B>, a: Matrix<B>, g: Matrix<B>, aBound: Double, gBound: Double, lambda: B, kroneckerInverse kinv: Matrix<B>) -> Double {
        let dI = a.rows, dO = g.rows
        let aF = Oracle.frobenius(a).doubleValue, gF = Oracle.frobenius(g).doubleValue
        let errA = aBound + jacobiBackward(dI) * aF, errG = gBound + jacobiBackward(dO) * gF
        let kron = Oracle.kronecker(a, g, plus: lambda)
        let kinvF = Oracle.frobenius(kinv).doubleValue, kF = Oracle.frobenius(kron).doubleValue
        let deltaF = Oracle.frobenius(delta).doubleValue
        let dK = errA * gF + aF * errG + Double(dI * dO).squareRoot() * u * lambda.doubleValue
        let evaluation = 2 * (gamma(dI) + gamma(dO)) + 3 * u + 2 * (jacobiOrthogonality(dI) + jacobiOrthogonality(dO))
        return kinvF * dK * deltaF + kF * kinvF * evaluation * deltaF
    }
}

/// Plain-loop matrix arithmetic for the oracle (nothing from the library beyond storage).
enum Oracle {
    typealias B = BigFloat256

    static func identity(_ n: Int) -> Matrix<B> { Matrix(rows: n, columns: n) { i, j in i == j ? 1 : 0 } }
    static func map(_ m: Matrix<B>, _ f: (B) -> B) -> Matrix<B> { Matrix(rows: m.rows, columns: m.columns) { f(m[$0, $1]) } }
    static func magnitude(_ m: Matrix<B>) -> Matrix<B> { map(m) { $0.magnitude } }
    /// (X + Xᵀ)/2.
    static func symmetric(_ m: Matrix<B>) -> Matrix<B> { Matrix(rows: m.rows, columns: m.columns) { (m[$0, $1] + m[$1, $0]) / 2 } }
    /// αX + βY.
    static func combination(_ alpha: B, _ x: Matrix<B>, _ beta: B, _ y: Matrix<B>) -> Matrix<B> {
        Matrix(rows: x.rows, columns: x.columns) { alpha * x[$0, $1] + beta * y[$0, $1] }
    }
    static func addingDiagonal(_ m: Matrix<B>, _ delta: B) -> Matrix<B> { Matrix(rows: m.rows, columns: m.columns) { m[$0, $1] + ($0 == $1 ? delta : 0) } }
    static func trace(_ m: Matrix<B>) -> B { (0..<m.rows).reduce(B.zero) { $0 + m[$1, $1] } }
    static func frobenius(_ m: Matrix<B>) -> B { m.elements.reduce(B.zero) { $0 + $1 * $1 }.squareRoot() }
    /// vec by column stacking (§1.1).
    static func vec(_ m: Matrix<B>) -> Matrix<B> { Matrix(rows: m.rows * m.columns, columns: 1) { r, _ in m[r % m.rows, r / m.rows] } }
    static func unvec(_ v: Matrix<B>, rows: Int, columns: Int) -> Matrix<B> { Matrix(rows: rows, columns: columns) { v[$1 * rows + $0, 0] } }
    /// A ⊗ G + λI, so that (A ⊗ G) vec(X) = vec(G X A) for symmetric A (§1.1).
    static func kronecker(_ a: Matrix<B>, _ g: Matrix<B>, plus lambda: B) -> Matrix<B> {
        let n = g.rows
        return Matrix(rows: a.rows * n, columns: a.rows * n) { r, c in a[r / n, c / n] * g[r % n, c % n] + (r == c ? lambda : 0) }
    }
    /// ‖X − Y‖_F, both in B.
    static func distance(_ x: Matrix<B>, _ y: Matrix<B>) -> Double {
        var s = B.zero
        for (p, q) in zip(x.elements, y.elements) { s += (p - q) * (p - q) }
        return s.squareRoot().doubleValue
    }
    /// ‖X − Y‖_F in B of a state in any type against the oracle.
    static func distance<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<B>) -> Double {
        var s = B.zero
        for (p, q) in zip(x.elements, y.elements) { let d = B(p.doubleValue) - q; s += d * d }
        return s.squareRoot().doubleValue
    }
}
