import Scalars
import LinearAlgebra

/// The architecture of a multilayer perceptron; independent of the scalar type.
public struct MLPSpec: Sendable, Hashable, Codable {
    /// Layer widths `[d_0, d_1, …, d_L]`: input, hidden…, output.
    public var widths: [Int]
    public var activation: Activation
    public var loss: LossFunction
    /// With bias, every layer's input is augmented with a trailing 1 (Docs/Optimizers.md §1.1); without,
    /// `d_i = d_in` (used for the deep-linear exactness tests of claim R10, Docs/Claims.md).
    public var bias: Bool
    public var initialization: Initialization

    public enum Initialization: String, Sendable, Hashable, Codable, CaseIterable {
        /// U(−r, r), r = √(6/(fan_in + fan_out)) (Glorot & Bengio 2010); biases 0.
        case glorotUniform = "glorot-uniform"
        /// N(0, 2/fan_in) (He et al. 2015); biases 0.
        case heNormal = "he-normal"
    }

    public init(widths: [Int], activation: Activation = .tanh, loss: LossFunction = .crossEntropy,
                bias: Bool = true, initialization: Initialization = .glorotUniform) throws(NetworkError) {
        guard widths.count >= 2 else { throw NetworkError(field: "widths", value: "\(widths)", reason: "needs at least input and output widths") }
        guard widths.allSatisfy({ $0 >= 1 }) else { throw NetworkError(field: "widths", value: "\(widths)", reason: "every width must be ≥ 1") }
        self.widths = widths; self.activation = activation; self.loss = loss; self.bias = bias; self.initialization = initialization
    }

    public var layerCount: Int { widths.count - 1 }
    /// Shape of layer `l`'s weight: `d_o × d_i` with `d_i = d_in + 1` when there is a bias.
    public func weightShape(_ l: Int) -> (rows: Int, columns: Int) { (widths[l + 1], widths[l] + (bias ? 1 : 0)) }
    public var parameterCount: Int { (0..<layerCount).reduce(0) { let s = weightShape($1); return $0 + s.rows * s.columns } }

    /// Initial weights in Double from the seeded generator (stream "init"); convert once to `T`.
    public func initialWeights(seed: UInt64) -> [Matrix<Double>] {
        var rng = SplitMix64.stream(seed: seed, "init")
        return (0..<layerCount).map { l in
            let (dOut, dIn) = (widths[l + 1], widths[l])
            return Matrix<Double>(rows: dOut, columns: dIn + (bias ? 1 : 0)) { _, j in
                if j == dIn { return 0 }     // bias column
                switch initialization {
                case .glorotUniform:
                    let r = (6.0 / Double(dIn + dOut)).squareRoot()
                    return (2 * rng.nextUniform() - 1) * r
                case .heNormal:
                    return rng.nextGaussian() * (2.0 / Double(dIn)).squareRoot()
                }
            }
        }
    }
}

/// Invalid network configuration or input: names the field and the value.
public struct NetworkError: Error, CustomStringConvertible, Sendable, Equatable {
    public let field: String
    public let value: String
    public let reason: String
    public init(field: String, value: String, reason: String) { self.field = field; self.value = value; self.reason = reason }
    public var description: String { "\(field) = \(value): \(reason)" }
}

/// What backpropagation exposes per layer, exactly in the conventions of Docs/Optimizers.md §1.1.
public struct LayerStatistics<T: Scalar>: Sendable {
    /// Ā = [ā_1 … ā_N], `d_i × N`, the layer inputs with a trailing row of ones when there is a bias.
    public var inputs: Matrix<T>
    /// Ĝ = [ĝ_1 … ĝ_N], `d_o × N`, per-sample output gradients ĝ_n = ∂ℓ_n/∂s_n (= N × the backprop
    /// signal of the mean loss), multiplied by `outputGradientScale` (1 unless loss scaling exposes
    /// scaled statistics).
    public var outputGradients: Matrix<T>
    /// The factor Ĝ carries: 1, or the loss scale S when unscaling happens after the statistics.
    public var outputGradientScale: Double
    /// ∇W = (1/N) Ĝ Āᵀ (unscaled), `d_o × d_i`, bias gradient in the last column.
    public var gradient: Matrix<T>

