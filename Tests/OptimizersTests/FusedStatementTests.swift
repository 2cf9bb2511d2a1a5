import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// The `fused` elementwise model (Docs/Optimizers.md §1.3 item 2) means the same for every optimizer:
/// a statement is evaluated in the wider of Float and its storage type and rounded once.
///
/// * For fp64 and MPFR the wider type is the storage type, so `fused` must reproduce `per-op` bit for
///   bit over several steps (a statement evaluated in Float would not).
/// * For bf16 and fp16 every statement must equal the statement evaluated in Float and rounded once
///   into the format. The expected values are written here from the statements of §3.1, §3.2, §4.4,
///   §5.4 and §9.4, each evaluated with Swift's `Float` arithmetic (`f(…)` below) — not through the
///   library's `Statement`. Where a step also contains reductions, the inputs make those exact (dyadic
///   statistics with few bits, identity factors), so that every rounding left is a statement's.
@Suite struct FusedStatements {
    // MARK: independent evaluation

    /// A value of `T` in Float (exact: `T` is contained in Float).
    static func fl<T: Scalar>(_ x: T) -> Float { Float(x.doubleValue) }
    /// A Float result rounded once into `T` (Float → Double is exact).
    static func once<T: Scalar>(_ x: Float) -> T { T(Double(x)) }

    /// Gaussian statistics of a 3×4 layer (N = 5), step `s`.
    static func gaussian<T: Scalar>(_ s: Int, _: T.Type) -> LayerStatistics<T> {
        SmallTraining.stats(SmallTraining.layer(seed: 900 + UInt64(s)), as: T.self)
    }

    /// Dyadic statistics of a 2×4 layer (d_in = 3 plus the ones row, N = 4): entries of Ā and Ĝ in
    /// {0, ±½, ±1}, so ĀĀᵀ/N, ĜĜᵀ/N and ∇W = ĜĀᵀ/N are multiples of 1/16 of magnitude ≤ 1 — exact in
    /// bf16 and fp16 under any summation order (at most 5 significant bits).
    static func dyadic<T: Scalar>(_ s: Int, _: T.Type) -> LayerStatistics<T> {
        var rng = SplitMix64(seed: 700 + UInt64(s))
        let values: [Double] = [0, 0.5, -0.5, 1, -1]
        let abar = Matrix<Double>(rows: 4, columns: 4) { i, _ in i == 3 ? 1 : values[rng.nextInt(below: 5)] }
        let ghat = Matrix<Double>(rows: 2, columns: 4) { _, _ in values[rng.nextInt(below: 5)] }
        let grad = Matrix<Double>(rows: 2, columns: 4) { i, j in (0..<4).reduce(0.0) { $0 + ghat[i, $1] * abar[j, $1] } / 4 }
        return LayerStatistics(inputs: abar.converted(to: T.self), outputGradients: ghat.converted(to: T.self),
                               gradient: grad.converted(to: T.self))
    }

    /// (1/N) X Xᵀ by a plain loop in Double (exact for the dyadic statistics).
    static func gram<T: Scalar>(_ x: Matrix<T>) -> Matrix<Double> {
        Matrix(rows: x.rows, columns: x.rows) { i, j in
            (0..<x.columns).reduce(0.0) { $0 + x[i, $1].doubleValue * x[j, $1].doubleValue } / Double(x.columns)
        }
    }

