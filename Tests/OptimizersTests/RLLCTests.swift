import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// RLLC (§9) against independent truth: the fixed-law special cases against the existing SGD
/// struct, the full method against §9.4/§9.5 written out in MPFR-256, basis invariance in MPFR.
@Suite struct RLLCAgainstSpecification {
    typealias B = BigFloat256

    /// κ(MᵀM + δ_rel τ(MᵀM) I) in Double from the stored units: the amplification of the K5 solve
    /// that the next correction will perform.
    static func ridgedKappa<T: Scalar>(_ units: [[T]], ridge: Double) -> Double {
        let k = units.count
        let g = Matrix<Double>(rows: k, columns: k) { i, j in zip(units[i], units[j]).reduce(0.0) { $0 + $1.0.doubleValue * $1.1.doubleValue } }
        return MatrixHealth(g.addingToDiagonal(ridge * g.trace / Double(k))).conditionNumber
    }

    /// With c2 = 0 the fixed-law rules perform the very operations of `torch.optim.SGD` in the same
    /// order — buffer `μ·b + 1·g` (RLLC skips the structurally zero coefficients; SGD's dampening
    /// factor is `1 − 0 = 1`), Nesterov direction `b·μ + g·1 = g + μ·b` (products and sums commute
    /// exactly in IEEE arithmetic, and `g·1 = g`), step `θ − η·d` — so the trajectories are
    /// **bit-identical** (compared with `==`, which equates +0 and −0: at t = 1 SGD copies `g` into the
    /// buffer while RLLC forms `μ·0 + g`, which differs only for g = −0). Checked in Double, Float and Float16.
    func fixedLawReproducesSGD<T: Scalar>(_: T.Type) throws {
        let data = Synthetic.teacherClassification(samples: 128, dimension: 6, classes: 3, condition: 10, seed: 4)
        let spec = try MLPSpec(widths: [6, 8, 3], activation: .tanh, loss: .crossEntropy)
        let schedule = try BatchSchedule(sampleCount: 128, batchSize: 16, seed: 5)
        let cases: [(String, SGD<Uniform<T>>.Hyperparameters, MemoryRule, [Double])] = [
            ("sgd", .init(learningRate: 0.1), .sgd, [1]),
            ("heavy-ball", .init(learningRate: 0.1, momentum: 0.9), try .heavyBall(0.9), [1]),
            ("nesterov", .init(learningRate: 0.1, momentum: 0.9, nesterov: true), try .nesterov(0.9), [0.9, 1]),
        ]
        for (name, sgdH, rule, law) in cases {
            var h = RLLC<Uniform<T>>.Hyperparameters()
            h.rule = rule; h.initialLaw = law; h.learningRate = 0.1; h.lawRate = 0
            var rllc = try RLLC<Uniform<T>>(h)
            var sgd = SGD<Uniform<T>>(sgdH)
            var a = MLP<T>(spec: spec, seed: 6, accumulation: .perOperation), b = a
            for t in 1...30 {
                let batch = Batch<T>(data, indices: schedule.indices(step: t))
                let ra = try a.backward(batch.inputs, targets: batch.targets), rb = try b.backward(batch.inputs, targets: batch.targets)
                _ = try rllc.step(weights: &a.weights, layers: ra.layers, step: t)
                _ = try sgd.step(weights: &b.weights, layers: rb.layers, step: t)
                #expect(a.weights == b.weights, "\(name) in \(T.formatName) diverged at step \(t)")
                if a.weights != b.weights { break }
            }
        }
    }

    @Test func fixedLawsReproduceSGDHeavyBallNesterovBitForBit() throws {
        try fixedLawReproducesSGD(Double.self)
        try fixedLawReproducesSGD(Float.self)
        try fixedLawReproducesSGD(Float16.self)
    }

