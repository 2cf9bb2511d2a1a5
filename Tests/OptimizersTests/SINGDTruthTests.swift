import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// SINGD and IKFAC (Docs/Optimizers.md §5.4, structures §5.7) over several steps against an independent
/// MPFR-256 evaluation of the specification.
///
/// The run starts from an imported state with `K, C ≠ I` (so `λ·τ(P)·P` differs from `λ·I` and
/// `τ(P) ≠ 1`), non-zero Riemannian momenta `m_K, m_C` and a non-zero weight momentum. After every
/// step, K, C, m_K, m_C, the momentum buffer b and W must lie inside the rigorous rounding envelope
/// (`Enclosure`, running error analysis in the unit roundoff u of the type under test) of the exact
/// values of §5.4's statements: `|computed − exact| ≤ e` entrywise. Structures are projected and read
/// by this file's own transcription of §5.7's table; nothing of the optimizer or of the library's
/// kernels is called by the oracle.
@Suite struct SINGDTruth {
    typealias B = BigFloat256

    /// §5.7's structures, written out independently of `FactorStructure` (used only to configure).
    enum Pattern: Sendable, CustomStringConvertible {
        case dense, diagonal, block(Int), hierarchical(Int, Int), lowerToeplitz, upperToeplitz

        var description: String {
            switch self {
            case .dense: "dense"
            case .diagonal: "diagonal"
            case .block(let b): "block\(b)"
            case .hierarchical(let a, let b): "hierarchical\(a)_\(b)"
            case .lowerToeplitz: "tril-toeplitz"
            case .upperToeplitz: "triu-toeplitz"
            }
        }

        var structure: FactorStructure {
            switch self {
            case .dense: .dense
            case .diagonal: .diagonal
            case .block(let b): .blockDiagonal(size: b)
            case .hierarchical(let a, let b): .hierarchical(k1: a, k2: b)
            case .lowerToeplitz: .lowerToeplitz
            case .upperToeplitz: .upperToeplitz
            }
        }

        /// Hierarchical block (0: A, 1: diag(c), 2: E) of index i, sizes as §5.7 says.
        static func hierarchicalBlock(_ i: Int, d: Int, k1: Int, k2: Int) -> Int {
            let (first, middle): (Int, Int) = d <= k1 ? (d, 0) : (d <= k1 + k2 ? (k1, 0) : (k1, d - k1 - k2))
            return i < first ? 0 : (i < first + middle ? 1 : 2)
        }

        /// Whether entry (i, j) of a d×d factor belongs to the structure.
        func keeps(_ i: Int, _ j: Int, _ d: Int) -> Bool {
            switch self {
            case .dense: return true
            case .diagonal: return i == j
            case .block(let b): return i / b == j / b
            case .hierarchical(let k1, let k2):
                // [[A, B12, B13], [0, diag(c), 0], [0, D32, E]]
                switch (Self.hierarchicalBlock(i, d: d, k1: k1, k2: k2), Self.hierarchicalBlock(j, d: d, k1: k1, k2: k2)) {
                case (0, _): return true
                case (1, 1): return i == j
                case (2, 1), (2, 2): return true
                default: return false
                }
            case .lowerToeplitz: return i >= j
            case .upperToeplitz: return j >= i
            }
        }

        func entries(_ d: Int) -> [(Int, Int)] { (0..<d).flatMap { i in (0..<d).compactMap { j in keeps(i, j, d) ? (i, j) : nil } } }

