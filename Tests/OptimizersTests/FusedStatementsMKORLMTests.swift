import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// MKOR (§8.4, §8.5, K4) and KFAC-LM (§4.4 steps 4'–5') under the `fused` elementwise model (§1.3 item 2),
/// with the same meaning as `FusedStatements`: bit for bit `per-op` for fp64 and MPFR, and for bf16/fp16
/// every statement evaluated in Float and rounded once — expected values written here from the
/// statements with Swift's `Float` arithmetic (`f`, `once`), not through the library's `Statement`.
@Suite struct MKORAndLMStatements {
    typealias S = FusedStatements
    static func fl<T: Scalar>(_ x: T) -> Float { S.fl(x) }
    static func once<T: Scalar>(_ x: Float) -> T { S.once(x) }

    // MARK: wide types

    static func wideTypesCheck<T: Scalar>(_: T.Type) throws {
        typealias P = Uniform<T>
        let g: (Int) -> LayerStatistics<T> = { S.gaussian($0, T.self) }
        for variant in MKORVariant.allCases {
            for inner in [MKOR<P>.InnerOptimizer.sgd(.init(learningRate: 0.1, momentum: 0.9)), .adam(.init(learningRate: 1e-2))] {
                try S.fusedEqualsPerOp(T.self, stats: g, { s in
                    var h = MKOR<P>.Hyperparameters(); h.variant = variant; h.inverseInterval = 1; h.inner = inner; h.expensiveMonitors = false
                    return try MKOR<P>(h, settings: s)
                }, "\(variant.rawValue) \(inner)")
            }
        }
        // KFAC-LM needs the batch's curvature: F = 2I and the loss ‖θ‖² (constructed, in T)
        let curvature = CurvatureAccess<T>(loss: { w in w[0].elements.reduce(T.zero) { $0 + $1 * $1 } },
                                           ggnProduct: { _, v in v.map { $0.scaled(by: 2) } })
        var h = KFAC<P>.Hyperparameters(); h.finish = .lm; h.weightDecay = 1e-2; h.expensiveMonitors = false
        var perOp = KFAC<P>(h, settings: .init(elementwise: .perOperation)), fused = KFAC<P>(h, settings: .init(elementwise: .fused))
        var wa = [S.start(T.self)], wb = wa
        for t in 1...3 {
            let ra = try perOp.step(weights: &wa, layers: [g(t)], step: t, curvature: curvature)
            _ = try fused.step(weights: &wb, layers: [g(t)], step: t, curvature: curvature)
            #expect(!ra.aborted && ra.monitors.contains { $0.name == "lm_mu" && $0.value != 0 } == (t > 1), "kfac-lm step \(t): μ ≠ 0 from step 2")
            S.expectSame(wa[0], wb[0], "kfac-lm: weights after step \(t)")
        }
    }

    @Test func fusedIsPerOpBitForBitInDouble() throws { try Self.wideTypesCheck(Double.self) }

    @Test func fusedIsPerOpBitForBitInMPFR() throws { try Self.wideTypesCheck(BigFloat256.self) }

    /// Per-op, MKOR's Sherman–Morrison (now written with `Statement`) is the library kernel operation for
    /// operation: the factors equal `ShermanMorrison.update` / `.scaledUpdate` applied to the same inputs, bit for bit.
    @Test func perOpShermanMorrisonIsTheLibraryKernel() throws {
        typealias T = BFloat16
        for variant in MKORVariant.allCases {
            var h = MKOR<Uniform<T>>.Hyperparameters(); h.variant = variant; h.inverseInterval = 1; h.expensiveMonitors = false
            var opt = try MKOR<Uniform<T>>(h)
            let e = try ShermanMorrison.emaConstants(decay: h.statDecay)
            var rng = SplitMix64(seed: 77)
            var compared = 0
            for t in 1...5 {
                let r = (0..<4).map { _ in T(0.5 * rng.nextGaussian()) }, q = (0..<3).map { _ in T(0.5 * rng.nextGaussian()) }
                let before = (opt.inverseR.first, opt.inverseL.first), resets = opt.resetCounts.first ?? 0
                let flagged = opt.resetFlags.first.map { $0.r || $0.l } ?? true
                _ = try opt.updateFactors(inputMean: r, outputMean: q, step: t)
                // a reset (code) or stabiliser (EMA) in or before this update: not a plain update to compare
                guard let xr = before.0, let xl = before.1, opt.resetCounts[0] == resets, !(variant == .code && flagged) else { continue }
                for (x, v, new) in [(xr, r, opt.inverseR[0]), (xl, q, opt.inverseL[0])] {
                    switch variant {
                    case .ema:
                        let lib = try ShermanMorrison.scaledUpdate(x, v, scale: T(e.scale), correctionScale: T(e.correctionScale),
                                                                   weight: T(e.weight), accumulation: .perOperation)
                        S.expectSame(new, lib.inverse, "mkor-ema step \(t)"); compared += 1
                    case .code:
                        let p = Matrix<T>(rows: x.rows, columns: x.rows) { i, j in i == j ? T(0.95) * x[i, j] + T(1 - 0.95) : T(0.95) * x[i, j] }
                        S.expectSame(new, try ShermanMorrison.update(p, v, accumulation: .perOperation).inverse, "mkor step \(t)"); compared += 1
                    }
                }
            }
            #expect(compared >= 6, "\(variant.rawValue): only \(compared) updates compared")
        }
    }

