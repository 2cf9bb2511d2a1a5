import Foundation
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// The vector streams of claim R4 (Docs/Claims.md), built in Double once per cell and shared by every format
/// and variant of the cell (each format rounds them once, as MKOR's "cast r, q to the factor type").
extension ShermanMorrisonStream {
    /// `inputs[t]` pairs with `R⁻` (activation side), `outputs[t]` with `L⁻` (gradient side), t = 0..<m.
    struct VectorStream {
        var inputs: [[Double]]
        var outputs: [[Double]]
        /// Entries of ā_n, ĝ_n clamped to ±100 while forming the means (MLP stream only).
        var clampedEntries: Int
    }

    /// MKOR's reference clamp (§8.3 `clipping_value`), applied to per-sample entries before averaging.
    static let clip = 100.0

    static func stream(_ kind: String, dimension d: Int, seed: Int, p: Parameters) throws -> VectorStream {
        kind == "mlp" ? try mlpStream(dimension: d, seed: seed, p: p) : syntheticStream(dimension: d, seed: seed, p: p)
    }

    /// `v_t = s·C^{1/2} z_t` with `C = Q diag(λ) Qᵀ`, λ geometric from 1 to 1/κ (`SPDGenerator`), `C^{1/2}`
    /// its Cholesky factor, `z_t` seeded standard normal; independent streams for the two sides.
    static func syntheticStream(dimension d: Int, seed: Int, p: Parameters) -> VectorStream {
        func side(_ label: String, _ offset: UInt64) -> [[Double]] {
            let c = SPDGenerator.matrix(dimension: d, condition: p.syntheticCondition, seed: UInt64(seed) &* 1_000 &+ offset)
            guard case .success(let l)? = try? c.cholesky() else { return [] }   // κ ≤ 1e12 validated: Cholesky in Double succeeds
            var rng = SplitMix64.stream(seed: UInt64(seed), "r4-synthetic-\(label)")
            return (0..<p.steps).map { _ in
                let z = (0..<d).map { _ in rng.nextGaussian() }
                return (0..<d).map { i in p.syntheticScale * (0...i).reduce(0.0) { $0 + l[i, $1] * z[$1] } }
            }
        }
        return VectorStream(inputs: side("R", 1), outputs: side("L", 2), clampedEntries: 0)
    }

    /// Batch means of the middle layer of a tanh MLP `[features, d, d, classes]` (no bias, so both of
    /// its factors have dimension d) trained by plain SGD in Double on a seeded teacher-classification
    /// set: `r_t = mean_n clamp(ā_n)`, `q_t = mean_n clamp(ĝ_n)` with ĝ_n the per-sample output gradient
    /// (`LayerStatistics`, §1.1) — the vectors MKOR's step 1a forms, here in Double.
    static func mlpStream(dimension d: Int, seed: Int, p: Parameters) throws -> VectorStream {
        let data = Synthetic.teacherClassification(samples: p.mlpSamples, dimension: p.mlpFeatures, classes: p.mlpClasses,
                                                   condition: p.mlpCondition, seed: 0)
        let spec = try MLPSpec(widths: [p.mlpFeatures, d, d, p.mlpClasses], activation: .tanh, loss: .crossEntropy, bias: false)
        var net = MLP<Double>(spec: spec, seed: UInt64(seed), accumulation: .perOperation)
        let schedule = try BatchSchedule(sampleCount: p.mlpSamples, batchSize: p.mlpBatch, seed: UInt64(seed))
        var sgd = SGD<Uniform<Double>>(.init(learningRate: p.mlpLearningRate), settings: .init())
        var out = VectorStream(inputs: [], outputs: [], clampedEntries: 0)
        func clampedMean(_ x: Matrix<Double>) -> [Double] {
            (0..<x.rows).map { i in
                var s = 0.0
                for j in 0..<x.columns {
                    let v = x[i, j]
                    if abs(v) > clip { out.clampedEntries += 1; s += v > 0 ? clip : -clip } else { s += v }
                }
                return s / Double(x.columns)
            }
        }
        for t in 1...p.steps {
            let batch = Batch<Double>(data, indices: schedule.indices(step: t))
            let back = try net.backward(batch.inputs, targets: batch.targets)
            out.inputs.append(clampedMean(back.layers[1].inputs))
            out.outputs.append(clampedMean(back.layers[1].outputGradients))
            _ = try sgd.step(weights: &net.weights, layers: back.layers, step: t)
        }
        return out
    }

    /// The exact EMA factors `F_t = γF_{t−1} + (1−γ)v_t v_tᵀ`, `F_0 = I`, accumulated in `B` from the
    /// Double stream, and at each measured step the explicit inverse `F_t⁻¹` by Cholesky in `B`
    /// (independent of the Sherman–Morrison kernel). Returns per measured step: `F_t` (checkpoints only)
    /// and `F_t⁻¹` split as Double pairs `hi + lo` (so differences against Double-exact values are
    /// evaluated with about 2×53 bits), plus κ(F) at the last step.
    struct Reference<B: Scalar> {
        var factor: [Int: Matrix<B>] = [:]
        var inverseHi: [Int: [Double]] = [:]
        var inverseLo: [Int: [Double]] = [:]
        var inverseNorm: [Int: Double] = [:]
        var finalCondition = Double.nan
    }

    static func reference<B: Scalar>(_: B.Type, _ vectors: [[Double]], decay gamma: Double, measured: Set<Int>, checkpoints: Set<Int>) -> Reference<B> {
        let d = vectors.first?.count ?? 0
        var f = Matrix<B>.identity(d)
        let g = B(gamma), c = B(1 - gamma)   // 1 − γ is exact in Double for γ ∈ [½, 1] (Sterbenz); otherwise the EMA uses fl(1 − γ)
        var out = Reference<B>()
        for (i, v) in vectors.enumerated() {
            let t = i + 1
            let vb = v.map { B($0) }
            let previous = f
            f = Matrix(rows: d, columns: d) { r, s in g * previous[r, s] + c * (vb[r] * vb[s]) }
            if checkpoints.contains(t) { out.factor[t] = f }
            if measured.contains(t) {
                guard case .success(let inv)? = try? f.dampedSPDInverse(damping: B(0)) else {
                    out.inverseHi[t] = Array(repeating: .nan, count: d * d); out.inverseLo[t] = out.inverseHi[t]; out.inverseNorm[t] = .nan
                    continue
                }
                let hi = inv.elements.map { $0.doubleValue }
                out.inverseHi[t] = hi
                out.inverseLo[t] = zip(inv.elements, hi).map { ($0 - B($1)).doubleValue }
                out.inverseNorm[t] = hi.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            }
            if t == vectors.count, case .success(let e)? = try? f.converted(to: Double.self).symmetricEigen(method: .automatic),
               let lo = e.values.first, let hi = e.values.last {
                out.finalCondition = lo > 0 ? hi / lo : .infinity
            }
        }
        return out
    }
}
