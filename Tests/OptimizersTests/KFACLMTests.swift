import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// KFAC-LM (Docs/Optimizers.md §4.4 steps 4'–6') against the equations evaluated independently.
@Suite struct KFACLevenbergMarquardt {
    typealias B = BigFloat256
    typealias K = KFAC<Uniform<B>>

    /// One linear layer (3 inputs + bias → 3 outputs) with MSE on 5 samples: its GGN is the exact
    /// Hessian `A_b ⊗ I`, written below as an explicit 12×12 matrix.
    static func problem() throws -> (MLPSpec, Matrix<B>, Matrix<B>, Matrix<B>) {
        let spec = try MLPSpec(widths: [3, 3], activation: .identity, loss: .meanSquaredError)
        var rng = SplitMix64(seed: 41)
        let x = Matrix<Double>(rows: 3, columns: 5) { _, _ in rng.nextGaussian() }.converted(to: B.self)
        let y = Matrix<Double>(rows: 3, columns: 5) { _, _ in rng.nextGaussian() }.converted(to: B.self)
        let w = Matrix<Double>(rows: 3, columns: 4) { _, _ in rng.nextGaussian() }.converted(to: B.self)
        return (spec, x, y, w)
    }

    static func t(_ m: Matrix<B>) -> Matrix<B> { Independent.transpose(m) }
    static func inner(_ a: Matrix<B>, _ b: Matrix<B>) -> B { zip(a.elements, b.elements).reduce(B.zero) { $0 + $1.0 * $1.1 } }
    /// vec(X)ᵀ M vec(Y), vec stacking columns.
    static func quadratic(_ x: Matrix<B>, _ m: Matrix<B>, _ y: Matrix<B>) -> B {
        let vx = Matrix<B>(rows: x.count, columns: 1) { r, _ in x[r % x.rows, r / x.rows] }
        let vy = Matrix<B>(rows: y.count, columns: 1) { r, _ in y[r % y.rows, r / y.rows] }
        return DenseOracle.product(t(vx), DenseOracle.product(m, vy))[0, 0]
    }