        /// Π(M) of a symmetric M (§5.7 table). Dense/diagonal/block: keep; hierarchical: the blocks
        /// B12, B13, D32 doubled (a power-of-two scaling: exact); Toeplitz: t₀ = mean of the diagonal,
        /// t_k = (Σ_i M_{i+k,i} + Σ_i M_{i,i+k})/(d − k).
        func project(_ m: Enclosure, _ r: RoundingModel) -> Enclosure {
            let d = m.rows
            switch self {
            case .dense, .diagonal, .block: return r.masked(m) { keeps($0, $1, d) }
            case .hierarchical(let k1, let k2):
                var p = r.masked(m) { keeps($0, $1, d) }
                for i in 0..<d { for j in 0..<d where keeps(i, j, d) {
                    let (bi, bj) = (Self.hierarchicalBlock(i, d: d, k1: k1, k2: k2), Self.hierarchicalBlock(j, d: d, k1: k1, k2: k2))
                    if bi != bj { p.v[i, j] = 2 * m.v[i, j]; p.e[i, j] = 2 * m.e[i, j] }
                } }
                return p
            case .lowerToeplitz, .upperToeplitz:
                var t = [ScalarEnclosure]()
                for k in 0..<d {
                    let terms = (0..<(d - k)).map { ($0 + k, $0) } + (k > 0 ? (0..<(d - k)).map { ($0, $0 + k) } : [])
                    let s = r.sum(m, over: terms)
                    let n = B(Double(d - k))
                    t.append(ScalarEnclosure(v: s.v / n, e: (s.e + r.u * s.magnitude) / n))
                }
                let lower = { if case .lowerToeplitz = self { return true } else { return false } }()
                return Enclosure(v: Matrix(rows: d, columns: d) { i, j in lower ? (i >= j ? t[i - j].v : 0) : (j >= i ? t[j - i].v : 0) },
                                 e: Matrix(rows: d, columns: d) { i, j in lower ? (i >= j ? t[i - j].e : 0) : (j >= i ? t[j - i].e : 0) })
            }
        }

        /// Reads a structured matrix (a product of two members): Toeplitz by its first column (row),
        /// every other structure by zeroing what lies outside the pattern.
        func extract(_ m: Enclosure, _ r: RoundingModel) -> Enclosure {
            let d = m.rows
            switch self {
            case .lowerToeplitz:
                return Enclosure(v: Matrix(rows: d, columns: d) { i, j in i >= j ? m.v[i - j, 0] : 0 },
                                 e: Matrix(rows: d, columns: d) { i, j in i >= j ? m.e[i - j, 0] : 0 })
            case .upperToeplitz:
                return Enclosure(v: Matrix(rows: d, columns: d) { i, j in j >= i ? m.v[0, j - i] : 0 },
                                 e: Matrix(rows: d, columns: d) { i, j in j >= i ? m.e[0, j - i] : 0 })
            default: return r.masked(m) { keeps($0, $1, d) }
            }
        }

        /// A member of the structure from a dense matrix (Toeplitz: its first column or row).
        func member(_ m: Matrix<Double>) -> Matrix<Double> {
            let d = m.rows
            switch self {
            case .lowerToeplitz: return Matrix(rows: d, columns: d) { i, j in i >= j ? m[i - j, 0] : 0 }
            case .upperToeplitz: return Matrix(rows: d, columns: d) { i, j in j >= i ? m[0, j - i] : 0 }
            default: return Matrix(rows: d, columns: d) { keeps($0, $1, d) ? m[$0, $1] : 0 }
            }
        }
    }

    struct Config: Sendable, CustomStringConvertible {
        var name: String
        var k: Pattern
        var c: Pattern
        var kfacLike = false
        var normalize = true
        var interval = 1
        var steps = 3
        var description: String { name }
    }

    /// d_o = 5, d_i = 6: block size 2 and hierarchical (2, 1) exercise every block (d_i: 2, 3, 1;
    /// d_o: 2, 2, 1). Intervals 2 and 3 make the factor update fire three times among skipped steps.
    static let configs: [Config] = [
        Config(name: "dense/dense, normalised β1, T = 1", k: .dense, c: .dense),
        Config(name: "diagonal/block2, plain β1, T = 2", k: .diagonal, c: .block(2), normalize: false, interval: 2, steps: 5),
        Config(name: "tril-toeplitz/hierarchical2_1, normalised β1, T = 1", k: .lowerToeplitz, c: .hierarchical(2, 1)),
        Config(name: "hierarchical2_1/triu-toeplitz, normalised β1, T = 3", k: .hierarchical(2, 1), c: .upperToeplitz, interval: 3, steps: 7),
        Config(name: "block2/diagonal, plain β1, T = 1", k: .block(2), c: .diagonal, normalize: false),
        Config(name: "IKFAC dense/tril-toeplitz, T = 2", k: .dense, c: .lowerToeplitz, kfacLike: true, interval: 2, steps: 5),
    ]

