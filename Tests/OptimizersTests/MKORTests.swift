import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// Shared by the optimizer suites: a tiny layer's statistics and the small MLP every descent test trains.
enum SmallTraining {
    /// Statistics of a tiny layer (3×4, N = 5) whose per-sample output gradients are multiplied by
    /// `gradientScale` (so that some entries exceed MKOR's ±100 clamp).
    static func layer(seed: UInt64, gradientScale: Double = 1) -> (abar: Matrix<Double>, ghat: Matrix<Double>, grad: Matrix<Double>) {
        let (abar, ghat0, _, _) = Independent.layer(seed: seed)
        let ghat = ghat0.map { $0 * gradientScale }
        return (abar, ghat, DenseOracle.product(ghat, Independent.transpose(abar)).map { $0 / Double(abar.columns) })
    }

    static func stats<T: Scalar>(_ l: (abar: Matrix<Double>, ghat: Matrix<Double>, grad: Matrix<Double>), as _: T.Type = T.self) -> LayerStatistics<T> {
        LayerStatistics(inputs: l.abar.converted(to: T.self), outputGradients: l.ghat.converted(to: T.self), gradient: l.grad.converted(to: T.self))
    }

    /// The small tanh MLP every descent test trains (teacher classification, 8-16-4, batch 32, Double,
    /// the same start), for `steps` steps: `step` gets the weights, the batch's statistics, the step
    /// number and the batch's curvature access. Full-batch loss before and after.
    static func train(steps: Int = 50,
                      step: (inout [Matrix<Double>], [LayerStatistics<Double>], Int, CurvatureAccess<Double>) throws -> Void) throws -> (initial: Double, final: Double) {
        let data = Synthetic.teacherClassification(samples: 256, dimension: 8, classes: 4, condition: 10, seed: 1)
        let spec = try MLPSpec(widths: [8, 16, 4], activation: .tanh, loss: .crossEntropy)
        var net = MLP<Double>(spec: spec, seed: 2, accumulation: .perOperation)
        let schedule = try BatchSchedule(sampleCount: 256, batchSize: 32, seed: 3)
        let full = Batch<Double>(data, indices: Array(0..<256))
        let initial = try net.backward(full.inputs, targets: full.targets).loss
        for t in 1...steps {
            let batch = Batch<Double>(data, indices: schedule.indices(step: t))
            let r = try net.backward(batch.inputs, targets: batch.targets)
            let curvature = CurvatureAccess(network: spec, accumulation: .perOperation, inputs: batch.inputs, targets: batch.targets)
            try step(&net.weights, r.layers, t, curvature)
        }
        return (initial, try net.backward(full.inputs, targets: full.targets).loss)
    }
}

/// MKOR (§8) against the specification evaluated independently in MPFR-256: factor updates as the
/// explicit Gauss–Jordan inverse of the factor the recursion represents (K4), never the library's
/// Sherman–Morrison kernel.
@Suite struct MKORAgainstSpecification {
    typealias B = BigFloat256
    typealias Opt = MKOR<Uniform<Double>>

