import Foundation
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// The gradient streams whose Shampoo statistics `L_t` R5 (Jorge's series) and R6 (inverse-root
/// residuals) study, and the exact (MPFR) statistic built from them.
///
/// Two sources, both fully determined by the seed through the project's `SplitMix64` streams:
/// - `mlp`: the weight gradients `G_t` of one layer of a small tanh MLP trained by plain SGD in Double
///   on a bundled or synthetic classification set. `L` is `d_o × d_o` (the layer's output width) and
///   `G_t` has rank ≤ batch, so the first statistics are low rank: R6 predicts they are the worst.
/// - `synthetic`: `G_t = Σ_k a_k v_k w_kᵀ` of rank `r` (the `w_k` orthonormal in `R^m`, so
///   `G_tG_tᵀ = Σ a_k² v_kv_kᵀ`). Each `v_k` is built from a basis vector `q_i` of a fixed seeded
///   orthonormal basis Q (index `i` drawn anew each step, energies `e_i` geometric from 1 to
///   1/`spectrum_condition`) and a fresh random unit vector `z ⊥ q_i`:
///   `v = cos(θπ/2)·q_i + sin(θπ/2)·z`. With mixing θ = 0 every `GGᵀ` is diagonal in Q, so every
///   statistic commutes with every new `GGᵀ` (Jorge's series is then exact up to truncation); θ = 1
///   gives directions with no relation to Q. The commutator is measured, θ only steers it.
///
/// The stream is the same for every precision of a cell: the formats differ only in what they do
/// with it.
public struct GradientStream: Sendable, Hashable {
    public enum Source: String, Sendable, CaseIterable { case mlp, synthetic }

    var source: Source
    var steps: Int
    // synthetic
    var dimension: Int
    var columns: Int
    var rank: Int
    var mixing: Double
    var spectrumCondition: Double
    var scale: Double
    // mlp
    var dataset: String
    var widths: [Int]
    var batch: Int
    var learningRate: Double
    var layer: Int

    /// The side of `L = Σ GGᵀ`.
    public var statisticDimension: Int { source == .synthetic ? dimension : widths[layer + 1] }

    /// A short label for tables (`synthetic θ=0.5`, `mlp`).
    var label: String { source == .synthetic ? "synthetic θ=\(NumberText.short(mixing))" : "mlp" }

    /// The cell parameters describing this stream (text, as every experiment cell stores them).
    var parameters: [String: String] {
        var p = ["stream": source.rawValue, "steps": "\(steps)"]
        switch source {
        case .synthetic:
            p["dimension"] = "\(dimension)"; p["gradient_columns"] = "\(columns)"; p["gradient_rank"] = "\(rank)"
            p["mixing"] = NumberText.short(mixing); p["spectrum_condition"] = NumberText.short(spectrumCondition)
            p["gradient_scale"] = NumberText.short(scale)
        case .mlp:
            p["mlp_dataset"] = dataset; p["mlp_widths"] = widths.map(String.init).joined(separator: ",")
            p["mlp_batch"] = "\(batch)"; p["mlp_learning_rate"] = NumberText.short(learningRate); p["mlp_layer"] = "\(layer)"
        }
        return p
    }

    /// Rebuilds the stream from a cell's parameters (written by `parameters`).
    init(cell: PlannedCell) {
        let p = cell.parameters
        source = Source(rawValue: p["stream"]!)!
        steps = Int(p["steps"]!)!
        dimension = Int(p["dimension"] ?? "0")!; columns = Int(p["gradient_columns"] ?? "0")!; rank = Int(p["gradient_rank"] ?? "0")!
        mixing = Double(p["mixing"] ?? "0")!; spectrumCondition = Double(p["spectrum_condition"] ?? "1")!
        scale = Double(p["gradient_scale"] ?? "1")!
        dataset = p["mlp_dataset"] ?? ""; widths = (p["mlp_widths"] ?? "").split(separator: ",").compactMap { Int($0) }
        batch = Int(p["mlp_batch"] ?? "0")!; learningRate = Double(p["mlp_learning_rate"] ?? "0")!; layer = Int(p["mlp_layer"] ?? "0")!
    }

    public init(source: Source, steps: Int, dimension: Int, columns: Int, rank: Int, mixing: Double, spectrumCondition: Double, scale: Double,
         dataset: String, widths: [Int], batch: Int, learningRate: Double, layer: Int) {
        self.source = source; self.steps = steps; self.dimension = dimension; self.columns = columns; self.rank = rank
        self.mixing = mixing; self.spectrumCondition = spectrumCondition; self.scale = scale
        self.dataset = dataset; self.widths = widths; self.batch = batch; self.learningRate = learningRate; self.layer = layer
    }