    static let dOut = 5, dIn = 6, batch = 7

    /// Hyperparameters: α1 = 0.75 and α2 = 0.9 (neither 1/2, so β and 1 − β cannot be confused),
    /// damping λ = 0.05 large enough to move the factors, weight decay γ = 0.02.
    static func hyperparameters(_ c: Config) -> SINGD<Uniform<Double>>.Hyperparameters {
        var h = SINGD<Uniform<Double>>.Hyperparameters()
        h.learningRate = 0.1; h.momentum = 0.9; h.damping = 0.05; h.alpha1 = 0.75; h.weightDecay = 0.02
        h.interval = c.interval; h.factorLearningRate = c.normalize ? 0.1 : 0.03
        h.structureK = c.k.structure; h.structureC = c.c.structure
        h.kfacLike = c.kfacLike; h.normalizeFactorLearningRate = c.normalize; h.expensiveMonitors = false
        return h
    }

    /// One batch: Ā (d_i×N, last row ones, inputs of scale 3 and Ĝ (d_o×N) of scale 1.5, so that
    /// ‖m‖_max exceeds 1 and the normalisation acts) and ∇W = ĜĀᵀ/N, formed in Double and rounded once to T.
    static func batch<T: Scalar>(_ t: Int, _: T.Type) -> LayerStatistics<T> {
        var g = SplitMix64(seed: 500 + UInt64(t))
        let a = Matrix<Double>(rows: dIn, columns: batch) { i, _ in i == dIn - 1 ? 1 : 3 * g.nextGaussian() }
        let gh = Matrix<Double>(rows: dOut, columns: batch) { _, _ in 1.5 * g.nextGaussian() }
        let grad = Matrix<Double>(rows: dOut, columns: dIn) { i, j in (0..<batch).reduce(0.0) { $0 + gh[i, $1] * a[j, $1] } / Double(batch) }
        return LayerStatistics(inputs: a.converted(to: T.self), outputGradients: gh.converted(to: T.self), gradient: grad.converted(to: T.self))
    }

    struct State {
        var k, c, mK, mC, buffer, w: Enclosure
    }

    /// The starting state: K = Π(I + 0.25R), C likewise (members of their structures, ≠ I), momenta
    /// 0.3R in the structure, buffer 0.1R, W = R; every value rounded to T (the state T holds).
    static func start<T: Scalar>(_ config: Config, _: T.Type) -> (OptimizerState, [Matrix<T>], State) {
        var g = SplitMix64(seed: 77)
        func gaussian(_ r: Int, _ c: Int, _ s: Double) -> Matrix<Double> { Matrix(rows: r, columns: c) { _, _ in s * g.nextGaussian() } }
        func round(_ m: Matrix<Double>) -> Matrix<Double> { m.converted(to: T.self).converted(to: Double.self) }
        let k = round(config.k.member(Matrix(rows: dIn, columns: dIn) { i, j in (i == j ? 1 : 0) + 0.25 * g.nextGaussian() }))
        let c = round(config.c.member(Matrix(rows: dOut, columns: dOut) { i, j in (i == j ? 1 : 0) + 0.25 * g.nextGaussian() }))
        let mK = round(config.k.member(gaussian(dIn, dIn, 0.3))), mC = round(config.c.member(gaussian(dOut, dOut, 0.3)))
        let buffer = round(gaussian(dOut, dIn, 0.1)), w = round(gaussian(dOut, dIn, 1))
        let name = SINGD<Uniform<T>>(hyperparameters(config).retyped(T.self)).name
        var s = OptimizerState(optimizer: name, layerShapes: [.init(rows: dOut, columns: dIn)])
        s.matrices = ["K": [k], "C": [c], "m_K": [mK], "m_C": [mC], "buffer": [buffer]]
        let state = State(k: Enclosure(exact: k), c: Enclosure(exact: c), mK: Enclosure(exact: mK), mC: Enclosure(exact: mC),
                          buffer: Enclosure(exact: buffer), w: Enclosure(exact: w))
        return (s, [w.converted(to: T.self)], state)
    }