    // MARK: narrow types: the statement in Float, rounded once

    /// MKOR's factor statements (§8.4 code, §8.5 EMA; K4) over four updates of a 4×4 `R⁻` and a 3×3 `L⁻`.
    /// The vectors have two non-zero entries, each a power of two, so that the reductions `u = Pv`,
    /// `w = vᵀP`, `s = w·v` are two exact products and one rounding in `T` (any summation order, with or
    /// without FMA): every other rounding is a statement's. Statements:
    /// * code: `P = 0.95X + 0.05I` (diagonal `a·x + b` one statement, off-diagonal `a·x` one operation);
    ///   `den = 1 + s` (one operation); `X_ij = P_ij − (u_i w_j)/den`;
    /// * EMA: `den = 1 + ((1−γ)/γ)·s`; `X_ij = (1/γ)X_ij − (((1−γ)/γ²)(u_i w_j))/den`.
    /// The first code update only resets (flags start set). No reset or stabiliser fires (checked).
    static func mkorCheck<T: Scalar>(_: T.Type, variant: MKORVariant) throws {
        var h = MKOR<Uniform<T>>.Hyperparameters(); h.variant = variant; h.inverseInterval = 1; h.expensiveMonitors = false
        var opt = try MKOR<Uniform<T>>(h, settings: .init(elementwise: .fused))
        let gamma = h.statDecay
        let (keep, identity) = (fl(T(0.95)), fl(T(1 - 0.95)))
        let (scale, correction, weight) = (fl(T(1 / gamma)), fl(T((1 - gamma) / (gamma * gamma))), fl(T((1 - gamma) / gamma)))
        func vector(_ d: Int, _ t: Int, _ a: Double, _ b: Double) -> [T] {
            (0..<d).map { i in i == t % d ? T(a) : (i == (t + 1) % d ? T(b) : 0) }
        }
        func update(_ x: Matrix<T>, _ v: [T]) -> Matrix<T> {
            let d = x.rows
            let p: Matrix<T> = variant == .ema ? x : Matrix(rows: d, columns: d) { i, j in
                i == j ? once(keep * fl(x[i, j]) + identity) : T(0.95) * x[i, j]
            }
            let nz = (0..<d).filter { v[$0] != 0 }
            let u = (0..<d).map { i in p[i, nz[0]] * v[nz[0]] + p[i, nz[1]] * v[nz[1]] }
            let w = (0..<d).map { j in p[nz[0], j] * v[nz[0]] + p[nz[1], j] * v[nz[1]] }
            let s = w[nz[0]] * v[nz[0]] + w[nz[1]] * v[nz[1]]
            let den: T = variant == .ema ? once(1 + weight * fl(s)) : 1 + s
            return Matrix(rows: d, columns: d) { i, j in
                variant == .ema ? once(scale * fl(p[i, j]) - (correction * (fl(u[i]) * fl(w[j]))) / fl(den))
                                : once(fl(p[i, j]) - fl(u[i]) * fl(w[j]) / fl(den))
            }
        }
        var xr = Matrix<T>.identity(4), xl = Matrix<T>.identity(3)
        for t in 1...4 {
            let r = vector(4, t, 1, -0.5), q = vector(3, t, 0.5, 2)
            _ = try opt.updateFactors(inputMean: r, outputMean: q, step: t)
            if variant == .ema || t > 1 { xr = update(xr, r); xl = update(xl, q) }
            #expect(opt.resetCounts[0] == 0, "\(variant.rawValue): a reset or stabiliser fired at step \(t)")
            S.expectSame(opt.inverseR[0], xr, "\(variant.rawValue) R⁻, step \(t)")
            S.expectSame(opt.inverseL[0], xl, "\(variant.rawValue) L⁻, step \(t)")
        }
    }