    /// Two steps from t = 1 (ρ rule and γ re-tuning fire at t = 1; t = 2 reuses the inverses and solves
    /// the full 2×2 system with δ0 = δ1) against the dense evaluation: C = F + (λ+η)I, F = A_b ⊗ I,
    /// Δ = (G + γ/π I)⁻¹ ∇h (A + πγ I)⁻¹ for each γ candidate, α by the explicit formula, the γ with
    /// the lowest M(δ) − M(0) kept, ρ from the exact losses, then Cramer's rule for (α, μ).
    /// Bound: KFAC-F's one-step bound c(n)·u·(κ_A + κ_G) with c(n) = 3n (as in `kfacMatchesSection4_4`),
    /// times κ(C) for the quadratic forms in α and κ of the 2×2 system, times 10 for the two steps.
    @Test func twoStepsMatchTheDenseEvaluationOfSteps4To6() throws {
        let (spec, x, y, w0) = try Self.problem()
        var h = K.Hyperparameters()
        h.finish = .lm; h.weightDecay = 1e-3; h.lm.initialDamping = 0.5; h.expensiveMonitors = false
        var opt = K(h)
        let curvature = CurvatureAccess(network: spec, accumulation: .perOperation, inputs: x, targets: .values(y))
        var w = [w0]
        let r1 = try MLP(spec: spec, weights: w, accumulation: .perOperation).backward(x, targets: .values(y))
        let rep1 = try opt.step(weights: &w, layers: r1.layers, step: 1, curvature: curvature)
        let w1Library = w[0], state1 = opt.levenbergMarquardtState
        let r2 = try MLP(spec: spec, weights: w, accumulation: .perOperation).backward(x, targets: .values(y))
        let rep2 = try opt.step(weights: &w, layers: r2.layers, step: 2, curvature: curvature)
        #expect(rep1.events.isEmpty && rep2.events.isEmpty, "\(rep1.events) \(rep2.events)")

        // independent evaluation
        let n = B(5), eta = B(1e-3), lambda0 = B(0.5)
        let gamma0 = B((0.5 + 1e-3).squareRoot())                          // constants formed in Double (§1.3)
        let omega1 = B(Double.pow(0.95, 5)), omega2 = B(Double.pow(0.95.squareRoot(), 20))
        let abar = Matrix<B>(rows: 4, columns: 5) { i, j in i < 3 ? x[i, j] : 1 }
        let ab = DenseOracle.product(abar, Self.t(abar)).map { $0 / n }
        let f = ab.kronecker(Matrix<B>.identity(3))
        func residual(_ w: Matrix<B>) throws -> Matrix<B> { try DenseOracle.product(w, abar).subtracting(y) }
        func gradH(_ w: Matrix<B>) throws -> Matrix<B> { try DenseOracle.product(try residual(w), Self.t(abar)).map { $0 / n }.adding(w.scaled(by: eta)) }
        func gb(_ w: Matrix<B>) throws -> Matrix<B> { let r = try residual(w); return DenseOracle.product(r, Self.t(r)).map { $0 / n } }
        func hLoss(_ w: Matrix<B>) throws -> B { Self.inner(try residual(w), try residual(w)) / (2 * n) + eta / 2 * Self.inner(w, w) }
        // step 1
        let a1 = ab, g1 = try gb(w0), grad1 = try gradH(w0)
        let pi = B.sqrt((a1.trace / 4) / (g1.trace / 3))
        var best: (gamma: B, ai: Matrix<B>, gi: Matrix<B>, delta: Matrix<B>, model: B)? = nil
        for gamma in [gamma0, omega2 * gamma0, gamma0 / omega2] {
            let ai = DenseOracle.inverse(a1.addingToDiagonal(pi * gamma)), gi = DenseOracle.inverse(g1.addingToDiagonal(gamma / pi))
            let d = DenseOracle.product(gi, DenseOracle.product(grad1, ai))
            let dFd = Self.quadratic(d, f, d), dd = Self.inner(d, d), gd = Self.inner(grad1, d)
            let alpha = -gd / (dFd + (lambda0 + eta) * dd)
            let model = alpha * gd + alpha * alpha * (dFd + eta * dd) / 2
            if best == nil || model < best!.model { best = (gamma, ai, gi, d.scaled(by: alpha), model) }
        }
        let delta1 = best!.delta
        let w1 = try w0.adding(delta1)
        let rho = (try hLoss(w1) - hLoss(w0)) / best!.model
        #expect(rho > B(0.75))                           // a quadratic h: ρ = 1 up to rounding
        #expect(state1.lambda == omega1 * lambda0)
        #expect(state1.gamma == best!.gamma)
        let lambda1 = omega1 * lambda0
        // step 2: ε_2 = 1/2, no refresh, δ0 = δ1
        let g2 = try g1.scaled(by: B(0.5)).adding(try gb(w1).scaled(by: B(0.5)))
        _ = g2                                           // factors only enter at the next refresh
        let grad2 = try gradH(w1)
        let d2 = DenseOracle.product(best!.gi, DenseOracle.product(grad2, best!.ai))
        let damp = lambda1 + eta
        let c11 = Self.quadratic(d2, f, d2) + damp * Self.inner(d2, d2)
        let c12 = Self.quadratic(delta1, f, d2) + damp * Self.inner(delta1, d2)
        let c22 = Self.quadratic(delta1, f, delta1) + damp * Self.inner(delta1, delta1)
        let b1 = Self.inner(grad2, d2), b2 = Self.inner(grad2, delta1)
        let det = c11 * c22 - c12 * c12
        let alpha2 = -(c22 * b1 - c12 * b2) / det, mu2 = -(c11 * b2 - c12 * b1) / det
        let w2 = try w1.adding(try d2.scaled(by: alpha2).adding(delta1.scaled(by: mu2)))

        let kA = Independent.condition(a1.addingToDiagonal(pi * best!.gamma)), kG = Independent.condition(g1.addingToDiagonal(best!.gamma / pi))
        let kC = Independent.condition(f.addingToDiagonal(damp))
        let k2 = Independent.condition(try Matrix<B>(rows: 2, columns: 2, elements: [c11, c12, c12, c22]))
        let tol = 10 * 3 * 12 * B.unitRoundoff * (kA + kG) * kC * k2
        #expect(Independent.relativeDifference(w1Library, w1) <= tol)
        #expect(Independent.relativeDifference(w[0], w2) <= tol)
        let mu = rep2.monitors.first { $0.name == "lm_mu" }!.value, alpha = rep2.monitors.first { $0.name == "lm_alpha" }!.value
        #expect(abs(mu - mu2.doubleValue) <= tol * abs(mu2.doubleValue) + Double.unitRoundoff * abs(mu2.doubleValue))
        #expect(abs(alpha - alpha2.doubleValue) <= tol * abs(alpha2.doubleValue) + Double.unitRoundoff * abs(alpha2.doubleValue))
        #expect(mu2.magnitude > B(1e-6))                 // the 2×2 path is exercised
        #expect(tol < 1e-50)                             // the bound is not vacuous
    }

