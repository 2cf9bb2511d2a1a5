import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// Shampoo (Docs/Optimizers.md §6.4, roots K3) over several steps against an independent MPFR-256
/// evaluation, with grafting (SGD and AdaGrad), the graft momentum used before the start step, both
/// root routes, and the root-failure fallback.
///
/// Every state of the optimizer is checked after every step: the statistics L, R, the AdaGrad
/// accumulator S, both momentum buffers and W against the rigorous rounding envelope of §6.4's
/// statements (`Enclosure`, unit roundoff u of the type under test); the roots L̂, R̂ against an
/// independent root of the exact statistic:
/// * eigen route: the exact `(L + r̂I)^{-1/4}` (Denman–Beavers in MPFR, `Independent.inverseFourthRoot`);
/// * coupled Newton: K3's iteration transcribed in MPFR (`IndependentSPD.newton`) with the same
///   tolerance, so the reference is the specification's root, truncation included.
/// `r̂` is the ridge the optimizer reports (`ridge_L`): it comes from a randomly started power
/// iteration (K3), so the oracle checks that it is ε times a Rayleigh quotient of L — inside
/// `ε·[λ_min, λ_max]` up to rounding — and uses it.
///
/// Root tolerance, relative in the Frobenius norm, then applied to every entry as `δ·‖X‖_F`:
/// * rounding of the route on the stored statistic: eigen `κu(b + 4(b + 3 + n²(1 + nu)))`,
///   `b = 12·60·(n − 1)` (60 Jacobi sweeps at most; the bound of InverseRootAccuracy.eigenBound);
///   Newton `4k·n·γ_n·κ` (k accepted iterations of four products, each `n·γ_n` normwise, residual to
///   forward amplification ≤ κ, as ShampooAgainstSpecification);
/// * the stored statistic's own rounding `E` (from its envelope): the Fréchet derivative of
///   `M ↦ M^{-1/4}` has norm `≤ ¼λ_min^{-5/4}`, so `+ ¼(λ_min − ‖E‖_F)^{-5/4}·‖E‖_F` absolutely.
@Suite struct ShampooTruth {
    typealias B = BigFloat256
    typealias H = Shampoo<Uniform<Double>>.Hyperparameters

    struct Config: Sendable, CustomStringConvertible {
        var name: String
        var graft: Shampoo<Uniform<Double>>.GraftType = .sgd
        var route: Shampoo<Uniform<Double>>.RootMethod = .coupledNewton
        var nesterov: Shampoo<Uniform<Double>>.NesterovForm = .standard
        var start = 3
        var rootInterval = 1
        var statisticsInterval = 1
        var steps = 4
        /// Scale of the imported L (1e160 makes K3's ‖M_r‖_F overflow binary64: Newton fails).
        var statisticScale = 1.0
        var fallback: FallbackPolicy = .keepPrevious
        /// Scale of the gradients (300 makes the plain ‖G‖_F, ‖D‖_F overflow fp16).
        var gradientScale = 1.0
        var description: String { name }
    }

    static let configs: [Config] = [
        Config(name: "SGD graft and its momentum until step 3, Newton"),
        Config(name: "AdaGrad graft until step 2, eigen route, roots every 2 steps", graft: .adagrad, route: .eigen, start: 2, rootInterval: 2),
        Config(name: "SGD graft, eigen route, in-place Nesterov, statistics every 2 steps", route: .eigen, nesterov: .referenceInPlace,
               start: 1, statisticsInterval: 2),
        Config(name: "AdaGrad graft, Newton, in-place Nesterov", graft: .adagrad, nesterov: .referenceInPlace, start: 2),
    ]

    static let dOut = 3, dIn = 4, batch = 5

