import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// One step of each optimizer on a tiny layer against the specification's equations evaluated
/// independently in MPFR-256 (dense matrices, explicit Gauss–Jordan inverses).
@Suite struct OneStepAgainstSpecification {
    typealias B = BigFloat256

    @Test func sgdNesterovMatchesSection3_1() throws {
        let (abar, ghat, grad, w0) = Independent.layer(seed: 1)
        var opt = SGD<Uniform<Double>>(.init(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true))
        var w = [w0]
        let stats = [LayerStatistics(inputs: abar, outputGradients: ghat, gradient: grad)]
        _ = try opt.step(weights: &w, layers: stats, step: 1)
        _ = try opt.step(weights: &w, layers: stats, step: 2)
        // reference: d = g + w·W; b1 = d; W1 = W0 − η(d + μ b1); d2 = g + w·W1; b2 = μ b1 + d2; W2 = W1 − η(d2 + μ b2)
        let g = grad.converted(to: B.self), (eta, mu, wd) = (B(0.1), B(0.9), B(0.01))
        var wr = w0.converted(to: B.self)
        let d1 = try g.adding(wr.scaled(by: wd)); let b1 = d1
        wr = try wr.subtracting(try d1.adding(b1.scaled(by: mu)).scaled(by: eta))
        let d2 = try g.adding(wr.scaled(by: wd)); let b2 = try b1.scaled(by: mu).adding(d2)
        wr = try wr.subtracting(try d2.adding(b2.scaled(by: mu)).scaled(by: eta))
        // Bound, entrywise and first order in u (Double's): η, μ, w are Double hyperparameters, exact in
        // Double and in the reference (B(0.1) is the Double 0.1); g and W0 are exact data. Each rounded
        // operation adds u times its exact result's magnitude, and errors already present propagate
        // linearly: d = g + w·W:   e_d = w·e_W + u|w·W| + u|d|
        //           b = μb + d:    e_b = μ·e_b + e_d + u|μb| + u|b|   (b = d at t = 1: e_b = e_d)
        //           n = d + μb:    e_n = e_d + μ·e_b + u|μb| + u|n|
        //           W ← W − η·n:   e_W = e_W + η·e_n + u|η n| + u|W|
        let u = Double.unitRoundoff
        var eW = [Double](repeating: 0, count: 12), eB = eW
        var wx = w0.converted(to: B.self), bx = Matrix<B>(rows: 3, columns: 4)
        for t in 1...2 {
            for i in 0..<12 {
                let r = i / 4, c = i % 4
                let d = g[r, c] + wd * wx[r, c]
                let eD = 0.01 * eW[i] + u * (wd * wx[r, c]).magnitude.doubleValue + u * d.magnitude.doubleValue
                let bNew = t == 1 ? d : mu * bx[r, c] + d
                eB[i] = t == 1 ? eD : 0.9 * eB[i] + eD + u * (mu * bx[r, c]).magnitude.doubleValue + u * bNew.magnitude.doubleValue
                let n = d + mu * bNew
                let eN = eD + 0.9 * eB[i] + u * (mu * bNew).magnitude.doubleValue + u * n.magnitude.doubleValue
                let wNew = wx[r, c] - eta * n
                eW[i] = eW[i] + 0.1 * eN + u * (eta * n).magnitude.doubleValue + u * wNew.magnitude.doubleValue
                bx[r, c] = bNew; wx[r, c] = wNew
            }
        }
        #expect(Independent.relativeDifference(wx, wr) == 0, "the bound's recurrence follows the reference")
        for i in 0..<12 {
            let err = (B(w[0][i / 4, i % 4]) - wr[i / 4, i % 4]).magnitude.doubleValue
            #expect(err <= eW[i], "entry \(i): \(err) > \(eW[i])")
        }
    }