    @inlinable
    public init(inputs: Matrix<T>, outputGradients: Matrix<T>, outputGradientScale: Double = 1, gradient: Matrix<T>) {
        self.inputs = inputs; self.outputGradients = outputGradients
        self.outputGradientScale = outputGradientScale; self.gradient = gradient
    }
}

/// Result of a forward and backward pass on one batch.
public struct BackwardResult<T: Scalar>: Sendable {
    /// Mean loss over the batch, in `T` (summed per-op in sample order).
    public var loss: T
    public var layers: [LayerStatistics<T>]
    public var events: [NumericEvent]

    @inlinable
    init(loss: T, layers: [LayerStatistics<T>], events: [NumericEvent]) {
        self.loss = loss; self.layers = layers; self.events = events
    }
}

/// Supervision for a batch: class indices, or a `d_L × N` target matrix.
public enum Targets<T: Scalar>: Sendable {
    case classes([Int])
    case values(Matrix<T>)
}

/// Where a loss scale S is divided out of the backward signals (mixed-precision training).
public struct LossScaling: Sendable, Hashable {
    public enum UnscalePoint: String, Sendable, Hashable, CaseIterable, Codable {
        /// Ĝ is divided by S before it is exposed: curvature factors G = ĜĜᵀ/N see unscaled values.
        case beforeStatistics = "before-statistics"
        /// Ĝ is exposed still multiplied by S (as when factors are formed from the scaled backward pass,
        /// claim R8 in Docs/Claims.md): G carries S², which overflows fp16 once (S·|ĝ|)² > 65504.
        case afterStatistics = "after-statistics"
    }
    public var scale: Double
    public var unscale: UnscalePoint
    public init(scale: Double, unscale: UnscalePoint) { self.scale = scale; self.unscale = unscale }
    public static let none = LossScaling(scale: 1, unscale: .beforeStatistics)
}

/// Dynamic loss scaling (the usual AMP policy): halve S on a non-finite gradient and skip the step;
/// double it after `growthInterval` consecutive finite steps.
public struct DynamicLossScaler: Sendable, Hashable {
    public private(set) var scale: Double
    public let growthInterval: Int
    public private(set) var finiteSteps = 0
    public init(initialScale: Double = 65536, growthInterval: Int = 2000) { scale = initialScale; self.growthInterval = growthInterval }
    /// Records whether the step's gradients were finite; returns whether the step should be applied.
    public mutating func update(gradientsFinite: Bool) -> Bool {
        if !gradientsFinite { scale = max(1, scale / 2); finiteSteps = 0; return false }
        finiteSteps += 1
        if finiteSteps >= growthInterval { scale *= 2; finiteSteps = 0 }
        return true
    }
}

/// A multilayer perceptron in `T` whose products follow an explicit accumulation model.
///
/// Layer `l` computes `s = W_l ā` with `ā = [a; 1]`, then `a' = φ(s)` (no activation after the last
/// layer: its outputs are logits or regression outputs).
public struct MLP<T: Scalar>: Sendable {
    public let spec: MLPSpec
    /// `weights[l]` is `d_o × d_i` with the bias as last column.
    public var weights: [Matrix<T>]
    public var accumulation: AccumulationModel

    /// Initial weights from `spec.initialWeights(seed:)`, rounded once from Double to `T`.
    @inlinable
    public init(spec: MLPSpec, seed: UInt64, accumulation: AccumulationModel) {
        self.spec = spec
        self.weights = spec.initialWeights(seed: seed).map { $0.converted(to: T.self) }
        self.accumulation = accumulation
    }

    @inlinable
    public init(spec: MLPSpec, weights: [Matrix<T>], accumulation: AccumulationModel) throws(NetworkError) {
        guard weights.count == spec.layerCount else {
            throw NetworkError(field: "weights", value: "\(weights.count) matrices", reason: "spec has \(spec.layerCount) layers")
        }
        for (l, w) in weights.enumerated() where (w.rows, w.columns) != spec.weightShape(l) {
            throw NetworkError(field: "weights[\(l)]", value: "\(w.rows)×\(w.columns)",
                               reason: "expected \(spec.weightShape(l).rows)×\(spec.weightShape(l).columns)")
        }
        self.spec = spec; self.weights = weights; self.accumulation = accumulation
    }