    /// Reference defaults except: β2 = 0.9 (EMA), weight decay, a relative ridge 1e-3 large enough that its
    /// placement matters, and the Newton tolerance `max(1e-6, √u)`: the reference's 1e-6 where T can
    /// reach it (Double), √u where it cannot (Float, §6.5), so that the run and the MPFR transcription
    /// stop at the same iteration (checked by the transcription's margin).
    static func hyperparameters<T: Scalar>(_ c: Config, _: T.Type) -> H {
        var h = H()
        h.newtonTolerance = max(1e-6, T.unitRoundoff.squareRoot())
        h.learningRate = 0.3; h.momentum = 0.9; h.beta2 = 0.9; h.weightDecay = 0.02; h.diagonalEpsilon = 1e-6
        h.matrixEpsilon = 1e-3
        h.startPreconditioningStep = c.start; h.preconditioningComputeSteps = c.rootInterval
        h.statisticsComputeSteps = c.statisticsInterval; h.graftType = c.graft; h.nesterov = true
        h.nesterovForm = c.nesterov; h.rootMethod = c.route; h.fallback = c.fallback; h.expensiveMonitors = false
        return h
    }

    static func retyped<T: Scalar>(_ d: H, _: T.Type) -> Shampoo<Uniform<T>>.Hyperparameters {
        var h = Shampoo<Uniform<T>>.Hyperparameters()
        h.learningRate = d.learningRate; h.momentum = d.momentum; h.beta2 = d.beta2; h.weightDecay = d.weightDecay
        h.diagonalEpsilon = d.diagonalEpsilon; h.matrixEpsilon = d.matrixEpsilon; h.startPreconditioningStep = d.startPreconditioningStep
        h.preconditioningComputeSteps = d.preconditioningComputeSteps; h.statisticsComputeSteps = d.statisticsComputeSteps
        h.graftType = .init(rawValue: d.graftType.rawValue)!; h.nesterov = d.nesterov; h.nesterovForm = .init(rawValue: d.nesterovForm.rawValue)!
        h.rootMethod = .init(rawValue: d.rootMethod.rawValue)!; h.fallback = d.fallback; h.expensiveMonitors = false
        h.newtonTolerance = d.newtonTolerance
        return h
    }

    static func gradient<T: Scalar>(_ t: Int, _: T.Type, scale: Double = 1) -> LayerStatistics<T> {
        var g = SplitMix64(seed: 300 + UInt64(t))
        let a = Matrix<Double>(rows: dIn, columns: batch) { i, _ in i == dIn - 1 ? 1 : g.nextGaussian() }
        let gh = Matrix<Double>(rows: dOut, columns: batch) { _, _ in scale * g.nextGaussian() }
        let grad = Matrix<Double>(rows: dOut, columns: dIn) { i, j in (0..<batch).reduce(0.0) { $0 + gh[i, $1] * a[j, $1] } / Double(batch) }
        return LayerStatistics(inputs: a.converted(to: T.self), outputGradients: gh.converted(to: T.self), gradient: grad.converted(to: T.self))
    }

    struct State { var l, r, lh, rh, s, bm, bg, w: Enclosure }