    /// The ρ rule on constructed ratios (ω = 1/2 so every product is exact).
    @Test func rhoRuleMovesLambdaTheRightWay() {
        typealias D = KFAC<Uniform<Double>>
        #expect(D.adaptedDamping(1, rho: 0.9, omega: 0.5, floor: 1e-8) == 0.5)        // ρ > 3/4: decrease
        #expect(D.adaptedDamping(1, rho: 0.1, omega: 0.5, floor: 1e-8) == 2)          // ρ < 1/4: increase
        #expect(D.adaptedDamping(1, rho: -3, omega: 0.5, floor: 1e-8) == 2)           // the step raised h
        #expect(D.adaptedDamping(1, rho: 0.5, omega: 0.5, floor: 1e-8) == 1)          // in between: kept
        #expect(D.adaptedDamping(1, rho: 0.75, omega: 0.5, floor: 1e-8) == 1)         // thresholds are strict
        #expect(D.adaptedDamping(1, rho: 0.25, omega: 0.5, floor: 1e-8) == 1)
        #expect(D.adaptedDamping(1, rho: .nan, omega: 0.5, floor: 1e-8) == 1)         // non-finite: unchanged
        #expect(D.adaptedDamping(1.5e-8, rho: 0.9, omega: 0.5, floor: 1e-8) == 1e-8)  // floor respected
    }

    /// The rule inside a step: a loss that the model predicts well (ρ = 1) lowers λ by ω1, one that
    /// rises after the step (ρ < 0) raises it by 1/ω1, and λ_min holds. Constructed curvature: F = 2I,
    /// the loss either the exact quadratic ‖θ‖² (h is then its own model) or one that jumps by 10⁶ (ρ = 1 + 10⁶/M < 0).
    @Test func rhoRuleInsideAStep() throws {
        typealias D = KFAC<Uniform<Double>>
        let (abar, ghat, _, w0) = Independent.layer(seed: 5)
        func run(lambda: Double, floor: Double, rising: Bool) throws -> (Double, [OptimizerEvent]) {
            var h = D.Hyperparameters()
            h.finish = .lm; h.lm.initialDamping = lambda; h.lm.minimumDamping = floor; h.expensiveMonitors = false
            var opt = D(h)
            let curvature = CurvatureAccess<Double>(
                loss: { w in w[0].elements.reduce(0) { $0 + $1 * $1 } + (rising && w[0] != w0 ? 1e6 : 0) },
                ggnProduct: { _, v in v.map { $0.scaled(by: 2) } })
            var w = [w0]
            let grad = w0.scaled(by: 2)            // ∇‖θ‖²
            let r = try opt.step(weights: &w, layers: [LayerStatistics(inputs: abar, outputGradients: ghat, gradient: grad)], step: 1, curvature: curvature)
            return (opt.levenbergMarquardtState.lambda, r.events)
        }
        let omega1 = Double.pow(0.95, 5)
        let (down, e1) = try run(lambda: 2, floor: 1e-8, rising: false)
        #expect(down == omega1 * 2 && e1.isEmpty)
        let (up, _) = try run(lambda: 2, floor: 1e-8, rising: true)
        #expect(up == 2 / omega1)
        let (floored, _) = try run(lambda: 1e-8, floor: 1e-8, rising: false)
        #expect(floored == 1e-8)
    }

    /// Counts the GGN products a step asks for (the tests are single-threaded).
    final class ProductCalls: @unchecked Sendable { var count = 0; var armed = false }