    /// §9.5 for one tiny layer, k = 4 (a real Jordan block λ = 0.5 of size 2 with the old-neighbour
    /// coupling, and a complex pair r = 0.8, φ = 0.3), six steps with changing gradients, written from
    /// the block recurrences of §9.4 (not from `Pr`) and solved by Gauss–Jordan in MPFR-256.
    ///
    /// Bound (first order): each correction solves a k×k system whose entries are length-n reductions
    /// (relative error ≤ γ_n of Σ|m_i||m_j| ≤ ‖m_i‖‖m_j‖) and the solve adds γ_{3k}; the solution error
    /// is amplified by κ = κ(MᵀM + ridge); the law error then reaches the weights through ‖c2 x‖/‖L‖ ≤ 1 here.
    /// Memory updates and the step add γ_{k+2} per entry. Summed over T steps:
    /// `‖Δθ − Δθ_ref‖/‖Δθ_ref‖ ≤ T·γ_{n+3k+k+2}·(1 + κ_max)`.
    ///
    /// The law is checked entry by entry against a rigorous running bound instead: the units' error is
    /// carried through the memory recurrence (`unitError`), each correction's `‖x̂ − x‖` is bounded from the
    /// exact reference quantities (`solveErrorBound`), and each `L + c2·x̂` adds its two roundings. The
    /// first-order a-priori form of that bound is `T·(T·γ_{n+3k}(1 + κ)·c2·max‖x‖ + u·max|L|)`-like; the
    /// running one is much tighter, because it uses each step's own ‖G_r⁻¹‖ and ‖x‖ and does not multiply
    /// |L| by κ (the addition `L + c2x̂` rounds once, relative to |L|, and κ never touches it).
    @Test func sixStepsMatchSection9() throws {
        let lambda = 0.5, r = 0.8, phi = 0.3, c1 = 0.05, c2 = 0.02, ridge = 1e-6
        let law0 = [0.4, 0.3, 0.2, 0.1]
        var h = RLLC<Uniform<Double>>.Hyperparameters()
        h.rule = try .blocks([.jordan(eigenvalue: lambda, size: 2), .complexPair(radius: r, angle: phi)])
        h.initialLaw = law0; h.learningRate = c1; h.lawRate = c2; h.ridge = ridge
        var opt = try RLLC<Uniform<Double>>(h)
        let w0 = Independent.layer(seed: 40).w
        var w = [w0]
        let grads = (1...6).map { SmallTraining.layer(seed: 40 + UInt64($0)).grad }
        var kappaMax = 1.0
        for (k, g) in grads.enumerated() {
            let s = LayerStatistics(inputs: Matrix<Double>(rows: 4, columns: 1), outputGradients: Matrix<Double>(rows: 3, columns: 1), gradient: g)
            let report = try opt.step(weights: &w, layers: [s], step: k + 1)
            kappaMax = max(kappaMax, Self.ridgedKappa(opt.units, ridge: ridge))
            #expect(!report.events.contains { $0.kind == .choleskyFailure })
        }
        // reference
        let n = 12
        var m = [[B]](repeating: [B](repeating: 0, count: n), count: 4)
        var law = law0.map { B($0) }
        var theta = w0.elements.map { B($0) }
        let rc = B(r) * B.cos(B(phi)), rs = B(r) * B.sin(B(phi))
        // Running bounds for the law (see `lawBound` below): E[i][e] ≥ |m̂_i − m_i| for the units, and
        // lawError[i] ≥ |L̂_i − L_i|.
        let u = B(Double.unitRoundoff)
        func gamma(_ j: Int) -> B { B(Double(j)) * u / (1 - B(Double(j)) * u) }
        var unitError = [[B]](repeating: [B](repeating: 0, count: n), count: 4)
        var lawError = [B](repeating: 0, count: 4)
        var correctionSize = [B](repeating: 0, count: 4)         // Σ_t c2|x_t,i|: what the corrections moved L by
        for g in grads {
            let gv = g.elements.map { B($0) }
            if m.contains(where: { $0.contains { $0 != 0 } }) {
                let gram = Matrix<B>(rows: 4, columns: 4) { i, j in zip(m[i], m[j]).reduce(B(0)) { $0 + $1.0 * $1.1 } }
                let tau = gram.trace / 4
                let gramRidged = gram.addingToDiagonal(B(ridge) * tau)
                let inverse = DenseOracle.inverse(gramRidged)
                let x = DenseOracle.product(inverse, Matrix<B>(rows: 4, columns: 1) { i, _ in zip(m[i], gv).reduce(B(0)) { $0 + $1.0 * $1.1 } })
                let xError = Self.solveErrorBound(units: m, unitError: unitError, gradient: gv, ridge: B(ridge), gram: gramRidged,
                                                  inverse: inverse, x: x, u: u)
                for i in 0..<4 {
                    law[i] += B(c2) * x[i, 0]
                    correctionSize[i] += B(c2) * x[i, 0].magnitude
                    // L̂ ← fl(L̂ + fl(c2·x̂)): c2·|x̂ − x| ≤ c2·xError, fl(c2·x̂) adds u·c2|x̂|, the sum u/(1−u)·|L̂_new|
                    let propagated = lawError[i] + B(c2) * (xError * (1 + u) + u * x[i, 0].magnitude)
                    lawError[i] = (propagated + gamma(1) * law[i].magnitude) / (1 - gamma(1))
                }
            }
            let old = m, oldError = unitError
            for e in 0..<n {
                m[0][e] = B(lambda) * old[0][e] + gv[e]
                m[1][e] = B(lambda) * old[1][e] + old[0][e]
                m[2][e] = rc * old[2][e] - rs * old[3][e] + gv[e]
                m[3][e] = rs * old[2][e] + rc * old[3][e]
                // |m̂_new − m_new| for a sum of ≤ k + 1 = 5 rounded products (γ_5 of the magnitudes), the old
                // units' error times |Pr|, and Pr's own rounding in Double (r·cos φ, r·sin φ: |ΔPr| ≤ γᴰ_4|Pr|;
                // λ = 0.5 and 1 are exact)
                let a0 = old[0][e].magnitude + oldError[0][e], a1 = old[1][e].magnitude + oldError[1][e]
                let a2 = old[2][e].magnitude + oldError[2][e], a3 = old[3][e].magnitude + oldError[3][e]
                let (c, sn) = (rc.magnitude * (1 + gamma(4)), rs.magnitude * (1 + gamma(4)))
                unitError[0][e] = B(lambda) * oldError[0][e] + gamma(5) * (B(lambda) * a0 + gv[e].magnitude)
                unitError[1][e] = B(lambda) * oldError[1][e] + oldError[0][e] + gamma(5) * (B(lambda) * a1 + a0)
                unitError[2][e] = c * oldError[2][e] + sn * oldError[3][e] + gamma(4) * (rc.magnitude * a2 + rs.magnitude * a3)
                    + gamma(5) * (c * a2 + sn * a3 + gv[e].magnitude)
                unitError[3][e] = sn * oldError[2][e] + c * oldError[3][e] + gamma(4) * (rs.magnitude * a2 + rc.magnitude * a3)
                    + gamma(5) * (sn * a2 + c * a3)
            }
            for e in 0..<n { theta[e] -= B(c1) * (0..<4).reduce(B(0)) { $0 + m[$1][e] * law[$1] } }
        }
        let ref = try Matrix<Double>(rows: 3, columns: 4, elements: theta.map { $0.doubleValue })
        let rel = Independent.relativeDifference(try w[0].subtracting(w0), try ref.subtracting(w0))
        let perStep = Double.gammaBound(n + 4 * 4 + 2) * (1 + kappaMax)      // γ_{n+4k+2}(1 + κ_max), k = 4
        let bound = 6 * perStep
        #expect(rel <= bound, "relative difference \(rel), κ_max \(kappaMax)")
        // The bound must say something: a relative bound ≥ 1 would accept a Δθ of the right size with no
        // correct digit (even Δθ = 0).
        #expect(bound < 1, "vacuous bound \(bound)")
        // The law, entry by entry, against the running bound `lawError` (derived in `solveErrorBound` and
        // at the update above), compared in MPFR. The bound is far below what the corrections did to L
        // (a wrong sign, a dropped or doubled correction, c2 misplaced all leave it), and below 10⁻⁷·|L_i|:
        // it resolves a relative perturbation of the law of 10⁻⁷ per correction.
        for i in 0..<4 {
            let difference = (B(opt.law[i].doubleValue) - law[i]).magnitude
            #expect(difference <= lawError[i], "law[\(i)] \(opt.law[i]) vs \(law[i].doubleValue): |Δ| \(difference.doubleValue) > bound \(lawError[i].doubleValue)")
            #expect(lawError[i] < B(1e-3) * correctionSize[i] && lawError[i] < B(1e-7) * law[i].magnitude,
                    "law[\(i)]: bound \(lawError[i].doubleValue) does not resolve the corrections \(correctionSize[i].doubleValue)")
        }
    }

    /// A rigorous bound on `‖x̂ − x‖₂` for one K5 correction (RLLC step 2) evaluated in a format with unit
    /// roundoff u, from the exact units `m` (k×n, here as k rows), a bound `unitError` on the stored units'
    /// error, the gradient g, the exact `G_r = MᵀM + δτ(MᵀM)I`, its exact inverse and `x = G_r⁻¹Mᵀg`. The
    /// code forms (all reductions of length n, Higham Lemma 3.1/§3.1, `|Δ| ≤ γ_n Σ|a||b|` in any order):
    /// * `Ĝ = fl(M̂ᵀM̂)`: `|Ĝ − G| ≤ Σ(|m_i|E_j + E_i|m_j| + E_iE_j) + γ_n Σ(|m_i|+E_i)(|m_j|+E_j)` =: ΔG;
    /// * `ĥ = fl(M̂ᵀg)`: `|ĥ − h| ≤ ΣE_i|g| + γ_n Σ(|m_i|+E_i)|g|` =: Δh;
    /// * `τ̂ = fl(tr Ĝ/k)`, `fl(δ·τ̂)`, `fl(Ĝ_ii + δτ̂)`: `|Δ_ii| ≤ δ(Σ_i ΔG_ii/k + γ_{k+1}τ̄) + u(|Ĝ_ii| + δτ̄)`, τ̄ the bound on |τ̂|;
    /// * Cholesky and two triangular solves (Higham Thm 10.4): `(Ĝ_r + ΔC)x̂ = ĥ` with
    ///   `|ΔC| ≤ γ_{3k+1}|R̂ᵀ||R̂|` and `‖|R̂ᵀ||R̂|‖₂ ≤ k‖Ĝ_r‖₂/(1 − kγ_{k+1})` (Higham Thm 10.5 and its proof).
    /// With `Δ` the total matrix perturbation (`‖Δ‖₂ ≤ ‖Δ‖_F`), `G_r(x̂ − x) = ĥ − h − Δx̂`, so
    /// `‖x̂ − x‖ ≤ ‖G_r⁻¹‖(‖Δh‖ + ‖Δ‖‖x‖)/(1 − ‖G_r⁻¹‖‖Δ‖)`, `‖G_r⁻¹‖₂ ≤ ‖G_r⁻¹‖_F` from the exact inverse.
    /// Summed over the T corrections this is the `T·γ(1 + κ)·c2·max‖x‖` part of the law's bound (κ enters
    /// as `‖G_r⁻¹‖·‖ΔG‖`, and the units' error grows with the step), and the T roundings of `L + c2x̂`
    /// its `T·u·max|L|` part; here each is summed step by step instead of bounded by its maximum.
    static func solveErrorBound(units m: [[BigFloat256]], unitError e: [[BigFloat256]], gradient g: [BigFloat256], ridge: BigFloat256,
                                gram: Matrix<BigFloat256>, inverse: Matrix<BigFloat256>, x: Matrix<BigFloat256>, u: BigFloat256) -> BigFloat256 {
        typealias B = BigFloat256
        let k = m.count, n = g.count
        func gamma(_ j: Int) -> B { B(Double(j)) * u / (1 - B(Double(j)) * u) }
        var deltaG = Matrix<B>(rows: k, columns: k), gramBound = Matrix<B>(rows: k, columns: k)
        var deltaH = [B](repeating: 0, count: k)
        for i in 0..<k {
            for j in 0..<k {
                var prop = B(0), mag = B(0), exact = B(0)
                for l in 0..<n {
                    prop += m[i][l].magnitude * e[j][l] + e[i][l] * m[j][l].magnitude + e[i][l] * e[j][l]
                    mag += (m[i][l].magnitude + e[i][l]) * (m[j][l].magnitude + e[j][l])
                    exact += m[i][l] * m[j][l]
                }
                deltaG[i, j] = prop + gamma(n) * mag
                gramBound[i, j] = exact.magnitude + deltaG[i, j]
            }
            var prop = B(0), mag = B(0)
            for l in 0..<n { prop += e[i][l] * g[l].magnitude; mag += (m[i][l].magnitude + e[i][l]) * g[l].magnitude }
            deltaH[i] = prop + gamma(n) * mag
        }
        // the ridge δτ̂ and its addition to the diagonal
        var traceBound = B(0), traceError = B(0)
        for i in 0..<k { traceBound += gramBound[i, i]; traceError += deltaG[i, i] }
        let tauBar = traceBound / B(Double(k))
        var delta = deltaG
        for i in 0..<k { delta[i, i] += ridge * (traceError / B(Double(k)) + gamma(k + 1) * tauBar) + u * (gramBound[i, i] + ridge * tauBar) }
        // Cholesky: ‖ΔC‖₂ ≤ γ_{3k+1}·k‖Ĝ_r‖₂/(1 − kγ_{k+1}), ‖Ĝ_r‖₂ ≤ ‖G_r‖_F + ‖Δ‖_F
        let deltaF = Independent.frobenius(delta)
        let choleskyF = gamma(3 * k + 1) * B(Double(k)) * (Independent.frobenius(gram) + deltaF) / (1 - B(Double(k)) * gamma(k + 1))
        let perturbation = deltaF + choleskyF
        let inverseNorm = Independent.frobenius(inverse)
        let hNorm = B.sqrt(deltaH.reduce(B(0)) { $0 + $1 * $1 })
        let xNorm = Independent.frobenius(x)
        precondition(inverseNorm * perturbation < 1, "K5 perturbation not small against λ_min(G_r): change the data")
        return inverseNorm * (hNorm + perturbation * xNorm) / (1 - inverseNorm * perturbation)
    }

    /// Basis invariance (§9.1, §9.7): the same rule in the Jordan basis and in the basis `M' = M Q` with
    /// law `Q⁻¹L`. With the scaled rotation `Q = [[1, 1], [−1, 1]]` per 2×2 block (`QᵀQ = 2I`), `Q⁻¹`,
    /// `Q⁻¹ Pr Q`, `Qᵀb` and `Q⁻¹L` are exact in Double, and the relative ridge is invariant too
    /// (`τ(QᵀGQ) = 2τ(G)`, `Qᵀ(G + δτI)Q = QᵀGQ + δτ(QᵀGQ)I`). In exact arithmetic the trajectories are
    /// identical; in MPFR-256 they differ by rounding only: at most `T·γ_{n+5k}(u_256)·(1 + κ_max)`,
    /// the bound of `sixStepsMatchSection9` with MPFR's unit roundoff. In Double the difference is
    /// many orders of magnitude larger — pure rounding, which is what the R9 experiment measures.
    @Test func basisInvarianceHoldsToMPFRRoundoff() throws {
        let jordan = try MemoryRule.blocks([.jordan(eigenvalue: 0.625, size: 2)])
        // complex pair with dyadic r cos φ = 0.5, r sin φ = 0.25, given densely, next to the Jordan block
        var pr = [[Double]](repeating: [0, 0, 0, 0], count: 4)
        pr[0][0] = 0.625; pr[1][1] = 0.625; pr[0][1] = jordan.propagator[0][1]
        pr[2][2] = 0.5; pr[3][2] = -0.25; pr[2][3] = 0.25; pr[3][3] = 0.5
        let rule = try MemoryRule(propagator: pr, input: [1, 0, 1, 0])
        let q: [[Double]] = [[1, 1, 0, 0], [-1, 1, 0, 0], [0, 0, 1, 1], [0, 0, -1, 1]]
        let qInv: [[Double]] = [[0.5, -0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0.5, -0.5], [0, 0, 0.5, 0.5]]
        let law = [0.5, 0.25, 0.375, 0.125]
        let rotated = try rule.changingBasis(q, inverse: qInv)
        let rotatedLaw = MemoryRule.lawInBasis(law, inverse: qInv)

        func run<T: Scalar>(_: T.Type, _ rule: MemoryRule, _ law: [Double]) throws -> (Matrix<T>, Double) {
            var h = RLLC<Uniform<T>>.Hyperparameters()
            h.rule = rule; h.initialLaw = law; h.learningRate = 0.05; h.lawRate = 0.02; h.ridge = 1e-6
            var opt = try RLLC<Uniform<T>>(h)
            var w = [Independent.layer(seed: 50).w.converted(to: T.self)]
            var kappa = 1.0
            for t in 1...8 {
                let g = SmallTraining.layer(seed: 50 + UInt64(t)).grad.converted(to: T.self)
                let s = LayerStatistics(inputs: Matrix<T>(rows: 4, columns: 1), outputGradients: Matrix<T>(rows: 3, columns: 1), gradient: g)
                _ = try opt.step(weights: &w, layers: [s], step: t)
                kappa = max(kappa, Self.ridgedKappa(opt.units, ridge: 1e-6))
            }
            return (w[0], kappa)
        }
        let (a, kA) = try run(B.self, rule, law), (b, kB) = try run(B.self, rotated, rotatedLaw)
        let w0 = Independent.layer(seed: 50).w.converted(to: B.self)
        let diff = Independent.relativeDifference(try a.subtracting(w0), try b.subtracting(w0))
        let bound = 8 * B.gammaBound(12 + 5 * 4) * (1 + max(kA, kB))
        #expect(diff <= bound, "MPFR difference \(diff) vs bound \(bound)")
        let (ad, _) = try run(Double.self, rule, law), (bd, _) = try run(Double.self, rotated, rotatedLaw)
        let diffDouble = Independent.relativeDifference(try ad.subtracting(w0.converted(to: Double.self)), try bd.subtracting(w0.converted(to: Double.self)))
        #expect(diffDouble > 1e10 * diff, "Double \(diffDouble) vs MPFR \(diff)")
    }
}