    /// The same network in `U`, every weight rounded once (through Double) — for reference shadowing.
    @inlinable
    public func converted<U: Scalar>(to _: U.Type = U.self, accumulation: AccumulationModel? = nil) -> MLP<U> {
        try! MLP<U>(spec: spec, weights: weights.map { $0.converted(to: U.self) }, accumulation: accumulation ?? self.accumulation)
    }

    /// `[x; 1]` for a `d × N` batch (or `x` itself without bias).
    @inlinable
    func augmented(_ x: Matrix<T>) -> Matrix<T> {
        guard spec.bias else { return x }
        return Matrix(rows: x.rows + 1, columns: x.columns) { i, j in i < x.rows ? x[i, j] : 1 }
    }

    /// Network outputs (logits) for a `d_0 × N` batch, plus per layer the augmented inputs and
    /// pre-activations.
    @inlinable
    public func forward(_ x: Matrix<T>, events: inout [NumericEvent]) throws(NetworkError) -> (outputs: Matrix<T>, inputs: [Matrix<T>], preActivations: [Matrix<T>]) {
        guard x.rows == spec.widths[0] else {
            throw NetworkError(field: "inputs", value: "\(x.rows)×\(x.columns)", reason: "expected \(spec.widths[0]) rows (features) × N")
        }
        var a = x
        var inputs = [Matrix<T>](), pre = [Matrix<T>]()
        for l in 0..<spec.layerCount {
            let abar = augmented(a)
            let s = try! Matrix.product(weights[l], .none, abar, .none, accumulation: accumulation)
            NumericEvent.scan(s, layer: l, tensor: "s", into: &events)
            inputs.append(abar); pre.append(s)
            a = l == spec.layerCount - 1 ? s : s.map { spec.activation.apply($0) }
        }
        return (a, inputs, pre)
    }

    /// A gradient with respect to layer `l`'s pre-activations carried one layer down:
    /// `φ'(s_{l−1}) ⊙ (W_l[:, :d_in]ᵀ g)` (the bias column does not propagate), with `s_{l−1}(i, j)` read
    /// through `preActivation`. The one backward step of `backward`, the GGN product and the output
    /// Jacobians.
    @inlinable
    func backpropagated(_ g: Matrix<T>, below l: Int, preActivation: (_ i: Int, _ j: Int) -> T) -> Matrix<T> {
        let dIn = spec.widths[l]
        let wx = spec.bias ? weights[l].columns(0..<dIn) : weights[l]
        let back = try! Matrix.product(wx, .transposed, g, .none, accumulation: accumulation)
        return Matrix(rows: back.rows, columns: back.columns) { i, j in
            let s = preActivation(i, j)
            return back[i, j] * spec.activation.derivative(preActivation: s, activation: spec.activation.apply(s))
        }
    }