    @Test func adamMatchesSection3_2() throws {
        let (abar, ghat, grad, w0) = Independent.layer(seed: 2)
        var opt = Adam<Uniform<Double>>(.adamW)
        var w = [w0]
        let stats = [LayerStatistics(inputs: abar, outputGradients: ghat, gradient: grad)]
        for t in 1...3 { _ = try opt.step(weights: &w, layers: stats, step: t) }
        // §1.3: 1 − β formed exactly from the Double β (here exact in Double too, by Sterbenz's lemma).
        let g = grad.converted(to: B.self), eta = B(1e-3), wd = B(1e-2), beta1 = B(0.9), beta2 = B(0.999)
        let epsilon = B(1e-8)
        var wr = w0.converted(to: B.self)
        var m = Matrix<B>(rows: 3, columns: 4), v = m
        // Bound, entrywise and first order in Double's u, carried along the reference (g, W0 exact data):
        //   W·(1 − ηw): the library forms 1 − ηw in Double (ηw rounded, then 1 − ηw rounded): relative
        //     ρ_d = u·ηw/(1 − ηw) + u; the product adds u:          e_W ← (1 − ηw)e_W + (ρ_d + u)|W(1 − ηw)|
        //   m ← m + (1 − β1)(g − m), three roundings:             e_m ← β1·e_m + 2u(1 − β1)|g − m| + u|m|
        //   v ← β2 v + (1 − β2) g², four roundings of positive terms: e_v ← β2·e_v + γ_3·v
        //   c_i = 1 − β_i^t in Double: pow within one ulp (2u relative) of β_i^t, the subtraction exact
        //     (Sterbenz, β_i^t ≥ ½): ρ_ci = 2u·β_i^t / c_i — about 700u for c2 at t = 2, 3
        //   denominator √v/√c2 + ε (positive terms; √c2 formed in Double: ρ_c2/2 + u; then √v, the
        //     division and the sum): ρ_den = e_v/(2v) + ρ_c2/2 + 4u
        //   step η/c1 in Double: ρ_s = ρ_c1 + u; direction (η/c1)·m/den, two roundings:
        //     e_dir = |dir|(ρ_s + ρ_den + 2u) + (η/c1)e_m/den
        //   W ← W − dir:                                          e_W ← e_W + e_dir + u|W|
        let u = Double.unitRoundoff
        let etaWd = (1e-3 * 1e-2), rhoDecay = u * etaWd / (1 - etaWd) + u
        var eW = [Double](repeating: 0, count: 12), eM = eW, eV = eW
        for t in 1...3 {
            let c1 = 1 - B.pow(beta1, t), c2 = 1 - B.pow(beta2, t)
            let rhoC1 = 2 * u * (B.pow(beta1, t) / c1).doubleValue, rhoC2 = 2 * u * (B.pow(beta2, t) / c2).doubleValue
            let decayed = wr.scaled(by: 1 - eta * wd)
            let mNew = try m.adding(try g.subtracting(m).scaled(by: 1 - beta1))
            let vNew = try v.scaled(by: beta2).adding(g.hadamard(g).scaled(by: 1 - beta2))
            var next = decayed
            for i in 0..<12 {
                let (r, c) = (i / 4, i % 4)
                eW[i] = (1 - 1e-5) * eW[i] + (rhoDecay + u) * decayed[r, c].magnitude.doubleValue
                eM[i] = 0.9 * eM[i] + 2 * u * 0.1 * (g[r, c] - m[r, c]).magnitude.doubleValue + u * mNew[r, c].magnitude.doubleValue
                eV[i] = 0.999 * eV[i] + Double.gammaBound(3) * vNew[r, c].doubleValue
                let den = B.sqrt(vNew[r, c]) / B.sqrt(c2) + epsilon
                let dir = eta / c1 * mNew[r, c] / den
                let rhoDen = eV[i] / (2 * vNew[r, c].doubleValue) + rhoC2 / 2 + 4 * u
                let eDir = dir.magnitude.doubleValue * (rhoC1 + u + rhoDen + 2 * u) + (eta / c1 / den).doubleValue * eM[i]
                next[r, c] = decayed[r, c] - dir
                eW[i] += eDir + u * next[r, c].magnitude.doubleValue
            }
            wr = next; m = mNew; v = vNew
        }
        for i in 0..<12 {
            let err = (B(w[0][i / 4, i % 4]) - wr[i / 4, i % 4]).magnitude.doubleValue
            #expect(err <= eW[i], "entry \(i): \(err) > \(eW[i])")
        }
    }