    @Test func mkorFusedIsFloatRoundedOnce() throws {
        for variant in MKORVariant.allCases {
            try Self.mkorCheck(BFloat16.self, variant: variant)
            try Self.mkorCheck(Float16.self, variant: variant)
        }
    }

    /// KFAC-LM's weight statements (§4.4 steps 4'–5'): `∇h = ∇L + η_wd·θ`, `δ = α·Δ + μ·δ0`, `θ ← θ + δ`.
    /// To make Δ known exactly, the inputs Ā are so large that ĀĀᵀ/N overflows the format, the damped
    /// inverse fails at every refresh and the fallback `raw-gradient` makes Δ = ∇h (checked by the event).
    /// α and μ (scalars of the rule, per-op in `Inverses` = T) are read from the step's monitors; δ0 is
    /// the optimizer's δ_prev before the step. Constructed curvature: F = diag(1 + i + 2j), loss ‖θ‖².
    static func lmCheck<T: Scalar>(_: T.Type) throws {
        var h = KFAC<Uniform<T>>.Hyperparameters()
        h.finish = .lm; h.weightDecay = 1e-2; h.fallback = .rawGradient; h.expensiveMonitors = false
        var opt = KFAC<Uniform<T>>(h, settings: .init(elementwise: .fused))
        // F = diag(1 + i + 2j) on vec(θ), not a multiple of I: with F ∝ I and Δ = ∇h the model's optimal μ is
        // exactly 0 (the minimiser lies along ∇h), and the δ0 term would never be exercised
        let curvature = CurvatureAccess<T>(loss: { w in w[0].elements.reduce(T.zero) { $0 + $1 * $1 } },
                                           ggnProduct: { _, v in v.map { x in Matrix(rows: x.rows, columns: x.columns) { i, j in x[i, j] * T(Double(1 + i + 2 * j)) } } })
        let eta = fl(T(1e-2))
        let huge = T.greatestFiniteMagnitude.doubleValue.squareRoot() * 4
        var w = [S.start(T.self)]
        var exercised = 0          // steps with μ ≠ 0 (μ may round to 0 in bf16/fp16 at some step)
        for t in 1...4 {
            let g = S.gaussian(t, T.self)
            let s = LayerStatistics(inputs: g.inputs.map { _ in T(huge) }, outputGradients: g.outputGradients, gradient: g.gradient)
            let previous = opt.levenbergMarquardtState.previousStep.first
            let before = w[0]
            let report = try opt.step(weights: &w, layers: [s], step: t, curvature: curvature)
            // the inverses refresh at t = 1 only (T_inv, T2 > 4): the layer stays on the raw gradient after it
            #expect(t > 1 || report.events.contains { $0.kind == .fallback && $0.detail.contains("raw gradient") }, "step \(t): no raw-gradient fallback in \(report.events)")
            let alpha = fl(T(report.monitors.last { $0.name == "lm_alpha" }!.value))
            let mu = fl(T(report.monitors.last { $0.name == "lm_mu" }!.value))
            #expect(t > 1 || mu == 0, "step 1: μ = \(mu) without δ0")
            if mu != 0 { exercised += 1 }
            let gradH = Matrix<T>(rows: 3, columns: 4) { i, j in once(fl(g.gradient[i, j]) + eta * fl(before[i, j])) }
            let delta = Matrix<T>(rows: 3, columns: 4) { i, j in
                guard let previous, mu != 0 else { return T(Double(alpha)) * gradH[i, j] }
                return once(alpha * fl(gradH[i, j]) + mu * fl(previous[i, j]))
            }
            S.expectSame(opt.levenbergMarquardtState.previousStep[0], delta, "KFAC-LM δ, step \(t)")
            S.expectSame(w[0], Matrix(rows: 3, columns: 4) { before[$0, $1] + delta[$0, $1] }, "KFAC-LM weights, step \(t)")
        }
        #expect(exercised >= 2, "δ = αΔ + μδ0 exercised at only \(exercised) steps in \(T.formatName)")
    }

    @Test func kfacLMFusedIsFloatRoundedOnce() throws {
        try Self.lmCheck(BFloat16.self)
        try Self.lmCheck(Float16.self)
    }
}