    /// §5.4 steps 1–11 for one step t, statement by statement, on enclosures.
    static func oracleStep<T: Scalar>(_ s: State, _ x: LayerStatistics<T>, t: Int, config: Config, _: T.Type) -> State {
        let r = RoundingModel(T.self)
        let h = hyperparameters(config)
        func constant(_ v: Double) -> ScalarEnclosure { ScalarEnclosure(exact: T(v).doubleValue) }   // §1.3: rounded once to T
        var n = s
        if (t - 1) % h.interval == 0 {
            let xK = Enclosure(exact: x.inputs), xC = Enclosure(exact: x.outputGradients)
            // 2. H_K = Π_K((KᵀX_K)(KᵀX_K)ᵀ) with X = Ā/√N, formed as (KᵀĀ)(KᵀĀ)ᵀ/N
            let ka = r.product(s.k.transposed, xK), cg = r.product(s.c.transposed, xC)
            let hK = config.k.project(r.divide(r.product(ka, ka.transposed), byInteger: batch), r)
            let hC = config.c.project(r.divide(r.product(cg, cg.transposed), byInteger: batch), r)
            // 3. P_K = Π_K(KᵀK), P_C = Π_C(CᵀC)
            let pK = config.k.project(r.product(s.k.transposed, s.k), r)
            let pC = config.c.project(r.product(s.c.transposed, s.c), r)
            let lambda = constant(h.damping)
            let newMK: Enclosure, newMC: Enclosure
            if config.kfacLike {
                // 4. IKFAC: M = ½(H + λP − I)
                let half = constant(0.5)
                newMK = r.scale(r.addingToDiagonal(r.add(hK, r.scale(pK, lambda)), -1), half)
                newMC = r.scale(r.addingToDiagonal(r.add(hC, r.scale(pC, lambda)), -1), half)
            } else {
                // 4. SINGD: M_K = s[τ(H_C)H_K + λτ(P_C)P_K − I], M_C = s[τ(H_K)H_C + λτ(P_K)P_C − I]
                let scale = constant(config.normalize ? 0.5 * (1 - h.alpha1) : 0.5)
                let (tHK, tHC, tPK, tPC) = (r.averageTrace(hK), r.averageTrace(hC), r.averageTrace(pK), r.averageTrace(pC))
                newMK = r.scale(r.addingToDiagonal(r.add(r.scale(hK, tHC), r.scale(pK, r.multiply(lambda, tPC))), -1), scale)
                newMC = r.scale(r.addingToDiagonal(r.add(r.scale(hC, tHK), r.scale(pC, r.multiply(lambda, tPK))), -1), scale)
            }
            // 5. Riemannian momentum (α1 = 0 for IKFAC)
            if config.kfacLike {
                n.mK = newMK; n.mC = newMC
            } else {
                let a1 = constant(h.alpha1)
                n.mK = r.add(r.scale(s.mK, a1), newMK); n.mC = r.add(r.scale(s.mC, a1), newMC)
            }
            // 6. β1 ← β1 / max(1, ‖m‖_max) over the stored parameters
            let beta1 = constant(h.factorLearningRate)
            func normalised(_ m: Enclosure, _ p: Pattern) -> ScalarEnclosure {
                guard config.normalize else { return beta1 }
                let mx = r.maxAbs(m, over: p.entries(m.rows))
                if mx.v + mx.e <= 1 { return beta1 }                    // max(1, ·) = 1 exactly
                precondition(mx.v - mx.e > 1, "‖m‖_max within rounding of 1: the branch is ambiguous, change the data")
                return r.divide(beta1, mx)
            }
            let b1K = normalised(n.mK, config.k), b1C = normalised(n.mC, config.c)
            // 7. K ← K − β1K·(K m_K), read back into the structure
            n.k = config.k.extract(r.subtract(s.k, r.scale(r.product(s.k, n.mK), b1K)), r)
            n.c = config.c.extract(r.subtract(s.c, r.scale(r.product(s.c, n.mC), b1C)), r)
        }
        // 8. U = C Cᵀ ∇W K Kᵀ, evaluated as C(Cᵀ((∇W K)Kᵀ)) (= C(Cᵀ((K(Kᵀ∇Wᵀ))ᵀ)) of §5.4)
        let g = Enclosure(exact: x.gradient)
        var u = r.product(n.c, r.product(n.c.transposed, r.product(r.product(g, n.k), n.k.transposed)))
        // 9. U ← U + γW;  10. b ← α2 b + U;  11. W ← W − β2 b
        u = r.add(u, r.scale(s.w, constant(h.weightDecay)))
        n.buffer = r.add(r.scale(s.buffer, constant(h.momentum)), u)
        n.w = r.subtract(s.w, r.scale(n.buffer, constant(h.learningRate)))
        return n
    }