    /// §8.4 / §8.5 steps 1–4 in MPFR for one layer over the given per-step statistics (interval 1).
    static func reference(variant: Opt.Variant, adam: Bool, w0: Matrix<Double>,
                          steps: [(abar: Matrix<Double>, ghat: Matrix<Double>, grad: Matrix<Double>)]) -> (w: Matrix<B>, l: Matrix<B>, r: Matrix<B>, adamAmplification: Double) {
        let (dO, dI) = (w0.rows, w0.columns)
        var xl = Matrix<B>.identity(dO), xr = Matrix<B>.identity(dI)
        var flagR = true, flagL = true
        var w = w0.converted(to: B.self)
        var buffer = Matrix<B>(rows: dO, columns: dI), m = buffer, v2 = buffer, mAbs = buffer
        var amplification = 0.0
        let eye = { (n: Int) in Matrix<B>.identity(n) }
        func clampedMean(_ x: Matrix<Double>) -> [B] {
            (0..<x.rows).map { i in
                var s = B(0)
                for j in 0..<x.columns { s += B(min(100, max(-100, x[i, j]))) }
                return s / B(x.columns)
            }
        }
        func lincomb(_ a: B, _ x: Matrix<B>, _ b: B, _ y: Matrix<B>) -> Matrix<B> {
            Matrix(rows: x.rows, columns: x.columns) { i, j in a * x[i, j] + b * y[i, j] }
        }
        func outer(_ v: [B]) -> Matrix<B> { Matrix(rows: v.count, columns: v.count) { v[$0] * v[$1] } }
        func maxEntry(_ x: Matrix<B>) -> B { x.elements.map { $0.magnitude }.max()! }
        for (k, s) in steps.enumerated() {
            let t = k + 1
            let r = clampedMean(s.abar), q = clampedMean(s.ghat)
            switch variant {
            case .code:
                // R first, then L; a trigger sets both flags
                for side in 0..<2 {
                    let flag = side == 0 ? flagR : flagL
                    var x = side == 0 ? xr : xl
                    let vec = side == 0 ? r : q
                    if flag {
                        x = eye(x.rows)
                        if side == 0 { flagR = false } else { flagL = false }
                    } else {
                        let p = lincomb(B(0.95), x, B(0.05), eye(x.rows))
                        x = DenseOracle.inverse(lincomb(1, DenseOracle.inverse(p), 1, outer(vec)))
                        if maxEntry(x) > 2 { flagR = true; flagL = true }
                    }
                    if side == 0 { xr = x } else { xl = x }
                }
            case .ema:
                for side in 0..<2 {
                    var x = side == 0 ? xr : xl
                    let vec = side == 0 ? r : q
                    if maxEntry(x) > 2 { x = lincomb(B(0.9), x, B(0.1), eye(x.rows)) }
                    x = DenseOracle.inverse(lincomb(B(0.95), DenseOracle.inverse(x), 1 - B(0.95), outer(vec)))
                    if side == 0 { xr = x } else { xl = x }
                }
            }
            let g = s.grad.converted(to: B.self)
            let delta = DenseOracle.product(xl, DenseOracle.product(g, xr))
            var gn = B(0), dn = B(0)
            for (a, b) in zip(g.elements, delta.elements) { gn += a * a; dn += b * b }
            let rescaled = delta.scaled(by: B.sqrt(gn) / B.sqrt(dn))
            if adam {   // §3.2 with η = 1e-3, β = (0.9, 0.999), ε = 1e-8, interpolation form
                m = lincomb(1, m, B(0.1), lincomb(1, rescaled, -1, m))
                // cancellation in m amplifies relative perturbations of the rescaled gradients by Σ|terms|/|m|
                mAbs = lincomb(B(0.9), mAbs, B(0.1), rescaled.map { $0.magnitude })
                for (a, b) in zip(mAbs.elements, m.elements) { amplification = max(amplification, (a / b.magnitude).doubleValue) }
                v2 = lincomb(B(0.999), v2, 1 - B(0.999), rescaled.hadamardB(rescaled))
                let c1 = 1 - B.pow(B(0.9), t), c2 = 1 - B.pow(B(0.999), t)
                w = Matrix(rows: dO, columns: dI) { i, j in w[i, j] - B(1e-3) / c1 * m[i, j] / (B.sqrt(v2[i, j]) / B.sqrt(c2) + B(1e-8)) }
            } else {    // §3.1 with η = 0.1, μ = 0.9
                buffer = t == 1 ? rescaled : lincomb(B(0.9), buffer, 1, rescaled)
                w = lincomb(1, w, -B(0.1), buffer)
            }
        }
        return (w, xl, xr, amplification)
    }

