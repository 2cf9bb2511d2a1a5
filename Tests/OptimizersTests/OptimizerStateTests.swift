import Testing
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// `exportState` / `importState` (`OptimizerState`): for every optimizer, a state moved into a fresh
/// optimizer of the same configuration continues bit for bit; a low-precision state arrives in MPFR
/// unchanged; a state that does not fit is a named error, never a crash.
@Suite struct OptimizerStateTransfer {
    typealias BF16SR = SimulatedFloat<Rounded<BFloat16Format, Stochastic>>

    /// One configuration of every method, chosen so that the state held between steps is not trivial:
    /// refresh intervals of 2 (inverses, roots and factors kept across a step), momentum, weight decay,
    /// AdaGrad grafting, MKOR's warm-up and MKOR-H's loss windows, RLLC's law correction.
    enum Method: String, CaseIterable, Sendable, CustomStringConvertible {
        case sgd, momentum, nesterov, adam, adamw
        case kfacF = "kfac-f", kfacE = "kfac-e", kfacI = "kfac-i", kfacLM = "kfac-lm"
        case singd, ikfac, singdStructured = "singd-diagonal-toeplitz"
        case shampoo, shampooPaper = "shampoo-paper", jorge
        case mkor, mkorEMA = "mkor-ema", mkorHAdam = "mkor-h-adam"
        case rllc

        var description: String { rawValue }

        /// Built in a fixed stochastic-rounding context: with stochastic rounding, the constants rounded
        /// in `init` depend on the context's bits, and two instances of "the same configuration" must
        /// hold the same constants (they are configuration, not state).
        func make<P: PrecisionPolicy>(_: P.Type) throws -> any Optimizer {
            try StochasticRounding.withContext(seed: 17, stream: 17) { try build(P.self) }
        }

        func build<P: PrecisionPolicy>(_: P.Type) throws -> any Optimizer {
            switch self {
            case .sgd: return SGD<P>(.init(learningRate: 0.1, weightDecay: 1e-2))
            case .momentum: return SGD<P>(.init(learningRate: 0.1, momentum: 0.9, dampening: 0.1))
            case .nesterov: return SGD<P>(.init(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-2, nesterov: true))
            case .adam: return Adam<P>(.init(learningRate: 1e-2, weightDecay: 1e-2))
            case .adamw:
                var h = Adam<P>.Hyperparameters.adamW
                h.biasCorrection = .moments; h.firstMoment = .multiplyAdd
                return Adam<P>(h)
            case .kfacF, .kfacE, .kfacI:
                var h = KFAC<P>.Hyperparameters()
                h.variant = self == .kfacF ? .factored : (self == .kfacE ? .eigen : .identity)
                h.damping = 1e-2; h.inverseInterval = 2; h.weightDecay = 1e-3
                h.fallback = self == .kfacI ? .rawGradient : .keepPrevious
                return KFAC<P>(h)
            case .kfacLM:
                // λ, γ and δ_prev all change within 3 steps: ρ rule and γ re-tuning every 2 steps
                var h = KFAC<P>.Hyperparameters()
                h.finish = .lm; h.inverseInterval = 2; h.weightDecay = 1e-3
                h.lm.initialDamping = 1; h.lm.dampingInterval = 2; h.lm.gammaInterval = 2
                return KFAC<P>(h)
            case .singd, .ikfac, .singdStructured:
                var h = SINGD<P>.Hyperparameters()
                h.interval = 2; h.learningRate = 0.05; h.factorLearningRate = 0.05; h.weightDecay = 1e-3
                h.kfacLike = self == .ikfac
                if self == .singdStructured { h.structureK = .diagonal; h.structureC = .lowerToeplitz }
                return SINGD<P>(h)
            case .shampoo, .shampooPaper:
                var h = Shampoo<P>.Hyperparameters()
                h.variant = self == .shampoo ? .reference : .paper
                h.learningRate = 0.1; h.graftType = .adagrad; h.preconditioningComputeSteps = 2
                h.weightDecay = 1e-3; h.nesterovForm = .referenceInPlace
                return Shampoo<P>(h)
            case .jorge:
                var h = Jorge<P>.Hyperparameters()
                h.preconditionerInterval = 2; h.weightDecay = 1e-3
                return Jorge<P>(h)
            case .mkor, .mkorEMA:
                var h = MKOR<P>.Hyperparameters()
                h.variant = self == .mkor ? .code : .ema
                h.inverseInterval = 2; h.warmupSteps = 1
                return try MKOR<P>(h)
            case .mkorHAdam:
                var h = MKOR<P>.Hyperparameters()
                h.inner = .adam(.init(learningRate: 1e-2))
                h.hybrid = MKORHybridRule(windowSteps: 2, threshold: 1, patience: 1)
                h.inverseInterval = 1
                return try MKOR<P>(h)
            case .rllc:
                var h = RLLC<P>.Hyperparameters()
                h.lawRate = 1e-2
                return try RLLC<P>(h)
            }
        }
    }