    /// Imported state: statistics `scale·S_L`, `S_R`; roots `S'` (not those of the statistics, and ≠ I);
    /// S = I + 0.15(Z + Zᵀ) (positive definite for these seeds: checked); buffers 0.1Z; AdaGrad S = Z⊙Z;
    /// W = Z. All rounded to T.
    static func start<T: Scalar>(_ c: Config, _: T.Type) -> (OptimizerState, [Matrix<T>], State) {
        var g = SplitMix64(seed: 23)
        func round(_ m: Matrix<Double>) -> Matrix<Double> { m.converted(to: T.self).converted(to: Double.self) }
        func spd(_ d: Int, _ s: Double) -> Matrix<Double> {
            let z = Matrix<Double>(rows: d, columns: d) { _, _ in g.nextGaussian() }
            return round(Matrix(rows: d, columns: d) { i, j in s * ((i == j ? 1 : 0) + 0.15 * (z[i, j] + z[j, i])) })
        }
        func gaussian(_ s: Double) -> Matrix<Double> { round(Matrix(rows: dOut, columns: dIn) { _, _ in s * g.nextGaussian() }) }
        let l = spd(dOut, c.statisticScale), r = spd(dIn, 1), lh = spd(dOut, 1), rh = spd(dIn, 1)
        for m in [l, r, lh, rh] { #expect(Independent.isPositiveDefinite(m.converted(to: B.self))) }
        let bm = gaussian(0.1), bg = gaussian(0.1), w = gaussian(1)
        let z = gaussian(1), acc = round(Matrix(rows: dOut, columns: dIn) { z[$0, $1] * z[$0, $1] })
        var s = OptimizerState(optimizer: "shampoo", layerShapes: [.init(rows: dOut, columns: dIn)])
        s.matrices = ["statistics_L": [l], "statistics_R": [r], "roots_L": [lh], "roots_R": [rh], "momentum": [bm],
                      "graft_momentum": [bg], "graft_accumulators": c.graft == .adagrad ? [acc] : []]
        s.integers = ["guard_stops": [0], "raw_layers": []]
        let state = State(l: .init(exact: l), r: .init(exact: r), lh: .init(exact: lh), rh: .init(exact: rh),
                          s: .init(exact: c.graft == .adagrad ? acc : Matrix(rows: dOut, columns: dIn)),
                          bm: .init(exact: bm), bg: .init(exact: bg), w: .init(exact: w))
        return (s, [w.converted(to: T.self)], state)
    }

    /// Whether K3's root of the statistic is usable in T: the Newton route needs `‖M_r‖_F²` (formed
    /// unscaled, as K3 writes `‖M_r‖_F`) inside the format's range, else `z = (1 + p)/(2‖M_r‖_F)` is 0.
    static func rootIsUsable<T: Scalar>(_ m: Enclosure, config c: Config, _: T.Type) -> Bool {
        guard c.route == .coupledNewton else { return true }
        let r = RoundingModel(T.self)
        var low = B(0), high = B(0)
        for (x, e) in zip(m.v.elements, m.e.elements) { low += max(x.magnitude - e, 0) * max(x.magnitude - e, 0); high += (x.magnitude + e) * (x.magnitude + e) }
        // ‖M_r‖_F ≤ ‖M‖_F(1 + ε√n) with the ridge ε·λ_max ≤ ε‖M‖_F on the diagonal; the sum's own rounding
        let epsilon = B(T(hyperparameters(c, T.self).matrixEpsilon).doubleValue), spread = 1 + epsilon * B.sqrt(B(Double(m.rows)))
        high = high * spread * spread * (1 + r.gamma(m.rows * m.rows + 1))
        let big = B(T.greatestFiniteMagnitude.doubleValue)
        precondition(low * (1 - r.gamma(m.rows * m.rows + 1)) > big || high < big, "‖M_r‖_F² within rounding of the overflow threshold")
        return high < big
    }

    /// The independent root of one statistic for the reported ridge, as an enclosure (see the suite's
    /// comment for the bound).
    static func root<T: Scalar>(_ m: Enclosure, ridge: Double, config c: Config, _: T.Type) -> Enclosure {
        let r = RoundingModel(T.self)
        let n = m.rows
        var fro2 = B(0)
        for x in m.v.elements { fro2 += x * x }
        let ridgeB = B(ridge)
        let mr = Matrix<B>(rows: n, columns: n) { i, j in m.v[i, j] + (i == j ? ridgeB : 0) }
        // the ridge is ε times a Rayleigh quotient of the stored statistic (power iteration or the
        // largest computed eigenvalue): inside ε·[λ_min, λ_max] up to the statistic's error and the
        // quotient's own rounding γ_{2n+4}‖M‖_F
        let (lo, hi) = IndependentSPD.extremeEigenvalues(m.v)
        var eF = B(0)
        for x in m.e.elements { eF += x * x }
        eF = B.sqrt(eF)
        let epsilon = B(T(hyperparameters(c, T.self).matrixEpsilon).doubleValue)
        let slack = r.gamma(2 * n + 4) * B.sqrt(fro2) + eF
        #expect(ridgeB >= epsilon * (lo - slack) * (1 - r.u) && ridgeB <= epsilon * (hi + slack) * (1 + r.u) * (1 + r.u),
                "ridge \(ridge) outside ε·[\(lo.doubleValue), \(hi.doubleValue)]")
        let (mrMin, mrMax) = IndependentSPD.extremeEigenvalues(mr)
        let kappa = mrMax / mrMin
        let reference: Matrix<B>, delta: B
        switch c.route {
        case .eigen:
            reference = Independent.inverseFourthRoot(mr)
            let b = B(12 * 60 * Double(n - 1)), nn = B(Double(n))
            delta = kappa * r.u * (b + 4 * (b + 3 + nn * nn * (1 + nn * r.u)))
        case .coupledNewton:
            let h = hyperparameters(c, T.self)
            let newton = IndependentSPD.newton(m.v, ridge: ridgeB, p: 4, tolerance: h.newtonTolerance, maxIterations: h.newtonMaxIterations)
            reference = newton.root
            delta = 4 * B(Double(max(1, newton.iterations))) * B(Double(n)) * r.gamma(n) * kappa
            precondition(B(newton.margin) * B(h.newtonTolerance) > delta, "a Newton stopping test is within rounding of its threshold")
        }
        precondition(mrMin > eF, "statistic error comparable to λ_min")
        let perturbation = eF / (4 * B.root(B.pow(mrMin - eF, 5), 4))
        let width = delta * Independent.frobenius(reference) + perturbation
        return Enclosure(v: reference, e: Matrix(rows: n, columns: n) { _, _ in width })
    }