    /// Three steps, inverse interval 1, statistics changing every step, ĝ scaled by 60 so the ±100
    /// clamp fires. Bound (first order, as in the KFAC test): the SM updates, the product
    /// `L⁻∇W R⁻`, the norms and the inner step take at most `m = 3(4d + 10) + 2d + 2·12 + 10` roundings
    /// along any path (d = 4), and a relative perturbation of the factors reaches Δ amplified at most by
    /// κ(L⁻)·κ(R⁻); Adam's `m/√v` further amplifies them by at most `1 + max Σ|terms of m|/|m|`
    /// (cancellation in the first moment; the `√v` part is well conditioned). So
    /// `‖ΔW − ΔW_ref‖/‖ΔW_ref‖ ≤ γ_m · κ(L⁻) κ(R⁻) · (1 + amplification)`.
    @Test(arguments: [(Opt.Variant.code, false), (.ema, true), (.code, true), (.ema, false)])
    func threeStepsMatchSection8(variant: Opt.Variant, adam: Bool) throws {
        var h = Opt.Hyperparameters()
        h.variant = variant; h.inverseInterval = 1
        h.inner = adam ? .adam(.init()) : .sgd(.init(learningRate: 0.1, momentum: 0.9))
        var opt = try Opt(h)
        let w0 = Independent.layer(seed: 20).w
        let steps = (1...3).map { SmallTraining.layer(seed: 20 + UInt64($0), gradientScale: 60) }
        var w = [w0]
        var clampEvents = 0
        for (k, s) in steps.enumerated() {
            let report = try opt.step(weights: &w, layers: [SmallTraining.stats(s)], step: k + 1)
            clampEvents += report.events.filter { $0.kind == .clamp }.count
        }
        let ref = Self.reference(variant: variant, adam: adam, w0: w0, steps: steps)
        let kL = MatrixHealth(ref.l.converted(to: Double.self)).conditionNumber, kR = MatrixHealth(ref.r.converted(to: Double.self)).conditionNumber
        let dw = try w[0].subtracting(w0), dr = try ref.w.converted(to: Double.self).subtracting(w0)
        let rel = Independent.relativeDifference(dw, dr)
        #expect(rel <= Double.gammaBound(3 * (4 * 4 + 10) + 2 * 4 + 24 + 10) * kL * kR * (1 + ref.adamAmplification), "\(variant) adam=\(adam): \(rel), κ_L \(kL), κ_R \(kR)")
        #expect(Independent.relativeDifference(opt.inverseL[0], ref.l) <= Double.gammaBound(3 * (4 * 4 + 10)) * kL)
        #expect(clampEvents > 0)
        #expect(rel <= 1e-12)   // sanity: the bound above is not vacuous here
    }

