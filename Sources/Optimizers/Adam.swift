import Scalars
import LinearAlgebra
import Networks

/// Adam and AdamW with `torch.optim` conventions (Docs/Optimizers.md §3.2, §3.3).
///
/// ```
/// (AdamW) W ← W·(1 − η w)            (Adam) g ← ∇W + w·W
/// m ← m + (1 − β1)(g − m)   [interpolation, PyTorch Python]  or  β1 m + (1 − β1) g  [multiply-add]
/// v ← β2 v + (1 − β2) g⊙g
/// c1 ← 1 − β1^t ; c2 ← 1 − β2^t      (Double, as PyTorch; or in Moments type: see `biasCorrections`)
/// W ← W − (η/c1) · m ⊘ (sqrt(v)/sqrt(c2) + ε)
/// ```
/// Precision: m, v in `Moments`, W and g in `Weights`. bf16 rounds β2 = 0.999 to 1.0: `(1 − β2)` is
/// formed in Double and rounded separately (flagged in `constants`), and with bias correction in the
/// Moments type `c2 = 1 − 1^t = 0` divides by zero — recorded as a non-finite event, not a crash.
/// Elementwise statements (weight decay, m, v, denominator, direction) per-op or fused through
/// `Statement` (fused: evaluated in the wider of Float and `Moments`/`Weights`, rounded once).
/// Monitors: min v, count of denominators equal to ε (pure-ε division), ‖m‖_F, stagnation of W.
public struct Adam<Policy: PrecisionPolicy>: Optimizer {
    public typealias W = Policy.Weights
    public typealias M = Policy.Moments

    public enum FirstMomentForm: String, Sendable, Hashable, Codable, CaseIterable { case interpolation, multiplyAdd = "multiply-add" }
    public enum BiasCorrection: String, Sendable, Hashable, Codable, CaseIterable { case double, moments }

    public struct Hyperparameters: Sendable, Hashable {
        public var learningRate: Double
        public var beta1: Double
        public var beta2: Double
        public var epsilon: Double
        public var weightDecay: Double
        public var decoupled: Bool
        public var firstMoment: FirstMomentForm
        public var biasCorrection: BiasCorrection
        @inlinable
        public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                    weightDecay: Double = 0, decoupled: Bool = false, firstMoment: FirstMomentForm = .interpolation,
                    biasCorrection: BiasCorrection = .double) {
            self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
            self.weightDecay = weightDecay; self.decoupled = decoupled; self.firstMoment = firstMoment; self.biasCorrection = biasCorrection
        }
        /// AdamW defaults: w = 1e-2, decoupled.
        @inlinable public static var adamW: Hyperparameters { .init(weightDecay: 1e-2, decoupled: true) }
    }

    public let hyperparameters: Hyperparameters
    public let settings: ArithmeticSettings
    public private(set) var constants = RoundedConstants()
    public var m: [Matrix<M>] = []
    public var v: [Matrix<M>] = []
    @usableFromInline let eta: W, decay: W, b1: M, omb1: M, b2: M, omb2: M, eps: M, etaDecay: W

    @inlinable public var name: String { hyperparameters.decoupled ? "adamw" : "adam" }

    public init(_ h: Hyperparameters = .init(), settings: ArithmeticSettings = .init()) {
        hyperparameters = h; self.settings = settings
        var c = RoundedConstants()
        eta = c.round("lr", h.learningRate); decay = c.round("weight_decay", h.weightDecay)
        (b1, omb1) = c.emaPair("beta1", h.beta1); (b2, omb2) = c.emaPair("beta2", h.beta2)
        eps = c.round("eps", h.epsilon)
        etaDecay = c.round("1-lr*weight_decay", 1 - h.learningRate * h.weightDecay)
        constants = c
    }

    /// The bias corrections `c1 = 1 − β1^t`, `c2 = 1 − β2^t` of step `t` (§3.2 step 4, §3.4).
    ///
    /// `.double` (PyTorch): from the unrounded β in Double. `.moments` (scalars held in the Moments
    /// type, §1.3 item 4, §3.4 "computed in T"): from the rounded `β_M`; the power `β_M^t` is one
    /// operation of `M` (`M.pow`, like a framework's `pow` kernel on an `M` scalar), so it is rounded
    /// into `M` once — not `t − 1` times, as repeated multiplication in `M` would — and `1 − β_M^t` is
    /// rounded in `M` again. (`M.pow` of bf16 and fp16 computes the power in Float and rounds it to `M`;
    /// of MPFR, correctly rounded.)
    @inlinable
    public func biasCorrections(step t: Int) -> (c1: Double, c2: Double) {
        switch hyperparameters.biasCorrection {
        case .double:
            return (1 - Double.pow(hyperparameters.beta1, t), 1 - Double.pow(hyperparameters.beta2, t))
        case .moments:
            return ((1 - M.pow(b1, t)).doubleValue, (1 - M.pow(b2, t)).doubleValue)
        }
    }

    @inlinable
    public mutating func step(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int) throws(ShapeError) -> StepReport {
        try checkShapes(weights, layers)
        var report = StepReport()
        if m.isEmpty {
            m = weights.map { Matrix<M>(rows: $0.rows, columns: $0.columns) }
            v = m
        }
        let fused = settings.elementwise == .fused
        let h = hyperparameters
        let (c1, c2) = biasCorrections(step: t)
        if c2 == 0 || c1 == 0 {
            report.events.append(OptimizerEvent(.zeroNormDivision, step: t, layer: -1, "bias correction 1 - beta^t = 0 in \(M.formatName)", value: 0))
        }
        let stepSize = M(h.learningRate / c1)
        let sqrtC2 = M(c2.squareRoot())
        for l in weights.indices {
            if h.decoupled && h.weightDecay != 0 { weights[l] = weights[l].map { $0 * etaDecay } }
            let g: Matrix<M> = convert(h.decoupled || h.weightDecay == 0 ? layers[l].gradient
                                       : try layers[l].gradient.zipped(weights[l], "weight decay") { Statement.xpby(fused, $0, decay, $1) })
            m[l] = try m[l].zipped(g, "m") { mi, gi in
                switch h.firstMoment {
                case .interpolation: Statement.lerp(fused, mi, omb1, gi)
                case .multiplyAdd: Statement.axpby(fused, b1, mi, omb1, gi)
                }
            }
            v[l] = try v[l].zipped(g, "v") { vi, gi in Statement.axpbySquare(fused, b2, vi, omb2, gi) }
            var pureEpsilon = 0
            let direction: Matrix<M> = try m[l].zipped(v[l], "direction") { mi, vi in
                let denom = Statement.rootOverPlus(fused, vi, sqrtC2, eps)
                if denom == eps { pureEpsilon += 1 }
                return Statement.productOver(fused, stepSize, mi, denom)
            }
            let before = weights[l]
            let dW: Matrix<W> = convert(direction)
            weights[l] = try weights[l].zipped(dW, "update") { $0 - $1 }
            report.monitor("min_v", layer: l, v[l].elements.map { $0.doubleValue }.min() ?? .nan)
            report.monitor("pure_eps_denominators", layer: l, Double(pureEpsilon))
            report.monitor("m_norm", layer: l, m[l].frobeniusNorm)
            report.monitor("stagnation_W", layer: l, UpdateDiagnostics.stagnation(before: before, after: weights[l], intended: dW))
            UpdateDiagnostics.checkFinite(weights[l], "W", step: t, layer: l, into: &report)
        }
        return report
    }
}