    /// Mean loss, per-layer statistics and gradients for one batch (`x` is `d_0 × N`).
    @inlinable
    public func backward(_ x: Matrix<T>, targets: Targets<T>, lossScaling: LossScaling = .none) throws(NetworkError) -> BackwardResult<T> {
        var events = [NumericEvent]()
        let (out, inputs, pre) = try forward(x, events: &events)
        let n = x.columns
        let (loss, topGradient) = try Self.lossAndOutputGradient(out, targets: targets, loss: spec.loss)
        NumericEvent.scan(topGradient, layer: spec.layerCount - 1, tensor: "ghat", into: &events)
        let scaleT = T(lossScaling.scale)
        var ghat = lossScaling.scale == 1 ? topGradient : topGradient.scaled(by: scaleT)
        var layers = [LayerStatistics<T>?](repeating: nil, count: spec.layerCount)
        let nT = T(Double(n))
        for l in stride(from: spec.layerCount - 1, through: 0, by: -1) {
            // ∇W = (1/N)·Ĝ Āᵀ, unscaled: divide by N (and S) once per entry.
            // Unscaled first (exact for a power-of-two S short of underflow), then averaged: the product
            // N·S itself would overflow fp16 (128·2¹⁶ > 65504) and zero every gradient.
            let product = try! Matrix.product(ghat, .none, inputs[l], .transposed, accumulation: accumulation)
            let gradient = lossScaling.scale == 1 ? product.map { $0 / nT } : product.map { $0 / scaleT / nT }
            NumericEvent.scan(gradient, layer: l, tensor: "gradient", into: &events)
            let exposed: Matrix<T>, exposedScale: Double
            if lossScaling.scale != 1 && lossScaling.unscale == .beforeStatistics {
                exposed = ghat.map { $0 / scaleT }; exposedScale = 1
            } else {
                exposed = ghat; exposedScale = lossScaling.scale
            }
            layers[l] = LayerStatistics(inputs: inputs[l], outputGradients: exposed, outputGradientScale: exposedScale, gradient: gradient)
            if l > 0 {
                let s = pre[l - 1]
                ghat = backpropagated(ghat, below: l) { s[$0, $1] }
                NumericEvent.scan(ghat, layer: l - 1, tensor: "ghat", into: &events)
            }
        }
        return BackwardResult(loss: loss, layers: layers.map { $0! }, events: events)
    }

    /// Mean loss and Ĝ_L (per-sample gradients w.r.t. the outputs), per §1.1.
    @inlinable
    static func lossAndOutputGradient(_ out: Matrix<T>, targets: Targets<T>, loss: LossFunction) throws(NetworkError) -> (T, Matrix<T>) {
        let n = out.columns
        var total = T.zero
        var g = Matrix<T>(rows: out.rows, columns: n)
        switch (loss, targets) {
        case (.crossEntropy, .classes(let labels)):
            guard labels.count == n else { throw NetworkError(field: "labels", value: "\(labels.count)", reason: "batch has \(n) samples") }
            for j in 0..<n {
                let y = labels[j]
                guard (0..<out.rows).contains(y) else {
                    throw NetworkError(field: "labels[\(j)]", value: "\(y)", reason: "must be in 0..<\(out.rows)")
                }
                var m = out[0, j]
                for c in 1..<out.rows where out[c, j] > m { m = out[c, j] }
                var sum = T.zero
                for c in 0..<out.rows { sum = sum + T.exp(out[c, j] - m) }
                let lse = m + T.log(sum)
                total = total + (lse - out[y, j])
                for c in 0..<out.rows {
                    let p = T.exp(out[c, j] - lse)
                    g[c, j] = c == y ? p - 1 : p
                }
            }
        case (.meanSquaredError, .values(let y)):
            guard y.rows == out.rows, y.columns == n else {
                throw NetworkError(field: "targets", value: "\(y.rows)×\(y.columns)", reason: "outputs are \(out.rows)×\(n)")
            }
            for j in 0..<n {
                var s = T.zero
                for c in 0..<out.rows {
                    let r = out[c, j] - y[c, j]
                    g[c, j] = r
                    s = s + r * r
                }
                total = total + s / 2
            }
        case (.meanSquaredError, .classes(let labels)):
            // one-hot regression targets
            let y = Matrix<T>(rows: out.rows, columns: n) { c, j in c == labels[j] ? 1 : 0 }
            return try lossAndOutputGradient(out, targets: .values(y), loss: loss)
        case (.crossEntropy, .values):
            throw NetworkError(field: "targets", value: "values", reason: "cross-entropy needs class labels")
        }
        return (total / T(Double(n)), g)
    }