    /// Whether the plain `Σx²` of any computed X in the enclosure must overflow T (`true`), cannot
    /// (`false`), or may (`nil`): the sum of the squares of the largest (smallest) magnitudes, with the
    /// sum's own rounding γ_{n+1}, against the largest finite value. The terms are non-negative, so the
    /// sum overflows exactly when its total does, whatever the order.
    static func plainNormOverflows<T: Scalar>(_ x: Enclosure, _: T.Type) -> Bool? {
        let r = RoundingModel(T.self)
        var low = B(0), high = B(0)
        for i in 0..<x.rows { for j in 0..<x.columns {
            let lo = max(x.v[i, j].magnitude - x.e[i, j], 0), hi = x.magnitude(i, j)
            low += lo * lo; high += hi * hi
        } }
        let big = B(T.greatestFiniteMagnitude.doubleValue), g = r.gamma(x.rows * x.columns + 1)
        if low * (1 - g) > big { return true }
        return high * (1 + g) < big ? false : nil
    }

    /// One step of §6.4 (1–12). `ridges` are the ridges the optimizer reported at this step;
    /// `raw` whether the layer is on the raw gradient (fallback policy). Returns the new state, whether
    /// each side's root was usable, and the new `raw`.
    static func oracleStep<T: Scalar>(_ s: State, _ x: LayerStatistics<T>, t: Int, ridges: (Double?, Double?), raw: Bool,
                                      config c: Config, _: T.Type) -> (State, [Bool], Bool) {
        let r = RoundingModel(T.self)
        let h = hyperparameters(c, T.self)
        func constant(_ v: Double) -> ScalarEnclosure { ScalarEnclosure(exact: T(v).doubleValue) }
        let one = ScalarEnclosure(exact: 1)
        var n = s, usable = [true, true], rawNext = raw
        let g = Enclosure(exact: x.gradient)
        // 2. AdaGrad: S ← S + G⊙G
        if c.graft == .adagrad {
            let square = Enclosure(v: g.v.map { $0 * $0 }, e: g.v.map { r.u * $0 * $0 })    // G exact: one rounding
            n.s = r.add(s.s, square)
        }
        // 3. L ← β2L + (1 − β2)GGᵀ, R likewise (1 − β2 formed exactly, then rounded: §1.3)
        if t % c.statisticsInterval == 0 {
            let b2 = constant(h.beta2), w = constant(1 - h.beta2)
            n.l = r.axpby(b2, s.l, w, r.product(g, g.transposed))
            n.r = r.axpby(b2, s.r, w, r.product(g.transposed, g))
        }
        // 4. roots (the fallback keeps the previous root of a failed side; raw-gradient flags the layer)
        if t % c.rootInterval == 0 {
            usable = [rootIsUsable(n.l, config: c, T.self), rootIsUsable(n.r, config: c, T.self)]
            // the reported ridge is needed for the reference; a side the optimizer did not report is
            // caught by the caller's comparison of `usable` with the reports
            if usable[0], let ridge = ridges.0 { n.lh = root(n.l, ridge: ridge, config: c, T.self) }
            if usable[1], let ridge = ridges.1 { n.rh = root(n.r, ridge: ridge, config: c, T.self) }
            let ok = usable.allSatisfy { $0 }
            if ok { rawNext = false } else if c.fallback == .rawGradient { rawNext = true }
        }
        // 5. graft direction
        var dg = g
        if c.graft == .adagrad {
            let eps = constant(h.diagonalEpsilon)
            for i in 0..<dOut { for j in 0..<dIn {
                let q = r.divide(ScalarEnclosure(v: g.v[i, j], e: 0), r.add(r.squareRoot(ScalarEnclosure(v: n.s.v[i, j], e: n.s.e[i, j])), eps))
                dg.v[i, j] = q.v; dg.e[i, j] = q.e
            } }
        }
        // 6. D ← L̂GR̂ from the start step on (raw gradient while the layer is flagged)
        let preconditioned = t >= c.start
        var d = preconditioned && !rawNext ? r.product(n.lh, r.product(g, n.rh)) : g
        // 7. grafting D ← D·‖D_g‖_F/(‖D‖_F + 1e-16); a norm whose plain sum of squares overflows T is
        // evaluated as m·‖X/m‖_F (two more roundings)
        func norm(_ x: Enclosure) -> ScalarEnclosure {
            let overflows = plainNormOverflows(x, T.self)
            precondition(overflows != nil, "Σx² within rounding of the overflow threshold: change the data")
            return r.frobenius(x, extraRoundings: overflows! ? 2 : 0)
        }
        d = r.scale(d, r.divide(norm(dg), r.add(norm(d), constant(1e-16))))
        // 8. weight decay on both directions
        let wd = constant(h.weightDecay)
        d = r.axpby(one, d, wd, s.w); dg = r.axpby(one, dg, wd, s.w)
        // 9. B ← μB + D;  B_g ← μB_g + G
        let mu = constant(h.momentum)
        n.bm = r.axpby(mu, s.bm, one, d); n.bg = r.axpby(mu, s.bg, one, g)
        // 10–11. Nesterov (standard: the buffer stays; in place: the buffer becomes the update)
        var update = r.axpby(mu, preconditioned ? n.bm : n.bg, one, preconditioned ? d : dg)
        if c.nesterov == .referenceInPlace { if preconditioned { n.bm = update } else { n.bg = update } }
        // 12. W ← W − η·upd
        update = r.scale(update, constant(-h.learningRate))
        n.w = r.add(s.w, update)
        return (n, usable, rawNext)
    }