    // MARK: the problem: two layers, statistics that change every step

    static let shapes = [(dOut: 3, dIn: 4), (dOut: 2, dIn: 3)]

    static func weights<T: Scalar>(_: T.Type) -> [Matrix<T>] {
        var g = SplitMix64(seed: 11)
        return shapes.map { s in Matrix<Double>(rows: s.dOut, columns: s.dIn) { _, _ in g.nextGaussian() }.converted(to: T.self) }
    }

    /// Ā (d_i×N, last row ones), Ĝ (d_o×N) and ∇W = ĜĀᵀ/N, formed in Double and rounded once to `T`.
    static func statistics<T: Scalar>(step t: Int, _: T.Type) -> [LayerStatistics<T>] {
        var g = SplitMix64(seed: 1000 + UInt64(t))
        let n = 5
        return shapes.map { s in
            let a = Matrix<Double>(rows: s.dIn, columns: n) { i, _ in i == s.dIn - 1 ? 1 : g.nextGaussian() }
            let gh = Matrix<Double>(rows: s.dOut, columns: n) { _, _ in 0.5 * g.nextGaussian() }
            let grad = Matrix<Double>(rows: s.dOut, columns: s.dIn) { i, j in
                (0..<n).reduce(0.0) { $0 + gh[i, $1] * a[j, $1] } / Double(n)
            }
            return LayerStatistics(inputs: a.converted(to: T.self), outputGradients: gh.converted(to: T.self), gradient: grad.converted(to: T.self))
        }
    }

    /// A constructed curvature for KFAC-LM on these synthetic statistics: F = 2I and the loss Σθ²/(t+1)
    /// (not a quadratic model of itself, so ρ ≠ 1 moves λ).
    static func curvature<T: Scalar>(step t: Int, _: T.Type) -> CurvatureAccess<T> {
        CurvatureAccess<T>(loss: { w in w.reduce(T.zero) { s, m in m.elements.reduce(s) { $0 + $1 * $1 } } / T(Double(t + 1)) },
                           ggnProduct: { _, v in v.map { $0.scaled(by: T(2)) } })
    }

    /// One step, with MKOR-H fed a loss first (rising losses: every window stalls) and KFAC-LM given
    /// its curvature access.
    static func step<O: Optimizer>(_ o: inout O, _ w: inout [Matrix<O.Policy.Weights>], _ s: [LayerStatistics<O.Policy.Weights>], _ t: Int) throws {
        if var m = o as? MKOR<O.Policy> { m.observe(loss: Double(t)); o = m as! O }
        if var k = o as? KFAC<O.Policy>, k.hyperparameters.finish == .lm {
            _ = try k.step(weights: &w, layers: s, step: t, curvature: curvature(step: t, O.Policy.Weights.self))
            o = k as! O
            return
        }
        _ = try o.step(weights: &w, layers: s, step: t)
    }

    /// `k` steps in one stochastic-rounding context (only stochastic types draw from it).
    static func run<O: Optimizer>(_ o: inout O, steps k: Int) throws -> [Matrix<O.Policy.Weights>] {
        var w = weights(O.Policy.Weights.self)
        let stats = (0...k).map { statistics(step: $0, O.Policy.Weights.self) }
        try StochasticRounding.withContext(seed: 3, stream: 5) {
            for t in stride(from: 1, through: k, by: 1) { try step(&o, &w, stats[t], t) }
        }
        return w
    }

    static func bits<T: Scalar>(_ w: [Matrix<T>]) -> [[UInt64]] { w.map { $0.elements.map(\.doubleValue.bitPattern) } }

    // MARK: (a) export → import into a fresh optimizer of the same configuration and policy

    static func continuesBitForBit<O: Optimizer>(_ start: O, _ method: Method, after k: Int) throws {
        var a = start
        var wa = try run(&a, steps: k)
        let exported = a.exportState()
        var b = try method.make(O.Policy.self) as! O
        try b.importState(exported)
        #expect(b.exportState().isBitwiseEqual(to: exported), "\(method) \(O.Policy.name): re-export differs")
        var wb = wa
        let s = statistics(step: k + 1, O.Policy.Weights.self)
        // the same stochastic-rounding stream for both continuations
        try StochasticRounding.withContext(seed: 9, stream: UInt64(k)) { try step(&a, &wa, s, k + 1) }
        try StochasticRounding.withContext(seed: 9, stream: UInt64(k)) { try step(&b, &wb, s, k + 1) }
        #expect(bits(wa) == bits(wb), "\(method) \(O.Policy.name) after \(k) steps: weights differ")
        #expect(a.exportState().isBitwiseEqual(to: b.exportState()), "\(method) \(O.Policy.name) after \(k) steps: states differ")
    }