    /// KFAC-F (§4.4) at t = 1: ε_1 = 0 so A = A_b, G = G_b; π = √(τ(A)/τ(G)); γ = √λ;
    /// Δ = (G + γ/π I)⁻¹ ∇W (A + πγ I)⁻¹; KL clip ν; W ← W − η ν Δ (momentum buffer starts as a copy).
    /// KFAC-I damps both factors by γ; KFAC-E solves (A ⊗ G + λI) vec Δ = vec ∇W. The reference below is
    /// written with plain loops (`Oracle`, `DenseOracle`: Gauss–Jordan, not the library's Cholesky).
    ///
    /// Bound: `KFACTruthBounds`, carried by `KFACTruthOracle` (each term derived there). For KFAC-F/I it is,
    /// to first order, ‖Ŵ₁ − W₁‖_F ≤ η(ν‖Δ̂ − Δ‖_F + |ν̂ − ν|‖Δ‖_F) + γ_4·ην‖Δ‖_F + γ_3(‖W₀‖_F + ην‖Δ‖_F)
    /// with ‖Δ̂ − Δ‖_F ≤ ‖∇W‖_F(‖X̂_G − X_G‖_F‖X_A‖_F + ‖X_G‖_F‖X̂_A − X_A‖_F + (γ_{d_i} + γ_{d_o})‖X_G‖_F‖X_A‖_F)
    /// and ‖X̂ − X‖_F ≤ ‖X‖_F²‖E‖_F + (d·γ_{3d+1}·κ(M) + u)‖X‖_F for each damped factor M (perturbation of
    /// the data E, then Cholesky's backward error, Higham Thm 10.4). This replaces the earlier comment's
    /// c(n) = 3n (which left out the data's error and the products) and the code's 36u(κA+κG)·max(κA,κG),
    /// which matched neither.
    @Test(arguments: [KFAC<Uniform<Double>>.Variant.factored, .identity, .eigen])
    func kfacMatchesSection4_4(variant: KFAC<Uniform<Double>>.Variant) throws {
        let (abar, ghat, grad, w0) = Independent.layer(seed: 3)
        var h = KFAC<Uniform<Double>>.Hyperparameters()
        h.variant = variant; h.damping = 1e-2; h.learningRate = 0.1
        var opt = KFAC<Uniform<Double>>(h)
        var w = [w0]
        _ = try opt.step(weights: &w, layers: [LayerStatistics(inputs: abar, outputGradients: ghat, gradient: grad)], step: 1)
        let ab = abar.converted(to: B.self), gb = ghat.converted(to: B.self), g = grad.converted(to: B.self)
        let a = Oracle.map(DenseOracle.product(ab, Independent.transpose(ab))) { $0 / 5 }
        let gg = Oracle.map(DenseOracle.product(gb, Independent.transpose(gb))) { $0 / 5 }
        let lambda = B(1e-2), gamma = B.sqrt(lambda)
        var delta: Matrix<B>
        switch variant {
        case .factored:
            let pi = B.sqrt((Oracle.trace(a) / 4) / (Oracle.trace(gg) / 3))
            delta = DenseOracle.product(DenseOracle.inverse(Oracle.addingDiagonal(gg, gamma / pi)),
                                        DenseOracle.product(g, DenseOracle.inverse(Oracle.addingDiagonal(a, pi * gamma))))
        case .identity:
            delta = DenseOracle.product(DenseOracle.inverse(Oracle.addingDiagonal(gg, gamma)),
                                        DenseOracle.product(g, DenseOracle.inverse(Oracle.addingDiagonal(a, gamma))))
        case .eigen:
            // (A ⊗ G + λI)⁻¹ vec(∇W) by the explicit 12×12 Kronecker matrix (column-stacking vec)
            let x = DenseOracle.product(DenseOracle.inverse(Oracle.kronecker(a, gg, plus: lambda)), Oracle.vec(g))
            delta = Oracle.unvec(x, rows: 3, columns: 4)
        }
        var s = B(0)
        for (d, gv) in zip(delta.elements, g.elements) { s += d * gv }
        s = s * B(0.1) * B(0.1)
        let nu = min(B(1), B.sqrt(B(1e-3) / s.magnitude))
        let wr = Oracle.combination(1, w0.converted(to: B.self), -nu * B(0.1), delta)

        var c = KFACTruthOracle.Configuration()
        c.variant = variant.rawValue; c.damping = 1e-2; c.learningRate = 0.1; c.emaMax = 0.95; c.inverseInterval = 10
        c.momentum = 0.9; c.weightDecay = 0; c.klClip = 1e-3
        var oracle = KFACTruthOracle(c, bounds: KFACTruthBounds(Double.self), weights: [w0.converted(to: B.self)])
        _ = oracle.step(1, [.init(abar: ab, ghat: gb, grad: g)])
        // The two MPFR-256 evaluations of the same equations differ by MPFR rounding amplified by κ ≪ 2¹²⁸.
        #expect(Oracle.distance(oracle.weights[0], wr) <= B.unitRoundoff.squareRoot() * Oracle.frobenius(wr).doubleValue)
        let bound = oracle.weightBound[0]
        #expect(Oracle.distance(w[0], wr) <= bound)
        // the bound is not vacuous: it resolves the update ηνΔ to at least half of Double's digits
        #expect(bound <= Double.unitRoundoff.squareRoot() * Oracle.distance(w0, wr))
    }