@Suite struct RLLCBehaviour {
    typealias Opt = RLLC<Uniform<Double>>

    /// Both chain couplings of a Jordan block (§9.4) build the documented propagators.
    @Test func jordanCouplingsBuildTheirPropagators() throws {
        let old = try MemoryRule.blocks([.jordan(eigenvalue: 0.5, size: 3)], coupling: .old)
        #expect(old.propagator == [[0.5, 1, 0], [0, 0.5, 1], [0, 0, 0.5]] && old.input == [1, 0, 0])
        let new = try MemoryRule.blocks([.jordan(eigenvalue: 0.5, size: 3)], coupling: .new)
        #expect(new.propagator == [[0.5, 0.5, 0.5], [0, 0.5, 0.5], [0, 0, 0.5]] && new.input == [1, 1, 1])
    }

    @Test func badConfigurationsNameTheValue() {
        #expect { _ = try MemoryRule.blocks([.jordan(eigenvalue: 0.9, size: 5)]) } throws: { "\($0)".contains("k = 5") }
        #expect { _ = try MemoryRule.blocks([.jordan(eigenvalue: 1.2, size: 1)]) } throws: { "\($0)".contains("1.2") }
        var h = Opt.Hyperparameters(); h.initialLaw = [1]
        #expect { _ = try Opt(h) } throws: { ($0 as? OptimizerConfigurationError)?.field == "initialLaw" }
    }

