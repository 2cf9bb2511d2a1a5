import Networks
import LinearAlgebra

/// Whether the first batch can make each Kronecker factor full rank — the precondition for reading a
/// failed Cholesky as a precision effect (review rule 1 of Docs/Reports.md: an (n+1)×(n+1) factor built from fewer than
/// n+1 samples is singular in exact arithmetic, whatever the format).
///
/// The input factor A₀ = ĀĀᵀ/N is computed from each seed's first batch in binary64 and its numerical
/// rank counted (eigenvalues above (d+1)·ε·λ_max, ε = 2⁻⁵²); hidden factors are (h+1)×(h+1) from N
/// samples of tanh activations, full rank only if N ≥ h+1; the output-gradient factor of a softmax
/// cross-entropy layer is singular at any batch, because each sample's ĝ = p − y sums to zero over
/// the classes.
enum FactorRank {
    static func section(_ t: TrainingSpec, _ data: ProblemData) -> String {
        let widths = data.network.widths
        let n = t.batchSize
        var lines = [String]()
        var ranks = [Int]()
        for seed in t.seeds {
            guard let schedule = try? BatchSchedule(sampleCount: data.train.sampleCount, batchSize: n, seed: UInt64(seed)) else { continue }
            let batch = Batch<Double>(data.train, indices: schedule.indices(step: 1))
            let d = batch.inputs.rows + (data.network.bias ? 1 : 0)
            let abar = Matrix<Double>(rows: d, columns: batch.inputs.columns) { i, j in i < batch.inputs.rows ? batch.inputs[i, j] : 1 }
            guard let a = try? Matrix.product(abar, .none, abar, .transposed, accumulation: .perOperation),
                  let eigen = try? a.symmetricEigen() else { continue }
            let values = eigen.values
            let top = values.max() ?? 0
            ranks.append(values.filter { $0 > Double(d) * Double.ulpOfOne * top }.count)
        }
        let d0 = widths[0] + (data.network.bias ? 1 : 0)
        if let worst = ranks.min() {
            lines.append("- Input factor A₀ (\(d0)×\(d0)) from the first batch of \(n) samples: numerical rank \(worst == ranks.max()! ? "\(worst)" : "\(worst)–\(ranks.max()!)") over seeds" +
                         (worst < d0 ? " — **rank deficient** (\(d0 - worst) directions without data: \(n < d0 ? "fewer samples than rows" : "constant or collinear features")); only damping makes it invertible, in any precision." : ", full rank."))
        }
        for l in 1..<max(1, widths.count - 1) {
            let h = widths[l] + (data.network.bias ? 1 : 0)
            lines.append("- Hidden factor A\(l) (\(h)×\(h)): " + (n >= h ? "N = \(n) ≥ \(h), can be full rank from step 1." : "N = \(n) < \(h): **singular at every step** in exact arithmetic."))
        }
        let out = widths.last!
        if t.problem.loss == .crossEntropy {
            lines.append("- Output-gradient factor G\(widths.count - 2) (\(out)×\(out)): each sample's ĝ = p − y sums to zero over the classes, so G has rank ≤ \(out - 1) at any batch — singular in exact arithmetic; damping alone makes it invertible.")
        }
        return "## Factor rank at step 1\n\n" + lines.joined(separator: "\n") + "\n"
    }
}