    /// IKFAC (§5.5): from K₀ = I (implied S₀ = (1 − λ)I), one step with factor learning rate β1 gives
    /// K₁K₁ᵀ = (S₁ + λI)⁻¹ + O(β1²) with S₁ = (1 − β1)S₀ + β1 A_b. All in MPFR-256 (rounding ≪ β1²
    /// down to β1 = 1e-4). The fitted log–log slope of the relative gap must be 2 ± 0.2 (claim R1, Docs/Claims.md).
    @Test func ikfacTracksKFACToSecondOrder() throws {
        let (abar, ghat, grad, w0) = Independent.layer(seed: 4)
        let stats = [LayerStatistics(inputs: abar.converted(to: B.self), outputGradients: ghat.converted(to: B.self), gradient: grad.converted(to: B.self))]
        let ab = abar.converted(to: B.self)
        let aB = DenseOracle.product(ab, Independent.transpose(ab)).map { $0 / 5 }
        let lambda = 1e-3
        var points = [(Double, Double)]()
        for beta1 in [1e-1, 1e-2, 1e-3, 1e-4] {
            var h = SINGD<Uniform<B>>.Hyperparameters()
            h.kfacLike = true; h.factorLearningRate = beta1; h.damping = lambda; h.interval = 1; h.expensiveMonitors = false
            var opt = SINGD<Uniform<B>>(h)
            var w = [w0.converted(to: B.self)]
            _ = try opt.step(weights: &w, layers: stats, step: 1)
            let kkt = DenseOracle.product(opt.k[0], Independent.transpose(opt.k[0]))
            let s1 = try Matrix<B>.identity(4).scaled(by: (1 - B(beta1)) * (1 - B(lambda))).adding(aB.scaled(by: B(beta1)))
            let target = DenseOracle.inverse(s1.addingToDiagonal(B(lambda)))
            points.append((beta1, Independent.relativeDifference(kkt, target)))
        }
        let xs = points.map { Double.log10($0.0) }, ys = points.map { Double.log10($0.1) }
        let mx = xs.reduce(0, +) / 4, my = ys.reduce(0, +) / 4
        let slope = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        #expect(abs(slope - 2) <= 0.2, "slope \(slope), points \(points)")
    }
}