    /// `G_1 … G_steps` in Double.
    public func gradients(seed: UInt64) throws -> [Matrix<Double>] {
        source == .synthetic ? synthetic(seed: seed) : try mlp(seed: seed)
    }

    func synthetic(seed: UInt64) -> [Matrix<Double>] {
        let n = dimension, m = columns
        let q = Self.orthonormalColumns(ExperimentSupport.gaussian(rows: n, columns: n, seed: seed, "root-stream-basis"))
        let energies = (0..<n).map { i in n == 1 ? 1 : Double.pow(1 / spectrumCondition, Double(i) / Double(n - 1)) }
        var rng = SplitMix64.stream(seed: seed, "root-stream-steps")
        let angle = mixing * Double.pi / 2
        var out = [Matrix<Double>]()
        for _ in 0..<steps {
            var indices = Array(0..<n)
            rng.shuffle(&indices)
            let w = Self.orthonormalColumns(Matrix(rows: m, columns: rank) { _, _ in rng.nextGaussian() })
            var g = Matrix<Double>(rows: n, columns: m)
            for k in 0..<rank {
                let i = indices[k]
                let qi = (0..<n).map { q[$0, i] }
                var z = (0..<n).map { _ in rng.nextGaussian() }
                let proj = zip(z, qi).reduce(0) { $0 + $1.0 * $1.1 }
                z = zip(z, qi).map { $0 - proj * $1 }
                let zn = z.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let v = (0..<n).map { Double.cos(angle) * qi[$0] + Double.sin(angle) * z[$0] / zn }
                let a = scale * energies[i].squareRoot() * (0.5 + rng.nextUniform())
                for r in 0..<n { for c in 0..<m { g[r, c] += a * v[r] * w[c, k] } }
            }
            out.append(g)
        }
        return out
    }

    func mlp(seed: UInt64) throws -> [Matrix<Double>] {
        var data: Dataset
        if dataset == "synthetic-classification" {
            data = Synthetic.teacherClassification(samples: 512, dimension: widths[0], classes: widths.last!, condition: 10, seed: ProblemData.dataSeed)
        } else {
            data = try BundledData.load(dataset)
        }
        data = data.standardizer()(data)
        let spec = try MLPSpec(widths: widths, activation: .tanh, loss: .crossEntropy, bias: true)
        var net = MLP<Double>(spec: spec, seed: seed, accumulation: .perOperation)
        var sgd = SGD<Uniform<Double>>(.init(learningRate: learningRate))
        let schedule = try BatchSchedule(sampleCount: data.sampleCount, batchSize: batch, seed: seed)
        var out = [Matrix<Double>]()
        for t in 1...steps {
            let b = Batch<Double>(data, indices: schedule.indices(step: t))
            let back = try net.backward(b.inputs, targets: b.targets)
            out.append(back.layers[layer].gradient)
            _ = try sgd.step(weights: &net.weights, layers: back.layers, step: t)
        }
        return out
    }

    /// The columns of `a` orthonormalised by modified Gram–Schmidt (twice, for orthogonality to
    /// working precision), in Double.
    static func orthonormalColumns(_ a: Matrix<Double>) -> Matrix<Double> {
        var q = a
        for _ in 0..<2 {
            for j in 0..<q.columns {
                for k in 0..<j {
                    var d = 0.0
                    for i in 0..<q.rows { d += q[i, k] * q[i, j] }
                    for i in 0..<q.rows { q[i, j] -= d * q[i, k] }
                }
                var s = 0.0
                for i in 0..<q.rows { s += q[i, j] * q[i, j] }
                let norm = s.squareRoot()
                for i in 0..<q.rows { q[i, j] /= norm }
            }
        }
        return q
    }
}

/// The exact statistic and the measurements made against it, in MPFR-113 (`BigFloat113`).
///
/// Why 113 bits: the quantities measured go down to `u_fp32 ≈ 6e-8` and the statistics' condition
/// numbers up to ~1e12 (ridge 1e-12 on a rank-deficient L), so the reference must resolve
/// `κ·u_ref ≪ u_fp32`; with `u_113 ≈ 1e-34`, `κ·u_113 ≤ 1e-22`.
public enum ExactStatistic {
    public typealias B = BigFloat113

    /// `G Gᵀ` in MPFR from the Double gradient (products of two doubles are exact in 113 bits).
    public static func gram(_ g: Matrix<Double>) throws -> Matrix<B> {
        let gb = g.map { B($0) }
        return try Matrix.product(gb, .none, gb, .transposed, accumulation: .perOperation)
    }

    /// `decay·L + weight·GGᵀ`, in MPFR.
    public static func updated(_ l: Matrix<B>, decay: B, weight: B, gram: Matrix<B>) throws -> Matrix<B> {
        try l.scaled(by: decay).adding(gram.scaled(by: weight))
    }

