import Scalars
import LinearAlgebra

/// A supervised data set held in Double (the precision-independent truth); each study cell converts
/// it once to its scalar type.
///
/// `features` is samples × features (row `n` is sample `n`). For classification `labels[n]` is in
/// `0..<classCount`; for regression `targets` is samples × outputs and `labels` is empty.
public struct Dataset: Sendable, Hashable {
    public var name: String
    public var features: Matrix<Double>
    public var labels: [Int]
    public var targets: Matrix<Double>?
    public var classCount: Int

    public init(name: String, features: Matrix<Double>, labels: [Int], classCount: Int) {
        self.name = name; self.features = features; self.labels = labels; self.targets = nil; self.classCount = classCount
    }

    public init(name: String, features: Matrix<Double>, targets: Matrix<Double>) {
        self.name = name; self.features = features; self.labels = []; self.targets = targets; self.classCount = 0
    }

    public var sampleCount: Int { features.rows }
    public var featureCount: Int { features.columns }
    public var isClassification: Bool { targets == nil }
    /// Width of the network output: classes for classification, target columns for regression.
    public var outputCount: Int { targets?.columns ?? classCount }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int], name: String? = nil) -> Dataset {
        let f = Matrix<Double>(rows: indices.count, columns: featureCount) { i, j in features[indices[i], j] }
        if let t = targets {
            let tt = Matrix<Double>(rows: indices.count, columns: t.columns) { i, j in t[indices[i], j] }
            return Dataset(name: name ?? self.name, features: f, targets: tt)
        }
        return Dataset(name: name ?? self.name, features: f, labels: indices.map { labels[$0] }, classCount: classCount)
    }

    /// A deterministic train/test split: a SplitMix64 shuffle of the indices seeded by `seed`, the first
    /// `round(trainFraction · n)` samples for training.
    public func split(trainFraction: Double, seed: UInt64) throws(DatasetError) -> (train: Dataset, test: Dataset) {
        guard trainFraction > 0, trainFraction < 1 else {
            throw DatasetError(source: name, line: nil, column: nil, reason: "train fraction must be in (0, 1), got \(trainFraction)")
        }
        var order = Array(0..<sampleCount)
        var rng = SplitMix64.stream(seed: seed, "split")
        rng.shuffle(&order)
        let nTrain = Int((trainFraction * Double(sampleCount)).rounded())
        return (subset(Array(order[..<nTrain]), name: name + "/train"), subset(Array(order[nTrain...]), name: name + "/test"))
    }

    /// Standardises every feature to zero mean and unit variance using statistics of `self` (the
    /// training split), applied to both sets so no test information leaks. Constant features are
    /// centred only.
    public func standardizer() -> (Dataset) -> Dataset {
        let n = Double(sampleCount)
        var mean = [Double](repeating: 0, count: featureCount), scale = mean
        for j in 0..<featureCount {
            var s = 0.0
            for i in 0..<sampleCount { s += features[i, j] }
            mean[j] = s / n
            var v = 0.0
            for i in 0..<sampleCount { let d = features[i, j] - mean[j]; v += d * d }
            let sd = (v / n).squareRoot()
            scale[j] = sd > 0 ? 1 / sd : 1
        }
        return { data in
            var d = data
            d.features = Matrix(rows: data.sampleCount, columns: data.featureCount) { i, j in (data.features[i, j] - mean[j]) * scale[j] }
            return d
        }
    }
}

/// A data problem: names the source (file or generator), the line and column where known, and why.
public struct DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    public let source: String
    public let line: Int?
    public let column: Int?
    public let reason: String

    public init(source: String, line: Int?, column: Int?, reason: String) {
        self.source = source; self.line = line; self.column = column; self.reason = reason
    }

    public var description: String {
        var place = source
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        return "\(place): \(reason)"
    }
}