@Suite struct SINGDStructures {
    /// Small parameters so that d = 5 and 6 exercise every block: hierarchical (2, 1) has blocks 2, m, 1.
    static let structures: [FactorStructure] = [.dense, .diagonal, .blockDiagonal(size: 2), .hierarchical(k1: 2, k2: 1), .lowerToeplitz,
                                                .upperToeplitz, .lowerBottomRightDiagonal, .lowerTopLeftDiagonal,
                                                .upperBottomRightDiagonal, .upperTopLeftDiagonal]

    static func structured(_ s: FactorStructure, seed: UInt64) -> Matrix<Double> {
        var rng = SplitMix64(seed: seed)
        // small integers: products are exact, so structure must hold bitwise
        let base = Matrix<Double>(rows: 5, columns: 5) { _, _ in Double(rng.nextInt(below: 7)) - 3 }
        return s.extract(base)
    }

    @Test(arguments: structures)
    func productsStayInStructure(structure: FactorStructure) throws {
        let k1 = Self.structured(structure, seed: 1), k2 = Self.structured(structure, seed: 2)
        let p = try matmul(k1, k2, accumulation: .perOperation)
        #expect(structure.extract(p) == p)
    }

    @Test(arguments: structures)
    func projectionPreservesTrace(structure: FactorStructure) throws {
        var rng = SplitMix64(seed: 9)
        let a = Matrix<Double>(rows: 6, columns: 6) { _, _ in Double(rng.nextInt(below: 9)) - 4 }
        let m = try a.adding(a.transposed)               // symmetric, integer
        // exact in exact arithmetic; Toeplitz forms t₀ = (Σ M_ii)/d and the trace sums d copies of it:
        // at most γ_{2d+1}·Σ|M_ii| in floating point (sum, division, sum). Other structures copy the diagonal.
        let absDiag = m.diagonalElements.reduce(0) { $0 + abs($1) }
        #expect(abs(structure.project(m).trace - m.trace) <= Double.gammaBound(2 * m.rows + 1) * absDiag)
    }

    /// Doubling rule (§5.7): for a triangular structure, m + mᵀ reproduces 2M on the kept pattern
    /// (here checked for Toeplitz on a symmetric Toeplitz M, where the projection is exact).
    @Test func toeplitzProjectionDoublesOffDiagonal() {
        let m = Matrix<Double>(rows: 4, columns: 4) { i, j in Double([5, 2, 1, 3][abs(i - j)]) }
        let p = FactorStructure.lowerToeplitz.project(m)
        #expect(p[0, 0] == 5 && p[1, 0] == 4 && p[2, 0] == 2 && p[3, 0] == 6 && p[0, 1] == 0)
    }