    /// `‖[L, A]‖_F / (‖L‖_F ‖A‖_F)` in Double from the MPFR values (a diagnostic; 0 when either is 0).
    public static func commutator(_ l: Matrix<B>, _ a: Matrix<B>) -> Double {
        let ld = l.converted(to: Double.self), ad = a.converted(to: Double.self)
        guard let la = try? Matrix.product(ld, .none, ad, .none, accumulation: .perOperation),
              let al = try? Matrix.product(ad, .none, ld, .none, accumulation: .perOperation),
              let c = try? la.subtracting(al) else { return .nan }
        let den = ld.frobeniusNorm * ad.frobeniusNorm
        return den > 0 ? c.frobeniusNorm / den : 0
    }

    /// `(L + εI)^{-1/4}` by the library's eigen route (`inverseRootEigen`, Jacobi in MPFR-113).
    public static func referenceRoot(_ l: Matrix<B>, epsilon: Double) throws -> InverseRoot<B> {
        try l.inverseRootEigen(p: 4, epsilon: B(epsilon), relativeRidge: false, method: .generic)
    }

    /// `rootRes(X, M, 4) = ‖X⁴M − I‖_F/√d` (Docs/Optimizers.md §1.5), evaluated in MPFR-113 from the values X
    /// holds (every supported format converts exactly through Double), so the measurement adds no
    /// rounding at the level of the formats studied. `+∞` for a non-finite X.
    public static func rootResidual<T: Scalar>(_ x: Matrix<T>, _ m: Matrix<B>) throws -> Double {
        guard x.isFinite else { return .infinity }
        let xb = x.map { B($0.doubleValue) }
        let x2 = try Matrix.product(xb, .none, xb, .none, accumulation: .perOperation)
        let x4 = try Matrix.product(x2, .none, x2, .none, accumulation: .perOperation)
        let r = try Matrix.product(x4, .none, m, .none, accumulation: .perOperation).subtracting(.identity(m.rows))
        var s = B.zero
        for v in r.elements { s += v * v }
        return (s / B(Double(m.rows))).squareRoot().doubleValue
    }
}

/// Small statistics the R5/R6 verdicts use.
enum RootStatisticsSupport {
    /// Spearman's rank correlation (average ranks on ties), over the pairs with both values finite;
    /// nil with fewer than 3 pairs or a constant variable.
    static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        let pairs = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        guard pairs.count >= 3 else { return nil }
        let rx = ranks(pairs.map(\.0)), ry = ranks(pairs.map(\.1))
        let n = Double(pairs.count)
        let mx = rx.reduce(0, +) / n, my = ry.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in rx.indices { sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) * (rx[i] - mx); syy += (ry[i] - my) * (ry[i] - my) }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return r
    }
}

/// The `[experiment]` fields that describe the gradient streams, shared by R5 and R6 so both studies
/// read the same statistics the same way.
struct StreamParameters {
    var sources: [GradientStream.Source]
    var mixings: [Double]
    var base: GradientStream
    var seeds: [Int]

    static let datasets = ["synthetic-classification", "digits", "breast_cancer"]

    static func read(_ p: inout TableReader, _ spec: StudySpec) throws(StudyError) -> StreamParameters {
        let sources = try p.stringArray("streams", allowed: GradientStream.Source.allCases.map(\.rawValue))
            .compactMap(GradientStream.Source.init(rawValue:))
        let steps = try p.int("steps", range: 1...2000)
        let dimension = try p.int("dimension", range: 2...64), columns = try p.int("gradient_columns", range: 1...64)
        let rank = try p.int("gradient_rank", range: 1...64)
        if rank > min(dimension, columns) {
            throw StudyError(file: spec.file, field: "experiment.gradient_rank", value: "\(rank)", reason: "must not exceed min(dimension, gradient_columns) = \(min(dimension, columns))")
        }
        let mixings = try p.doubleArray("mixing", range: 0...1)
        let condition = try p.double("spectrum_condition", range: 1...1e12), scale = try p.double("gradient_scale", range: 1e-6...1e6)
        let dataset = try p.string("mlp_dataset", allowed: datasets)
        let widths = try p.intArray("mlp_widths", range: 1...256)
        if widths.count < 2 {
            throw StudyError(file: spec.file, field: "experiment.mlp_widths", value: "\(widths)", reason: "needs input and output widths")
        }
        if let e = BundledData.all.first(where: { $0.name == dataset }), widths[0] != e.features || widths.last! != e.classes {
            throw StudyError(file: spec.file, field: "experiment.mlp_widths", value: "\(widths)",
                             reason: "\(dataset) has \(e.features) features and \(e.classes) classes: widths must start with \(e.features) and end with \(e.classes)")
        }
        let batch = try p.int("mlp_batch", range: 1...512), lr = try p.double("mlp_learning_rate", range: 0...100)
        let layer = try p.int("mlp_layer", range: 0...64)
        if layer >= widths.count - 1 {
            throw StudyError(file: spec.file, field: "experiment.mlp_layer", value: "\(layer)", reason: "the MLP has \(widths.count - 1) layers (0-based)")
        }
        let seeds = try p.intArray("seeds", range: 0...1_000_000)
        let base = GradientStream(source: .synthetic, steps: steps, dimension: dimension, columns: columns, rank: rank, mixing: 0,
                                  spectrumCondition: condition, scale: scale, dataset: dataset, widths: widths, batch: batch,
                                  learningRate: lr, layer: layer)
        return StreamParameters(sources: sources, mixings: mixings, base: base, seeds: seeds)
    }

