import Scalars
import LinearAlgebra
import Networks

/// SGD, heavy-ball momentum and Nesterov with `torch.optim.SGD` conventions (Docs/Optimizers.md §3.1).
///
/// ```
/// d ← ∇W + w·W
/// if μ ≠ 0:  b ← d (t = 1) | μ b + (1 − ρ_d) d ;  d ← d + μ b (Nesterov) | b
/// W ← W − η d
/// ```
/// Precision: `d` and `W` in `Weights`; the buffer `b` in `Moments`; constants rounded once
/// (§1.3). Elementwise statements (weight decay, buffer, Nesterov direction, update) per-op or fused,
/// through `Statement` (fused: evaluated in the wider of Float and the storage type, rounded once).
/// Monitors: ‖b‖_F, stagnation of W (fraction of entries with a non-zero step left unchanged).
public struct SGD<Policy: PrecisionPolicy>: Optimizer {
    public typealias W = Policy.Weights
    public typealias M = Policy.Moments

    public struct Hyperparameters: Sendable, Hashable {
        public var learningRate: Double
        public var momentum: Double
        public var dampening: Double
        public var weightDecay: Double
        public var nesterov: Bool
        @inlinable
        public init(learningRate: Double = 0.1, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
            self.learningRate = learningRate; self.momentum = momentum; self.dampening = dampening
            self.weightDecay = weightDecay; self.nesterov = nesterov
        }
    }

    public let hyperparameters: Hyperparameters
    public let settings: ArithmeticSettings
    public private(set) var constants = RoundedConstants()
    public var buffers: [Matrix<M>] = []
    @usableFromInline let eta: W, decay: W, mu: M, oneMinusDampening: M

    @inlinable
    public var name: String { hyperparameters.momentum == 0 ? "sgd" : (hyperparameters.nesterov ? "nesterov" : "momentum") }

    public init(_ h: Hyperparameters = .init(), settings: ArithmeticSettings = .init()) {
        hyperparameters = h; self.settings = settings
        var c = RoundedConstants()
        eta = c.round("lr", h.learningRate); decay = c.round("weight_decay", h.weightDecay)
        mu = c.round("momentum", h.momentum); oneMinusDampening = c.round("1-dampening", 1 - h.dampening)
        constants = c
    }

    @inlinable
    public mutating func step(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int) throws(ShapeError) -> StepReport {
        try checkShapes(weights, layers)
        var report = StepReport()
        if buffers.isEmpty { buffers = weights.map { Matrix<M>(rows: $0.rows, columns: $0.columns) } }
        let fused = settings.elementwise == .fused
        for l in weights.indices {
            let g = layers[l].gradient
            var d = hyperparameters.weightDecay == 0 ? g : try g.zipped(weights[l], "weight decay") { gi, wi in
                Statement.xpby(fused, gi, decay, wi)
            }
            if hyperparameters.momentum != 0 {
                let dm: Matrix<M> = convert(d)
                if t == 1 { buffers[l] = dm } else {
                    buffers[l] = try buffers[l].zipped(dm, "momentum") { b, di in Statement.axpby(fused, mu, b, oneMinusDampening, di) }
                }
                if hyperparameters.nesterov {
                    let muW = W(mu.doubleValue)
                    d = try d.zipped(convert(buffers[l]), "nesterov") { di, b in Statement.xpby(fused, di, muW, b) }
                } else {
                    d = convert(buffers[l])
                }
                report.monitor("buffer_norm", layer: l, buffers[l].frobeniusNorm)
            }
            let before = weights[l]
            weights[l] = try weights[l].zipped(d, "update") { w, di in Statement.xmby(fused, w, eta, di) }
            report.monitor("stagnation_W", layer: l, UpdateDiagnostics.stagnation(before: before, after: weights[l], intended: d))
            UpdateDiagnostics.checkFinite(weights[l], "W", step: t, layer: l, into: &report)
        }
        return report
    }
}

extension Matrix {
    /// Elementwise combination with another matrix of another type, result in `T`.
    @inlinable
    public func zipped<U: Scalar>(_ other: Matrix<U>, _ op: String, _ f: (T, U) -> T) throws(ShapeError) -> Matrix<T> {
        guard rows == other.rows, columns == other.columns else { throw ShapeError(operation: op, self, other) }
        var r = self
        r.withUnsafeMutableElements { rb in
            other.elements.withUnsafeBufferPointer { ob in for i in 0..<rb.count { rb[i] = f(rb[i], ob[i]) } }
        }
        return r
    }
}