    /// A 2×2 system that cannot be solved — its product with δ0 non-finite, or a δ0 curvature that makes
    /// det ≤ 0 — is recorded as `lm-singular-system` and solved with δ0 = 0: μ = 0 and δ = αΔ with
    /// α = −∇hᵀΔ/ΔᵀCΔ. Constructed curvature F = 2I (η_wd = 0), so C = (2 + λ)I and that α makes
    /// ∇hᵀδ + (2 + λ)‖δ‖² = 0 whatever Δ is; the residual is evaluated exactly in MPFR from the Double
    /// δ. Step 2 reuses step 1's inverses (t = 2 refreshes nothing), so its products are exactly two:
    /// FΔ, then Fδ0, which is the one corrupted here.
    @Test(arguments: ["nan", "negative"])
    func unsolvableSystemFallsBackToTheDirectionAlone(_ corruption: String) throws {
        typealias D = KFAC<Uniform<Double>>
        let (abar, ghat, grad, w0) = Independent.layer(seed: 7)
        var h = D.Hyperparameters()
        h.finish = .lm; h.expensiveMonitors = false
        var opt = D(h)
        let calls = ProductCalls()
        let curvature = CurvatureAccess<Double>(
            loss: { w in w[0].elements.reduce(0) { $0 + $1 * $1 } },
            ggnProduct: { _, v in
                calls.count += 1
                guard calls.armed, calls.count == 2 else { return v.map { $0.scaled(by: 2) } }
                return v.map { $0.map { corruption == "nan" ? .nan : -10 * $0 } }
            })
        let layers = [LayerStatistics(inputs: abar, outputGradients: ghat, gradient: grad)]
        var w = [w0]
        let r1 = try opt.step(weights: &w, layers: layers, step: 1, curvature: curvature)
        #expect(r1.events.isEmpty, "\(r1.events)")
        let w1 = w[0], lambda = opt.levenbergMarquardtState.lambda
        calls.count = 0; calls.armed = true
        let r2 = try opt.step(weights: &w, layers: layers, step: 2, curvature: curvature)
        #expect(calls.count == 2)
        #expect(r2.events.map(\.kind) == [.lmSingularSystem], "\(r2.events)")
        #expect(r2.monitors.first { $0.name == "lm_mu" }?.value == 0)
        let delta = try #require(opt.levenbergMarquardtState.previousStep.first)   // δ, kept as δ_prev
        #expect(try w[0] == w1.adding(delta))
        // ∇hᵀδ + (2 + λ)‖δ‖² = 0 up to the roundings of Δ's inner products, α and δ = αΔ:
        // |residual| ≤ (2γ_{n+3}·κ + 4u)·scale, κ = Σ|g_i δ_i| / |∇hᵀδ|.
        typealias B = BigFloat256
        let g = grad.elements.map { B($0) }, d = delta.elements.map { B($0) }, c = 2 + B(lambda)
        let gd = zip(g, d).reduce(B.zero) { $0 + $1.0 * $1.1 }, dd = d.reduce(B.zero) { $0 + $1 * $1 }
        let absolute = zip(g, d).reduce(B.zero) { $0 + ($1.0 * $1.1).magnitude }
        let kappa = (absolute / gd.magnitude).doubleValue
        let scale = (absolute + c * dd).doubleValue
        let bound = (2 * Double.gammaBound(d.count + 3) * kappa + 4 * Double.unitRoundoff) * scale
        #expect(dd > 0 && gd < 0)
        #expect((gd + c * dd).magnitude.doubleValue <= bound, "residual \((gd + c * dd).doubleValue), bound \(bound)")
        #expect(bound < 1e-10 * scale)                      // the bound is not vacuous
    }

    /// Without the batch's curvature access a KFAC-LM step is not taken and says why.
    @Test func missingCurvatureAbortsWithAnEvent() throws {
        var h = KFAC<Uniform<Double>>.Hyperparameters(); h.finish = .lm
        var opt = KFAC<Uniform<Double>>(h)
        let (abar, ghat, grad, w0) = Independent.layer(seed: 6)
        var w = [w0]
        let r = try opt.step(weights: &w, layers: [LayerStatistics(inputs: abar, outputGradients: ghat, gradient: grad)], step: 1)
        #expect(r.aborted && r.events.contains { $0.kind == .fallback } && w[0] == w0)
        #expect(opt.name == "kfac-lm")
    }

    /// KFAC-LM with the paper's defaults lowers the training loss of `Descent`'s problem over 50 steps.
    @Test func kfacLMLowersTheLoss() throws {
        var h = KFAC<Uniform<Double>>.Hyperparameters(); h.finish = .lm
        var opt = KFAC<Uniform<Double>>(h)
        var events = [OptimizerEvent]()
        let (initial, final) = try SmallTraining.train { w, layers, t, curvature in
            events += try opt.step(weights: &w, layers: layers, step: t, curvature: curvature).events
        }
        #expect(final < initial, "\(initial) → \(final)")
        #expect(events.isEmpty, "\(events)")
    }
}