    /// Collinear units (identical gradients every step: every unit is a multiple of g) make MᵀM singular;
    /// without ridge the Cholesky breaks down, which is recorded and leaves the law unchanged — and
    /// κ(MᵀM) > 1/u is recorded.
    @Test func singularGramIsRecordedNotFatal() throws {
        var h = Opt.Hyperparameters(); h.ridge = 0
        var opt = try Opt(h)
        let g = SmallTraining.layer(seed: 60).grad
        let s = LayerStatistics(inputs: Matrix<Double>(rows: 4, columns: 1), outputGradients: Matrix<Double>(rows: 3, columns: 1), gradient: g)
        var w = [Independent.layer(seed: 61).w]
        var kinds = Set<OptimizerEvent.Kind>()
        for t in 1...3 { kinds.formUnion(try opt.step(weights: &w, layers: [s], step: t).events.map(\.kind)) }
        #expect(kinds.contains(.illConditioned))
        #expect(w[0].isFinite)
    }

    /// RLLC (default Nesterov-like units; and k = 4 with a Jordan pair and a complex pair) lowers the
    /// training loss of the small Double MLP in 50 steps.
    @Test func lowersTheTrainingLoss() throws {
        var four = Opt.Hyperparameters()
        four.rule = try .blocks([.jordan(eigenvalue: 0.5, size: 2), .complexPair(radius: 0.8, angle: 0.3)])
        four.initialLaw = [0.5, 0.2, 0.3, 0.1]; four.learningRate = 0.1; four.lawRate = 1e-3
        for h in [Opt.Hyperparameters(), four] {
            var opt = try Opt(h)
            let (initial, final) = try SmallTraining.train { w, layers, t, _ in
                let r = try opt.step(weights: &w, layers: layers, step: t)
                #expect(!r.events.contains { $0.kind == .nonFinite })
            }
            #expect(final < initial, "rllc k=\(h.rule.unitCount): \(initial) → \(final)")
        }
    }
}