    func run<T: Scalar>(_ c: Config, _: T.Type) throws {
        let (imported, w0, start) = Self.start(c, T.self)
        var opt = Shampoo<Uniform<T>>(Self.retyped(Self.hyperparameters(c, T.self), T.self))
        try opt.importState(imported)
        var w = w0, truth = start, raw = false
        for t in 1...c.steps {
            let x = Self.gradient(t, T.self, scale: c.gradientScale)
            let report = try opt.step(weights: &w, layers: [x], step: t)
            let ridges = (report.monitors.first { $0.name == "ridge_L" }?.value, report.monitors.first { $0.name == "ridge_R" }?.value)
            let (next, usable, rawNext) = Self.oracleStep(truth, x, t: t, ridges: ridges, raw: raw, config: c, T.self)
            let previous = truth
            truth = next; raw = rawNext
            if t % c.rootInterval == 0 {
                // a side is usable exactly when the optimizer reported its ridge; the fallback event comes with a failure
                #expect(usable == [ridges.0 != nil, ridges.1 != nil], "\(c.name) step \(t): oracle usable \(usable), ridges \(ridges)")
                let fallbacks = report.events.filter { $0.kind == .fallback }.count
                let failures = report.events.filter { $0.kind == .nonFinite }.count
                #expect(fallbacks == (usable.allSatisfy { $0 } ? 0 : 1) && failures == usable.filter { !$0 }.count,
                        "\(c.name) step \(t): \(fallbacks) fallback, \(failures) non-finite events; oracle usable \(usable)")
            }
            var checks: [(String, Enclosure, Enclosure, Matrix<T>)] = [
                ("L", truth.l, previous.l, opt.statisticsL[0]), ("R", truth.r, previous.r, opt.statisticsR[0]),
                ("L̂", truth.lh, previous.lh, opt.rootsL[0]), ("R̂", truth.rh, previous.rh, opt.rootsR[0]),
                ("B", truth.bm, previous.bm, opt.momentumBuffers[0]), ("B_g", truth.bg, previous.bg, opt.graftMomentumBuffers[0]),
                ("W", truth.w, previous.w, w[0]),
            ]
            if c.graft == .adagrad { checks.append(("S", truth.s, previous.s, opt.graftAccumulators[0])) }
            for (label, enclosure, before, computed) in checks {
                let worst = enclosure.worstRatio(computed)
                #expect(worst.ratio <= 1, """
                    \(T.formatName) \(c.name) step \(t) \(label)[\(worst.i), \(worst.j)]: computed \(worst.computed), \
                    exact \(worst.exact), bound \(worst.bound) (ratio \(worst.ratio))
                    """)
                #expect(enclosure.resolvesChange(from: before) != false, "\(c.name) step \(t) \(label): envelope wider than the step's change")
            }
        }
    }

    @Test(arguments: configs)
    func everyStateMatchesSection6_4InDouble(config: Config) throws { try run(config, Double.self) }

    @Test(arguments: configs)
    func everyStateMatchesSection6_4InFloat(config: Config) throws { try run(config, Float.self) }

    /// Root failure (K3, §1.4): L is imported at scale 1e160 (finite), so K3's `‖M_r‖_F` overflows
    /// binary64 and the coupled Newton iteration cannot start (`z = 0`): the root of L is unusable at
    /// every refresh, while R's is fine. The fallback policy decides what follows, with a `non-finite`
    /// and a `fallback` event each step: keep-previous keeps the imported L̂ and still preconditions;
    /// raw-gradient uses the (grafted) raw gradient for the layer. Four steps against the oracle.
    @Test(arguments: [FallbackPolicy.keepPrevious, .rawGradient])
    func newtonFailureTakesTheConfiguredFallback(policy: FallbackPolicy) throws {
        let c = Config(name: "Newton fails on L (\(policy.rawValue))", start: 1, statisticScale: 1e160, fallback: policy)
        try run(c, Double.self)
    }

    /// Grafting in fp16 with gradients of entries up to ~10³ (§6.4 step 7, §6.5): the plain ‖D_g‖_F = ‖G‖_F
    /// and ‖D‖_F = ‖L̂GR̂‖_F overflow (Σx² > 65504, checked by the oracle) although both norms are
    /// representable, which made the grafting factor ∞/∞ = NaN. The norms are evaluated as m·‖X/m‖_F
    /// (m = ‖X‖_max); the oracle bounds that evaluation with two more roundings. Statistics and roots are
    /// not refreshed (intervals 100: the imported L̂, R̂ precondition), so every state stays within fp16's
    /// range; three steps against the MPFR oracle, the first two on the graft momentum.
    @Test func graftingNormsDoNotOverflowFloat16() throws {
        let c = Config(name: "fp16 grafting with ‖G‖_F² > 65504", start: 3, rootInterval: 100, statisticsInterval: 100, steps: 3,
                       gradientScale: 300)
        let g = Enclosure(exact: Self.gradient(1, Float16.self, scale: c.gradientScale).gradient)
        #expect(Self.plainNormOverflows(g, Float16.self) == true, "the plain ‖G‖_F must overflow fp16 for this test to say something")
        try run(c, Float16.self)
    }
}