    static func expectSame<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>, _ what: String) {
        let same = zip(a.elements, b.elements).allSatisfy { sameResult($0.doubleValue, $1.doubleValue) }
        #expect(same && a.rows == b.rows && a.columns == b.columns, "\(what) in \(T.formatName)")
    }

    static func start<T: Scalar>(_: T.Type, rows: Int = 3, columns: Int = 4) -> Matrix<T> {
        var rng = SplitMix64(seed: 31)
        return Matrix<Double>(rows: rows, columns: columns) { _, _ in rng.nextGaussian() }.converted(to: T.self)
    }

    // MARK: wide types: fused is per-op

    /// Runs `make(settings)` for three steps under both settings from the same start and statistics.
    static func fusedEqualsPerOp<T: Scalar, O: Optimizer>(_: T.Type, steps: ClosedRange<Int> = 1...3, rows: Int = 3, columns: Int = 4,
                                                          stats: (Int) -> LayerStatistics<T>, _ make: (ArithmeticSettings) throws -> O,
                                                          _ name: String) throws where O.Policy.Weights == T {
        var perOp = try make(ArithmeticSettings(elementwise: .perOperation))
        var fused = try make(ArithmeticSettings(elementwise: .fused))
        var wa = [start(T.self, rows: rows, columns: columns)], wb = wa
        for t in steps {
            _ = try perOp.step(weights: &wa, layers: [stats(t)], step: t)
            _ = try fused.step(weights: &wb, layers: [stats(t)], step: t)
            expectSame(wa[0], wb[0], "\(name): weights after step \(t)")
        }
    }

    static func wideTypesCheck<T: Scalar>(_: T.Type) throws {
        typealias P = Uniform<T>
        let g: (Int) -> LayerStatistics<T> = { gaussian($0, T.self) }
        try fusedEqualsPerOp(T.self, stats: g, { SGD<P>(.init(learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2), settings: $0) }, "momentum")
        try fusedEqualsPerOp(T.self, stats: g, { SGD<P>(.init(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-2, nesterov: true), settings: $0) }, "nesterov")
        try fusedEqualsPerOp(T.self, stats: g, { Adam<P>(.init(learningRate: 1e-2, weightDecay: 1e-2), settings: $0) }, "adam")
        try fusedEqualsPerOp(T.self, stats: g, { Adam<P>(.init(learningRate: 1e-2, firstMoment: .multiplyAdd), settings: $0) }, "adam multiply-add")
        try fusedEqualsPerOp(T.self, stats: g, { Adam<P>(.adamW, settings: $0) }, "adamw")
        try fusedEqualsPerOp(T.self, stats: g, { s in
            var h = RLLC<P>.Hyperparameters(); h.lawRate = 1e-2; h.expensiveMonitors = false
            return try RLLC<P>(h, settings: s)
        }, "rllc")
        try fusedEqualsPerOp(T.self, stats: g, { s in
            var h = KFAC<P>.Hyperparameters(); h.inverseInterval = 2; h.weightDecay = 1e-2; h.expensiveMonitors = false
            return KFAC<P>(h, settings: s)
        }, "kfac-f")
        try fusedEqualsPerOp(T.self, stats: g, { s in
            var h = SINGD<P>.Hyperparameters(); h.interval = 1; h.weightDecay = 1e-2; h.expensiveMonitors = false
            return SINGD<P>(h, settings: s)
        }, "singd")
        try fusedEqualsPerOp(T.self, stats: g, { s in
            var h = SINGD<P>.Hyperparameters(); h.interval = 1; h.kfacLike = true; h.expensiveMonitors = false
            return SINGD<P>(h, settings: s)
        }, "ikfac")
    }

    @Test func fusedIsPerOpBitForBitInDouble() throws {
        try Self.wideTypesCheck(Double.self)
        // KFAC-E's eigenbasis division is an elementwise statement too
        try Self.fusedEqualsPerOp(Double.self, stats: { Self.gaussian($0, Double.self) }, { s in
            var h = KFAC<Uniform<Double>>.Hyperparameters(); h.variant = .eigen; h.inverseInterval = 2; h.expensiveMonitors = false
            return KFAC<Uniform<Double>>(h, settings: s)
        }, "kfac-e")
    }

    @Test func fusedIsPerOpBitForBitInMPFR() throws { try Self.wideTypesCheck(BigFloat256.self) }

    // MARK: narrow types: the statement in Float, rounded once

    /// SGD (§3.1): d ← ∇W + w·W ; b ← d (t = 1) | μb + (1 − ρ)d ; d ← d + μb (Nesterov) | b ; W ← W − ηd.
    static func sgdCheck<T: Scalar>(_: T.Type, nesterov: Bool) throws {
        let (lr, mu, rho, wd) = (0.1, 0.9, nesterov ? 0 : 0.1, 1e-2)
        var opt = SGD<Uniform<T>>(.init(learningRate: lr, momentum: mu, dampening: rho, weightDecay: wd, nesterov: nesterov),
                                  settings: .init(elementwise: .fused))
        let (eta, decay, muT, omd) = (fl(T(lr)), fl(T(wd)), fl(T(mu)), fl(T(1 - rho)))
        var w = [start(T.self)]
        var expectedW = w[0], b = w[0]
        for t in 1...4 {
            let s = gaussian(t, T.self)
            _ = try opt.step(weights: &w, layers: [s], step: t)
            var d = Matrix<T>(rows: 3, columns: 4) { i, j in once(fl(s.gradient[i, j]) + decay * fl(expectedW[i, j])) }
            b = t == 1 ? d : Matrix(rows: 3, columns: 4) { i, j in once(muT * fl(b[i, j]) + omd * fl(d[i, j])) }
            d = nesterov ? Matrix(rows: 3, columns: 4) { i, j in once(fl(d[i, j]) + muT * fl(b[i, j])) } : b
            expectedW = Matrix(rows: 3, columns: 4) { i, j in once(fl(expectedW[i, j]) - eta * fl(d[i, j])) }
            expectSame(opt.buffers[0], b, "SGD buffer, step \(t)")
            expectSame(w[0], expectedW, "SGD\(nesterov ? " (Nesterov)" : "") weights, step \(t)")
        }
    }

    @Test func sgdFusedIsFloatRoundedOnce() throws {
        for nesterov in [false, true] {
            try Self.sgdCheck(BFloat16.self, nesterov: nesterov)
            try Self.sgdCheck(Float16.self, nesterov: nesterov)
        }
    }

    /// Adam/AdamW (§3.2, §3.3), bias corrections in Double: g ← ∇W + w·W ; m ← m + (1 − β1)(g − m)
    /// or β1 m + (1 − β1) g ; v ← β2 v + (1 − β2)(g·g) ; denom ← √v/√c2 + ε ; W ← W − (η/c1)·m/denom,
    /// the last statement `(η/c1)·m/denom` fused and its subtraction from W one operation.
    static func adamCheck<T: Scalar>(_: T.Type, decoupled: Bool, form: Adam<Uniform<T>>.FirstMomentForm) throws {
        let (lr, b1, b2, eps, wd) = (1e-2, 0.9, 0.99, 1e-3, 1e-2)
        let h = Adam<Uniform<T>>.Hyperparameters(learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd,
                                                 decoupled: decoupled, firstMoment: form)
        var opt = Adam<Uniform<T>>(h, settings: .init(elementwise: .fused))
        let (beta1, omb1, beta2, omb2, epsT) = (fl(T(b1)), fl(T(1 - b1)), fl(T(b2)), fl(T(1 - b2)), T(eps))
        let decay = fl(T(wd)), etaDecay = T(1 - lr * wd)
        var w = [start(T.self)]
        var expectedW = w[0]
        var m = Matrix<T>(rows: 3, columns: 4), v = m
        for t in 1...4 {
            let s = gaussian(t, T.self)
            _ = try opt.step(weights: &w, layers: [s], step: t)
            let c1 = 1 - Double.pow(b1, t), c2 = 1 - Double.pow(b2, t)
            let stepSize = fl(T(lr / c1)), sqrtC2 = fl(T(c2.squareRoot()))
            if decoupled { expectedW = expectedW.map { $0 * etaDecay } }
            let g = decoupled ? s.gradient
                : Matrix<T>(rows: 3, columns: 4) { i, j in once(fl(s.gradient[i, j]) + decay * fl(expectedW[i, j])) }
            m = Matrix(rows: 3, columns: 4) { i, j in
                form == .interpolation ? once(fl(m[i, j]) + omb1 * (fl(g[i, j]) - fl(m[i, j])))
                                       : once(beta1 * fl(m[i, j]) + omb1 * fl(g[i, j]))
            }
            v = Matrix(rows: 3, columns: 4) { i, j in once(beta2 * fl(v[i, j]) + omb2 * (fl(g[i, j]) * fl(g[i, j]))) }
            expectedW = Matrix(rows: 3, columns: 4) { i, j in
                let denom: T = once(fl(v[i, j]).squareRoot() / sqrtC2 + fl(epsT))
                let direction: T = once(stepSize * fl(m[i, j]) / fl(denom))
                return expectedW[i, j] - direction
            }
            expectSame(opt.m[0], m, "Adam m, step \(t)")
            expectSame(opt.v[0], v, "Adam v, step \(t)")
            expectSame(w[0], expectedW, "Adam\(decoupled ? "W" : "") (\(form.rawValue)) weights, step \(t)")
        }
    }

    @Test func adamFusedIsFloatRoundedOnce() throws {
        for decoupled in [false, true] {
            for form in Adam<Uniform<BFloat16>>.FirstMomentForm.allCases {
                try Self.adamCheck(BFloat16.self, decoupled: decoupled, form: form)
            }
            for form in Adam<Uniform<Float16>>.FirstMomentForm.allCases {
                try Self.adamCheck(Float16.self, decoupled: decoupled, form: form)
            }
        }
    }

    /// RLLC (§9.4, §9.5): new unit j = Σ_{Pr_ij ≠ 0} Pr_ij m_i + b_j g (one statement), θ ← θ − c1·(ML)
    /// with ML the k-term combination of the units in `Moments` (a reduction, per-op) and the update one
    /// statement. The law correction runs (c2 ≠ 0); the test reads the law the step used from the optimizer.
    static func rllcCheck<T: Scalar>(_: T.Type) throws {
        var h = RLLC<Uniform<T>>.Hyperparameters()
        h.rule = try .blocks([.jordan(eigenvalue: 0.6, size: 2)]); h.initialLaw = [0.7, 0.3]
        h.learningRate = 0.1; h.lawRate = 1e-2; h.expensiveMonitors = false
        var opt = try RLLC<Uniform<T>>(h, settings: .init(elementwise: .fused))
        let pr = h.rule.propagator.map { $0.map { T($0) } }, input = h.rule.input.map { T($0) }, c1 = fl(T(0.1))
        var w = [start(T.self)]
        var expectedW = w[0].elements
        var units = [[T]](repeating: [T](repeating: .zero, count: 12), count: 2)
        for t in 1...4 {
            let s = gaussian(t, T.self)
            _ = try opt.step(weights: &w, layers: [s], step: t)
            let g = s.gradient.elements
            units = (0..<2).map { j in
                (0..<12).map { e in
                    var acc: Float? = nil
                    // terms in order, the first one not added to zero
                    for i in 0..<2 where pr[i][j] != .zero { let p = fl(pr[i][j]) * fl(units[i][e]); acc = acc.map { $0 + p } ?? p }
                    if input[j] != .zero { let p = fl(input[j]) * fl(g[e]); acc = acc.map { $0 + p } ?? p }
                    return once(acc ?? 0)
                }
            }
            let law = opt.law
            expectedW = (0..<12).map { e in
                let direction = units[0][e] * law[0] + units[1][e] * law[1]
                return once(fl(expectedW[e]) - c1 * fl(direction))
            }
            #expect(opt.units.elementsEqual(units) { zip($0, $1).allSatisfy { sameResult($0.doubleValue, $1.doubleValue) } },
                    "RLLC units in \(T.formatName), step \(t)")
            #expect(zip(w[0].elements, expectedW).allSatisfy { sameResult($0.doubleValue, $1.doubleValue) },
                    "RLLC weights in \(T.formatName), step \(t)")
        }
    }

    @Test func rllcFusedIsFloatRoundedOnce() throws {
        try Self.rllcCheck(BFloat16.self)
        try Self.rllcCheck(Float16.self)
    }

    /// KFAC (§4.4): the factor EMAs A ← ε_k A + (1 − ε_k) A_b (ε_k = min(1 − 1/k, ε_max) and 1 − ε_k
    /// formed in Double, each rounded once) and the SGD finish d ← Δ + w·W ; b ← μb + d ; W ← W − ηb.
    /// The steps start at t = 2 with the inverse interval 10, so the inverses keep their initial
    /// identity and Δ = I ∇W I = ∇W exactly; KL clip off. Statistics are dyadic (A_b, G_b, ∇W exact).
    static func kfacCheck<T: Scalar>(_: T.Type) throws {
        var h = KFAC<Uniform<T>>.Hyperparameters()
        h.learningRate = 0.1; h.momentum = 0.9; h.weightDecay = 1e-2; h.klClip = nil; h.inverseInterval = 10
        h.expensiveMonitors = false
        var opt = KFAC<Uniform<T>>(h, settings: .init(elementwise: .fused))
        let (eta, mu, decay) = (fl(T(0.1)), fl(T(0.9)), fl(T(1e-2)))
        var w = [start(T.self, rows: 2, columns: 4)]
        var expectedW = w[0], b = Matrix<T>(rows: 2, columns: 4)
        var a = Matrix<T>(rows: 4, columns: 4), gg = Matrix<T>(rows: 2, columns: 2)
        for (k, t) in (2...5).enumerated() {
            let s = dyadic(t, T.self)
            _ = try opt.step(weights: &w, layers: [s], step: t)
            let epsK = min(1 - 1 / Double(k + 1), 0.95)
            let (e, om) = (fl(T(epsK)), fl(T(1 - epsK)))
            let ab = gram(s.inputs), gb = gram(s.outputGradients)
            a = Matrix(rows: 4, columns: 4) { i, j in once(e * fl(a[i, j]) + om * Float(ab[i, j])) }
            gg = Matrix(rows: 2, columns: 2) { i, j in once(e * fl(gg[i, j]) + om * Float(gb[i, j])) }
            let d = Matrix<T>(rows: 2, columns: 4) { i, j in once(fl(s.gradient[i, j]) + decay * fl(expectedW[i, j])) }
            b = Matrix(rows: 2, columns: 4) { i, j in once(mu * fl(b[i, j]) + 1 * fl(d[i, j])) }
            expectedW = Matrix(rows: 2, columns: 4) { i, j in once(fl(expectedW[i, j]) - eta * fl(b[i, j])) }
            expectSame(opt.factorsA[0], a, "KFAC factor A, step \(t)")
            expectSame(opt.factorsG[0], gg, "KFAC factor G, step \(t)")
            expectSame(w[0], expectedW, "KFAC weights, step \(t)")
        }
    }

    @Test func kfacFusedIsFloatRoundedOnce() throws {
        try Self.kfacCheck(BFloat16.self)
        try Self.kfacCheck(Float16.self)
    }

    /// SINGD (§5.4), two runs. Factor statements (interval 1; K and C reset to I before each step, so
    /// H_K = ĀĀᵀ/N, P_K = I and K m_K = m_K are exact): M_K = s(τ(H_C)H_K + λτ(P_C)P_K − I) with the
    /// traces τ per-op in `T` (scalars from reductions, §1.3 item 4), m_K ← α1 m_K + M_K, K ← K − β1(K m_K).
    /// Weight statements (steps from t = 2, interval 10: K = C = I, so U = ∇W exactly):
    /// U ← U + γW ; b ← α2 b + U ; W ← W − β2 b.
    static func singdCheck<T: Scalar>(_: T.Type, kfacLike: Bool) throws {
        var h = SINGD<Uniform<T>>.Hyperparameters()
        h.interval = 1; h.kfacLike = kfacLike; h.damping = 1e-2; h.factorLearningRate = 0.1; h.expensiveMonitors = false
        var opt = SINGD<Uniform<T>>(h, settings: .init(elementwise: .fused))
        let (lambda, alpha1, beta1) = (T(1e-2), T(kfacLike ? 0 : 0.5), fl(T(0.1)))
        let scale = T(0.5)
        var w = [start(T.self, rows: 2, columns: 4)]
        var mK = Matrix<T>(rows: 4, columns: 4), mC = Matrix<T>(rows: 2, columns: 2)
        func tau(_ x: Matrix<T>) -> T { (0..<x.rows).reduce(T.zero) { $0 + x[$1, $1] } / T(Double(x.rows)) }
        func newM(_ hm: Matrix<T>, _ hOther: Matrix<T>, _ pOther: Matrix<T>) -> Matrix<T> {
            let (a, bb) = kfacLike ? (T(1), lambda) : (tau(hOther), lambda * tau(pOther))
            return Matrix(rows: hm.rows, columns: hm.rows) { i, j in
                once(fl(scale) * (fl(a) * fl(hm[i, j]) + fl(bb) * (i == j ? 1 : 0) - (i == j ? 1 : 0)))
            }
        }
        for t in 1...3 {
            let s = dyadic(t, T.self)
            if t > 1 { opt.k = [.identity(4)]; opt.c = [.identity(2)] }
            _ = try opt.step(weights: &w, layers: [s], step: t)
            let hK = gram(s.inputs).converted(to: T.self), hC = gram(s.outputGradients).converted(to: T.self)
            let (iK, iC) = (Matrix<T>.identity(4), Matrix<T>.identity(2))
            let newMK = newM(hK, hC, iC), newMC = newM(hC, hK, iK)
            mK = kfacLike ? newMK : Matrix(rows: 4, columns: 4) { i, j in once(fl(alpha1) * fl(mK[i, j]) + fl(newMK[i, j])) }
            mC = kfacLike ? newMC : Matrix(rows: 2, columns: 2) { i, j in once(fl(alpha1) * fl(mC[i, j]) + fl(newMC[i, j])) }
            let k = Matrix<T>(rows: 4, columns: 4) { i, j in once(Float(i == j ? 1 : 0) - beta1 * fl(mK[i, j])) }
            let c = Matrix<T>(rows: 2, columns: 2) { i, j in once(Float(i == j ? 1 : 0) - beta1 * fl(mC[i, j])) }
            expectSame(opt.mK[0], mK, "SINGD m_K, step \(t)"); expectSame(opt.mC[0], mC, "SINGD m_C, step \(t)")
            expectSame(opt.k[0], k, "SINGD K, step \(t)"); expectSame(opt.c[0], c, "SINGD C, step \(t)")
        }
        // weight statements
        h.interval = 10; h.weightDecay = 1e-2; h.learningRate = 0.1; h.momentum = 0.9
        opt = SINGD<Uniform<T>>(h, settings: .init(elementwise: .fused))
        let (gamma, alpha2, beta2) = (fl(T(1e-2)), fl(T(0.9)), fl(T(0.1)))
        w = [start(T.self, rows: 2, columns: 4)]
        var expectedW = w[0], b = Matrix<T>(rows: 2, columns: 4)
        for t in 2...4 {
            let s = dyadic(t, T.self)
            _ = try opt.step(weights: &w, layers: [s], step: t)
            let u = Matrix<T>(rows: 2, columns: 4) { i, j in once(fl(s.gradient[i, j]) + gamma * fl(expectedW[i, j])) }
            b = Matrix(rows: 2, columns: 4) { i, j in once(alpha2 * fl(b[i, j]) + fl(u[i, j])) }
            expectedW = Matrix(rows: 2, columns: 4) { i, j in once(fl(expectedW[i, j]) - beta2 * fl(b[i, j])) }
            expectSame(opt.buffer[0], b, "SINGD momentum, step \(t)")
            expectSame(w[0], expectedW, "SINGD weights, step \(t)")
        }
    }

    @Test func singdFusedIsFloatRoundedOnce() throws {
        for kfacLike in [false, true] {
            try Self.singdCheck(BFloat16.self, kfacLike: kfacLike)
            try Self.singdCheck(Float16.self, kfacLike: kfacLike)
        }
    }
}
