import Scalars
import LinearAlgebra

/// Seeded synthetic problems with a controllable input covariance spectrum.
public enum Synthetic {
    /// Inputs `x = Q diag(√λ) z` with `z ~ N(0, I)`, `λ_i` geometric from 1 down to `1/condition`, and
    /// `Q` a seeded random rotation (product of Householder reflections): the input covariance has
    /// condition number `condition` and eigenvectors not aligned with the axes.
    public static func inputs(samples: Int, dimension: Int, condition: Double, rng: inout SplitMix64) -> Matrix<Double> {
        let lambdas = (0..<dimension).map { i in dimension == 1 ? 1 : Double.pow(1 / condition, Double(i) / Double(dimension - 1)) }
        var x = Matrix<Double>(rows: samples, columns: dimension) { _, j in rng.nextGaussian() * lambdas[j].squareRoot() }
        // rotate every row by the same Householder reflections H = I − 2vvᵀ/vᵀv
        for _ in 0..<min(dimension, 3) {
            let v = (0..<dimension).map { _ in rng.nextGaussian() }
            let vv = v.reduce(0) { $0 + $1 * $1 }
            for i in 0..<samples {
                var dot = 0.0
                for j in 0..<dimension { dot += v[j] * x[i, j] }
                let f = 2 * dot / vv
                for j in 0..<dimension { x[i, j] -= f * v[j] }
            }
        }
        return x
    }

    /// Teacher–student classification: labels are the argmax of a random linear teacher `W x`
    /// (weights N(0, 1)), so the problem is realisable by a linear model.
    public static func teacherClassification(samples: Int, dimension: Int, classes: Int, condition: Double, seed: UInt64) -> Dataset {
        var rng = SplitMix64.stream(seed: seed, "teacher-classification")
        let x = inputs(samples: samples, dimension: dimension, condition: condition, rng: &rng)
        let w = Matrix<Double>(rows: classes, columns: dimension) { _, _ in rng.nextGaussian() }
        let labels = (0..<samples).map { n -> Int in
            var best = 0, bestScore = -Double.infinity
            for c in 0..<classes {
                var s = 0.0
                for j in 0..<dimension { s += w[c, j] * x[n, j] }
                if s > bestScore { bestScore = s; best = c }
            }
            return best
        }
        return Dataset(name: "teacher-classification", features: x, labels: labels, classCount: classes)
    }

    /// Teacher–student regression: `y = W x + noise·ε` with a random linear teacher.
    public static func teacherRegression(samples: Int, dimension: Int, outputs: Int, condition: Double,
                                         noise: Double, seed: UInt64) -> Dataset {
        var rng = SplitMix64.stream(seed: seed, "teacher-regression")
        let x = inputs(samples: samples, dimension: dimension, condition: condition, rng: &rng)
        let w = Matrix<Double>(rows: outputs, columns: dimension) { _, _ in rng.nextGaussian() / Double(dimension).squareRoot() }
        let y = Matrix<Double>(rows: samples, columns: outputs) { n, o in
            var s = 0.0
            for j in 0..<dimension { s += w[o, j] * x[n, j] }
            return s
        }
        let noisy = y.map { $0 + noise * rng.nextGaussian() }
        return Dataset(name: "teacher-regression", features: x, targets: noisy)
    }
}