    @Test(arguments: Method.allCases)
    func anImportedStateContinuesBitForBit(_ method: Method) throws {
        for k in [0, 3] {
            try Self.continuesBitForBit(try method.make(Uniform<Float>.self), method, after: k)
            try Self.continuesBitForBit(try method.make(Uniform<BFloat16>.self), method, after: k)
            try Self.continuesBitForBit(try method.make(FloatCurvature<BFloat16>.self), method, after: k)
            try Self.continuesBitForBit(try method.make(Uniform<BF16SR>.self), method, after: k)
        }
    }

    // MARK: (b) low precision → MPFR: every value arrives exactly

    static func arrivesExactly<O: Optimizer>(_ start: O, _ method: Method) throws {
        var a = start
        _ = try run(&a, steps: 3)
        let exported = a.exportState()
        var reference = try method.make(Uniform<BigFloat256>.self)
        try reference.importState(exported)
        // BigFloat → Double rounds to nearest, so a re-export equal bit for bit means every imported
        // value equals the exported Double exactly.
        #expect(reference.exportState().isBitwiseEqual(to: exported), "\(method) from \(O.Policy.name) into MPFR-256")
        #expect(!exported.entryNames.isEmpty)
    }

    @Test(arguments: Method.allCases)
    func aLowPrecisionStateArrivesInMPFRExactly(_ method: Method) throws {
        try Self.arrivesExactly(try method.make(Uniform<Float>.self), method)
        try Self.arrivesExactly(try method.make(Uniform<BFloat16>.self), method)
        try Self.arrivesExactly(try method.make(MixedPolicyForTest.self), method)
    }

    /// bf16 weights and moments, fp16 factors, Float inverses: four roles, three types.
    enum MixedPolicyForTest: PrecisionPolicy {
        typealias Weights = BFloat16
        typealias Factors = Float16
        typealias Inverses = Float
        typealias Moments = BFloat16
    }

    // MARK: (c) a state that does not fit is a named error and leaves the optimizer unchanged

    static func rejectsMismatches<O: Optimizer>(_ start: O, _ method: Method) throws {
        var a = start
        _ = try run(&a, steps: 3)
        let good = a.exportState()
        let target = try method.make(O.Policy.self) as! O
        let untouched = target.exportState()
        func expectError(_ s: OptimizerState, entry: String, _ what: String) {
            var t = target
            do {
                try t.importState(s)
                Issue.record("\(method): \(what) was accepted")
            } catch {
                #expect(error.entry == entry, "\(method): \(what) reported as \(error)")
                #expect(!error.description.isEmpty)
            }
            #expect(t.exportState().isBitwiseEqual(to: untouched), "\(method): a failed import changed the optimizer")
        }
        for name in good.entryNames {
            var s = good
            s.matrices[name] = nil; s.integers[name] = nil; s.scalars[name] = nil; s.flags[name] = nil
            expectError(s, entry: name, "state without \(name)")
        }
        for (name, list) in good.matrices {
            if let i = list.firstIndex(where: { $0.rows > 0 }) {
                var s = good, wrong = list
                wrong[i] = Matrix(rows: list[i].rows + 1, columns: list[i].columns)
                s.matrices[name] = wrong
                expectError(s, entry: name, "\(name)[\(i)] with one row too many")
            }
            if !list.isEmpty {
                var s = good
                s.matrices[name] = Array(list.dropLast())
                expectError(s, entry: name, "\(name) with one matrix missing")
            }
        }
        var extra = good
        extra.integers["not_an_entry"] = [1]
        expectError(extra, entry: "not_an_entry", "an unknown entry")
        var other = good
        other.optimizer = "another-method"
        expectError(other, entry: "optimizer", "another method's state")
    }

    @Test(arguments: Method.allCases)
    func aMismatchedStateIsANamedError(_ method: Method) throws {
        try Self.rejectsMismatches(try method.make(Uniform<Float>.self), method)
    }

    @Test func theErrorNamesOptimizerEntryAndReason() {
        let e = OptimizerStateError("kfac-f", entry: "inverse_A", "layer 1: expected 4×4, got 5×4")
        #expect(e.description == "kfac-f state: entry \"inverse_A\": layer 1: expected 4×4, got 5×4")
    }
}