    /// §5.7's derivation: `m + mᵀ` reproduces `2M` wherever the pattern or its mirror reaches, and is
    /// zero elsewhere (exact here: integer M, and doubling is exact). Toeplitz averages instead.
    @Test(arguments: structures.filter { $0 != .lowerToeplitz && $0 != .upperToeplitz })
    func projectionDoublesWhatItsMirrorLacks(structure: FactorStructure) throws {
        var rng = SplitMix64(seed: 11)
        let a = Matrix<Double>(rows: 6, columns: 6) { _, _ in Double(rng.nextInt(below: 9)) - 4 }
        let m = try a.adding(a.transposed)
        let p = structure.project(m)
        for i in 0..<6 { for j in 0..<6 {
            let reached = structure.contains(i, j, dimension: 6) || structure.contains(j, i, dimension: 6)
            #expect(p[i, j] + p[j, i] == (reached ? 2 * m[i, j] : 0), "\(structure) at (\(i), \(j))")
            if !structure.contains(i, j, dimension: 6) { #expect(p[i, j] == 0) }
        } }
        #expect(structure.contains(0, 0, dimension: 6) && structure.contains(5, 5, dimension: 6), "the identity is in every structure")
    }

    /// The hierarchical pattern of §5.7 written out for d = 6, (k1, k2) = (2, 1): blocks 2, 3, 1.
    @Test func hierarchicalPatternMatchesTheSpecification() {
        let s = FactorStructure.hierarchical(k1: 2, k2: 1)
        let expected = [
            "xxxxxx",
            "xxxxxx",
            "..x...",
            "...x..",
            "....x.",
            "..xxxx",
        ]
        let drawn = (0..<6).map { i in String((0..<6).map { j in s.contains(i, j, dimension: 6) ? "x" : "." }) }
        #expect(drawn == expected)
        // d ≤ k1: dense; k1 < d ≤ k1 + k2: no middle block.
        #expect((0..<2).allSatisfy { i in (0..<2).allSatisfy { s.contains(i, $0, dimension: 2) } })
        #expect(!s.contains(2, 0, dimension: 3) && !s.contains(2, 1, dimension: 3) && s.contains(2, 2, dimension: 3) && s.contains(0, 2, dimension: 3))
    }

    @Test func namesParse() {
        #expect(FactorStructure(name: "block30diagonal") == .blockDiagonal(size: 30))
        #expect(FactorStructure(name: "hierarchical15_15") == .hierarchical(k1: 15, k2: 15))
        for s in FactorStructure.allKinds { #expect(FactorStructure(name: s.description) == s) }
        #expect(FactorStructure(name: "hierarchical15") == nil && FactorStructure(name: "lowrank") == nil)
    }
}

@Suite struct Descent {
    /// Every optimizer lowers the training loss of a small tanh MLP (Double) over 50 steps from the
    /// same start, with its default hyperparameters (learning rates from Docs/Optimizers.md defaults).
    static func train<O: Optimizer>(_ opt: O) throws -> (Double, Double) where O.Policy == Uniform<Double> {
        var o = opt
        return try SmallTraining.train { w, layers, t, _ in _ = try o.step(weights: &w, layers: layers, step: t) }
    }

    @Test func everyOptimizerLowersTheLoss() throws {
        var singdDiag = SINGD<Uniform<Double>>.Hyperparameters(); singdDiag.structureK = .diagonal; singdDiag.structureC = .diagonal
        var singdHier = SINGD<Uniform<Double>>.Hyperparameters(); singdHier.structureK = .hierarchical(k1: 3, k2: 3); singdHier.structureC = .lowerBottomRightDiagonal
        var ikfac = SINGD<Uniform<Double>>.Hyperparameters(); ikfac.kfacLike = true
        let runs: [(String, (Double, Double))] = [
            ("sgd", try Self.train(SGD<Uniform<Double>>(.init(learningRate: 0.1)))),
            ("momentum", try Self.train(SGD<Uniform<Double>>(.init(learningRate: 0.1, momentum: 0.9)))),
            ("nesterov", try Self.train(SGD<Uniform<Double>>(.init(learningRate: 0.1, momentum: 0.9, nesterov: true)))),
            ("adam", try Self.train(Adam<Uniform<Double>>())),
            ("adamw", try Self.train(Adam<Uniform<Double>>(.adamW))),
            ("kfac-f", try Self.train(KFAC<Uniform<Double>>())),
            ("singd", try Self.train(SINGD<Uniform<Double>>())),
            ("singd-diag", try Self.train(SINGD<Uniform<Double>>(singdDiag))),
            ("singd-hierarchical/tril-diagonal", try Self.train(SINGD<Uniform<Double>>(singdHier))),
            ("ikfac", try Self.train(SINGD<Uniform<Double>>(ikfac))),
        ]
        for (name, (initial, final)) in runs { #expect(final < initial, "\(name): \(initial) → \(final)") }
    }
}