    /// The streams of the grid: one per mixing for `synthetic`, one for `mlp`.
    var streams: [GradientStream] {
        var out = [GradientStream]()
        for s in sources {
            if s == .synthetic {
                for m in mixings { var g = base; g.mixing = m; out.append(g) }
            } else {
                var g = base; g.source = .mlp; out.append(g)
            }
        }
        return out
    }
}

/// Three-way judgements shared by the R3, R5 and R6 verdicts (issue 13: a difference inside the
/// intervals is *undecided*, never "not reproduced").
enum Judgement {
    /// An interval for an exponent against the band a scaling law allows (an equivalence test):
    /// `true` when the whole interval lies inside the band, `false` when it lies wholly outside,
    /// `nil` (undecided) when it straddles an edge or is not finite.
    static func inside(_ ci: ConfidenceInterval, band: ClosedRange<Double>) -> Bool? {
        guard ci.lower.isFinite, ci.upper.isFinite else { return nil }
        if ci.lower >= band.lowerBound && ci.upper <= band.upperBound { return true }
        if ci.upper < band.lowerBound || ci.lower > band.upperBound { return false }
        return nil
    }

    /// A difference interval whose predicted sign is `expected`: `true` when the interval says so,
    /// `false` when it says the opposite, `nil` when it contains 0.
    static func sign(_ ci: ConfidenceInterval, expected: Comparison) -> Bool? {
        let c = Comparison(ci)
        if c == .undecided || !ci.lower.isFinite && !ci.upper.isFinite { return nil }
        return c == expected
    }

    /// The conjunction of parts: `false` if any part is `false`, `true` if all are `true`, else `nil`.
    static func all(_ parts: [Bool?]) -> Bool? {
        if parts.contains(where: { $0 == false }) { return false }
        return parts.isEmpty || parts.contains(where: { $0 == nil }) ? nil : true
    }

    /// The verdict word for a part, as the reports print it.
    static func word(_ b: Bool?) -> String { b == true ? "reproduced" : (b == false ? "not reproduced" : "undecided") }
}

/// A percentile-bootstrap interval for a statistic of clustered data (Efron & Tibshirani §13.3 with
/// whole clusters resampled, as in Davison & Hinkley, *Bootstrap Methods*, §3.8): the points of one
/// cluster (one seed's trajectory, one trial's matrix family) are correlated, so the clusters, not the
/// points, are the independent units. `statistic` receives the cluster indices of one resample (with
/// repetitions) and returns nil when the statistic is undefined for it (those resamples are left out
/// and counted in the result). Deterministic: the indices come from `SplitMix64(seed)`.
enum ClusterBootstrap {
    static func interval(clusters: Int, estimate: Double, level: Double = 0.95, resamples: Int = Bootstrap.defaultResamples,
                         seed: UInt64 = Bootstrap.defaultSeed, _ statistic: ([Int]) -> Double?) -> (interval: ConfidenceInterval, undefined: Int) {
        guard clusters > 0 else { return (ConfidenceInterval(estimate: estimate, lower: .nan, upper: .nan, level: level), resamples) }
        var rng = SplitMix64(seed: seed)
        var values = [Double](), undefined = 0
        values.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let pick = (0..<clusters).map { _ in Int(Double(rng.next() >> 11) * 0x1p-53 * Double(clusters)) }
            if let v = statistic(pick), !v.isNaN { values.append(v) } else { undefined += 1 }
        }
        let s = Sample(values)
        let lo = s.quantile((1 - level) / 2) ?? .nan, hi = s.quantile((1 + level) / 2) ?? .nan
        return (ConfidenceInterval(estimate: estimate, lower: lo, upper: hi, level: level), undefined)
    }
}

extension ConfidenceInterval {
    /// `estimate [lower, upper]` with three significant digits.
    var text: String { "\(Fmt.sig(estimate)) [\(Fmt.sig(lower)), \(Fmt.sig(upper))]" }
}