    /// Mean loss and accuracy (fraction of argmax hits; 0 for regression) on a data set, in batches.
    @inlinable
    public func evaluate(_ data: Dataset, batchSize: Int = 256) throws(NetworkError) -> (loss: Double, accuracy: Double) {
        var lossSum = 0.0, hits = 0
        var start = 0
        var events = [NumericEvent]()
        while start < data.sampleCount {
            let idx = Array(start..<min(data.sampleCount, start + batchSize))
            let batch = Batch<T>(data, indices: idx)
            let (out, _, _) = try forward(batch.inputs, events: &events)
            let (l, _) = try Self.lossAndOutputGradient(out, targets: batch.targets, loss: spec.loss)
            lossSum += l.doubleValue * Double(idx.count)
            if case .classes(let labels) = batch.targets {
                for j in 0..<idx.count {
                    var best = 0
                    for c in 1..<out.rows where out[c, j] > out[best, j] { best = c }
                    if best == labels[j] { hits += 1 }
                }
            }
            start += batchSize
        }
        return (lossSum / Double(data.sampleCount), data.isClassification ? Double(hits) / Double(data.sampleCount) : 0)
    }
}

/// A minibatch in `T`: inputs `d × N` (samples as columns) converted once from the Double data set.
public struct Batch<T: Scalar>: Sendable {
    public var inputs: Matrix<T>
    public var targets: Targets<T>

    @inlinable
    public init(_ data: Dataset, indices: [Int]) {
        inputs = Matrix(rows: data.featureCount, columns: indices.count) { i, j in T(data.features[indices[j], i]) }
        if let t = data.targets {
            targets = .values(Matrix(rows: t.columns, columns: indices.count) { i, j in T(t[indices[j], i]) })
        } else {
            targets = .classes(indices.map { data.labels[$0] })
        }
    }
}

/// Deterministic minibatch order: each epoch a SplitMix64 permutation (stream "batches"); batch `t`
/// (1-based) is a fixed function of (seed, t).
public struct BatchSchedule: Sendable {
    public let sampleCount: Int
    public let batchSize: Int
    public let seed: UInt64

    public init(sampleCount: Int, batchSize: Int, seed: UInt64) throws(NetworkError) {
        guard batchSize >= 1, batchSize <= sampleCount else {
            throw NetworkError(field: "batch_size", value: "\(batchSize)", reason: "must be in 1…\(sampleCount) (training samples)")
        }
        self.sampleCount = sampleCount; self.batchSize = batchSize; self.seed = seed
    }

    public func indices(step t: Int) -> [Int] {
        let perEpoch = sampleCount / batchSize
        let epoch = (t - 1) / perEpoch, slot = (t - 1) % perEpoch
        var order = Array(0..<sampleCount)
        var rng = SplitMix64.stream(seed: seed &+ UInt64(epoch), "batches")
        rng.shuffle(&order)
        return Array(order[(slot * batchSize)..<((slot + 1) * batchSize)])
    }
}

extension MLP {
    /// For one sample (`x` is `d_0 × 1`), the transposed output Jacobians `Bₗᵀ = ∂f/∂sₗ`ᵀ of every layer
    /// (`d_o × d_L`), obtained by backpropagating the columns of the identity.
    ///
    /// With a loss Hessian equal to I (MSE with ½), the exact GGN block of layer `l` is
    /// `(ā āᵀ) ⊗ (Bₗᵀ Bₗ)`: KFAC's factors with `Ĝ = Bₗᵀ` (the "exact" or type-2 Fisher statistic, as in
    /// claim R10 in Docs/Claims.md). The per-sample gradient of `backward` is `Bₗᵀ (f − y)`.
    @inlinable
    public func outputJacobianTransposes(_ x: Matrix<T>) throws(NetworkError) -> [Matrix<T>] {
        guard x.columns == 1 else { throw NetworkError(field: "inputs", value: "\(x.rows)×\(x.columns)", reason: "expected one sample (one column)") }
        var events = [NumericEvent]()
        let (_, _, pre) = try forward(x, events: &events)
        let dL = spec.widths.last!
        var g = Matrix<T>.identity(dL)
        var result = [Matrix<T>](repeating: g, count: spec.layerCount)
        for l in stride(from: spec.layerCount - 1, through: 1, by: -1) {
            let s = pre[l - 1]
            g = backpropagated(g, below: l) { i, _ in s[i, 0] }      // one sample: every column sees s_{l−1}
            result[l - 1] = g
        }
        return result
    }
}