    func run<T: Scalar>(_ config: Config, _: T.Type) throws {
        let (imported, w0, start) = Self.start(config, T.self)
        var opt = SINGD<Uniform<T>>(Self.hyperparameters(config).retyped(T.self))
        try opt.importState(imported)
        var w = w0, truth = start
        var normalisationActed = false
        for t in 1...config.steps {
            let x = Self.batch(t, T.self)
            _ = try opt.step(weights: &w, layers: [x], step: t)
            let previous = truth
            truth = Self.oracleStep(truth, x, t: t, config: config, T.self)
            if config.normalize && (t - 1) % config.interval == 0 {
                let r = RoundingModel(T.self)
                normalisationActed = normalisationActed || r.maxAbs(truth.mK, over: config.k.entries(Self.dIn)).v > 1
                    || r.maxAbs(truth.mC, over: config.c.entries(Self.dOut)).v > 1
            }
            for (label, enclosure, before, computed) in [("K", truth.k, previous.k, opt.k[0]), ("C", truth.c, previous.c, opt.c[0]),
                                                         ("m_K", truth.mK, previous.mK, opt.mK[0]), ("m_C", truth.mC, previous.mC, opt.mC[0]),
                                                         ("b", truth.buffer, previous.buffer, opt.buffer[0]), ("W", truth.w, previous.w, w[0])] {
                let worst = enclosure.worstRatio(computed)
                #expect(worst.ratio <= 1, """
                    \(T.formatName) \(config.name) step \(t) \(label)[\(worst.i), \(worst.j)]: computed \(worst.computed), \
                    exact \(worst.exact), bound \(worst.bound) (ratio \(worst.ratio))
                    """)
                #expect(enclosure.resolvesChange(from: before) != false, "\(config.name) step \(t) \(label): envelope wider than the step's change")
            }
        }
        if config.normalize { #expect(normalisationActed, "\(config.name): ‖m_K‖_max and ‖m_C‖_max never exceeded 1, the normalisation was not exercised") }
    }

    @Test(arguments: configs)
    func everyStateMatchesSection5_4InDouble(config: Config) throws { try run(config, Double.self) }

    @Test(arguments: configs)
    func everyStateMatchesSection5_4InFloat(config: Config) throws { try run(config, Float.self) }
}

extension SINGD.Hyperparameters {
    /// The same settings for another policy.
    func retyped<T: Scalar>(_: T.Type) -> SINGD<Uniform<T>>.Hyperparameters {
        var h = SINGD<Uniform<T>>.Hyperparameters()
        h.learningRate = learningRate; h.momentum = momentum; h.damping = damping; h.alpha1 = alpha1; h.weightDecay = weightDecay
        h.interval = interval; h.factorLearningRate = factorLearningRate; h.structureK = structureK; h.structureC = structureC
        h.kfacLike = kfacLike; h.normalizeFactorLearningRate = normalizeFactorLearningRate; h.expensiveMonitors = expensiveMonitors
        return h
    }
}