    /// In exact arithmetic (MPFR-256) both factors of both variants stay positive definite over a
    /// stream of 40 updates with large, changing statistics (Lemma 3.3.1's claim; claim R4 of Docs/Claims.md),
    /// and every Sherman–Morrison denominator exceeds 1.
    @Test(arguments: [Opt.Variant.code, .ema])
    func factorsStayPositiveDefiniteInExactArithmetic(variant: Opt.Variant) throws {
        var h = MKOR<Uniform<B>>.Hyperparameters()
        h.variant = variant; h.inverseInterval = 1; h.expensiveMonitors = false
        var opt = try MKOR<Uniform<B>>(h)
        var w = [Independent.layer(seed: 30).w.converted(to: B.self)]
        var resets = 0
        for t in 1...40 {
            let s = SmallTraining.layer(seed: 100 + UInt64(t), gradientScale: Double(t % 7) * 10 + 0.1)
            let report = try opt.step(weights: &w, layers: [SmallTraining.stats(s)], step: t)
            resets += report.events.filter { $0.kind == .reset }.count
            #expect(Independent.isPositiveDefinite(opt.inverseL[0]) && Independent.isPositiveDefinite(opt.inverseR[0]), "step \(t)")
            for mon in report.monitors where mon.name.hasPrefix("sm_denominator") { #expect(mon.value > 1, "step \(t) \(mon.name)") }
            #expect(!report.events.contains { $0.kind == .shermanMorrisonDenominator }, "step \(t)")
        }
        if variant == .ema { #expect(resets > 0, "the stream should exercise the stabilizer") }
    }
}

@Suite struct MKORBehaviour {
    typealias Opt = MKOR<Uniform<Double>>

    /// The first factor update only resets (flags start set): Δ = ∇W, ν = 1, so step 1 equals the inner
    /// SGD step bit for bit (§8.4: "no rank-one information enters until the second update").
    @Test func firstStepIsTheInnerOptimizer() throws {
        var opt = try Opt()
        var sgd = SGD<Uniform<Double>>(.init(learningRate: 0.1, momentum: 0.9))
        let s = SmallTraining.stats(SmallTraining.layer(seed: 5), as: Double.self)
        var w1 = [Independent.layer(seed: 6).w], w2 = w1
        _ = try opt.step(weights: &w1, layers: [s], step: 1)
        _ = try sgd.step(weights: &w2, layers: [s], step: 1)
        #expect(w1 == w2)
        #expect(opt.inverseL[0] == .identity(3) && opt.inverseR[0] == .identity(4))
    }

    /// MKOR-H (§8.7): constant losses give zero relative decrease; with windows of 2 and patience 1 the
    /// switch is requested after the second window and recorded at the next step; afterwards the factors
    /// no longer change.
    @Test func hybridSwitchIsRecordedOnce() throws {
        var h = Opt.Hyperparameters()
        h.hybrid = .init(windowSteps: 2, threshold: 1e-3, patience: 1); h.inverseInterval = 1
        var opt = try Opt(h)
        #expect(opt.name == "mkor-h")
        let s = SmallTraining.stats(SmallTraining.layer(seed: 7), as: Double.self)
        var w = [Independent.layer(seed: 8).w]
        var switches = [Int]()
        for t in 1...8 {
            opt.observe(loss: 1.0)
            let before = opt.inverseL[safe: 0]
            let r = try opt.step(weights: &w, layers: [s], step: t)
            switches += r.events.filter { $0.kind == .hybridSwitch }.map(\.step)
            if let sw = opt.switchStep, t > sw { #expect(opt.inverseL[0] == before) }
        }
        #expect(switches == [4])
        #expect(opt.switchStep == 4)
    }

    /// A zero gradient makes ν = 0/0: the gradient is kept (the code's NaN check) and the event recorded.
    @Test func zeroGradientIsAZeroNormDivisionEvent() throws {
        var opt = try Opt()
        var s = SmallTraining.stats(SmallTraining.layer(seed: 9), as: Double.self)
        s.gradient = Matrix(rows: 3, columns: 4)
        var w = [Independent.layer(seed: 10).w]
        let w0 = w
        let r = try opt.step(weights: &w, layers: [s], step: 1)
        #expect(r.events.contains { $0.kind == .zeroNormDivision })
        #expect(w == w0)
    }

    /// §8.8 hazard, claim R4 of Docs/Claims.md: in fp16 the clamped mean ĝ of a layer with d_o = 8 outputs is 100
    /// in every entry, so `vᵀPv = 8·10⁴ > 65504` overflows at the first Sherman–Morrison update (step 2;
    /// step 1 only resets). The overflow is recorded as an `sm-denominator` event with value +∞ and the
    /// clamp as a `clamp` event — not a crash.
    @Test func fp16DenominatorOverflowIsAnEvent() throws {
        var h = MKOR<Uniform<Float16>>.Hyperparameters(); h.inverseInterval = 1
        var opt = try MKOR<Uniform<Float16>>(h)
        let (abar, _, _, w0) = Independent.layer(dOut: 8, dIn: 4, n: 5, seed: 11)
        let ghat = Matrix<Double>(rows: 8, columns: 5, repeating: 500)
        let grad = DenseOracle.product(ghat, Independent.transpose(abar)).map { $0 / 5e4 }
        let s = LayerStatistics(inputs: abar.converted(to: Float16.self), outputGradients: ghat.converted(to: Float16.self), gradient: grad.converted(to: Float16.self))
        var w = [w0.converted(to: Float16.self)]
        var events = [OptimizerEvent]()
        for t in 1...2 { events += try opt.step(weights: &w, layers: [s], step: t).events }
        #expect(events.contains { $0.kind == .shermanMorrisonDenominator && $0.step == 2 && $0.value == .infinity })
        #expect(events.contains { $0.kind == .clamp })
    }

    @Test func badHyperparametersNameTheValue() {
        var h = Opt.Hyperparameters(); h.inverseInterval = 0
        #expect { _ = try Opt(h) } throws: { ($0 as? OptimizerConfigurationError)?.field == "inverseInterval" }
        h = .init(); h.statDecay = 1.5
        #expect { _ = try Opt(h) } throws: { "\($0)".contains("1.5") }
    }

    /// Both variants, with SGD or Adam inside, lower the training loss of the small Double MLP in 50 steps.
    @Test(arguments: [(Opt.Variant.code, false), (.ema, false), (.code, true), (.ema, true)])
    func lowersTheTrainingLoss(variant: Opt.Variant, adam: Bool) throws {
        var h = Opt.Hyperparameters()
        h.variant = variant
        if adam { h.inner = .adam(.init(learningRate: 1e-2)) }
        var opt = try Opt(h)
        let (initial, final) = try SmallTraining.train { w, layers, t, _ in
            let r = try opt.step(weights: &w, layers: layers, step: t)
            #expect(!r.events.contains { $0.kind == .nonFinite })
        }
        #expect(final < initial, "\(opt.name) adam=\(adam): \(initial) → \(final)")
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

extension Matrix {
    /// Entrywise product for the MPFR reference (kept here so the reference uses no optimizer code).
    func hadamardB(_ o: Matrix) -> Matrix { Matrix(rows: rows, columns: columns) { self[$0, $1] * o[$0, $1] } }
}
