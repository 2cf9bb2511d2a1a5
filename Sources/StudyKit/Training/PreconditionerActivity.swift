import Scalars
import LinearAlgebra
import Optimizers

/// How far an optimizer's preconditioner is from a scaled identity — the control that tells a
/// preconditioned method from SGD in disguise (review rule 1 of Docs/Reports.md: a SINGD whose K stays within 4% of I is
/// SGD, and its "stability in bf16" says nothing about SINGD).
///
/// The statistic of one factor P (n×n) is its *departure* ‖P − τI‖_F / ‖P‖_F with τ = tr(P)/n, the
/// scale for which τI is the nearest multiple of the identity in the Frobenius norm. It is 0 exactly
/// for P = τI, scale-free, and at most 1 (‖P − τI‖²_F = ‖P‖²_F − tr(P)²/n). A preconditioner with
/// departure d changes the direction of an update only through a part carrying a fraction d of its norm.
///
/// The factors are read from the optimizer's exported state (`Optimizer.exportState()`), by the state's
/// own entry names, so every method that stores Kronecker factors is covered without a method-specific
/// hook: KFAC's damped inverses `inverse_A`, `inverse_G` (its factors `factors_A`, `factors_G` for the
/// eigen variants, which store no inverse); SINGD's and IKFAC's K and C as P = KKᵀ, CCᵀ (the inverse
/// factors they track); Shampoo's and Jorge's roots `roots_L`, `roots_R`; MKOR's `inverse_L`, `inverse_R`.
/// First-order methods have none and give no value: they have no preconditioner to be active.
public enum PreconditionerActivity {
    /// The metric name in `results.csv` (per layer, and layer −1 for the largest over layers).
    public static let metric = "departure"

    /// ‖P − τI‖_F / ‖P‖_F, τ = tr(P)/n, summed in index order in Double; NaN for a non-square, empty or
    /// zero matrix, or non-finite entries.
    public static func departure(_ p: Matrix<Double>) -> Double {
        let n = p.rows
        guard n > 0, p.columns == n, p.elements.allSatisfy(\.isFinite) else { return .nan }
        var trace = 0.0
        for i in 0..<n { trace += p[i, i] }
        let tau = trace / Double(n)
        var off = 0.0, total = 0.0
        for i in 0..<n {
            for j in 0..<n {
                let v = p[i, j], d = i == j ? v - tau : v
                off += d * d; total += v * v
            }
        }
        return total > 0 ? (off / total).squareRoot() : .nan
    }

    /// Departure per layer (the largest over the layer's factors), from an exported state; empty for a
    /// method without Kronecker factors, or before its factors exist.
    public static func departures(_ state: OptimizerState) -> [Int: Double] {
        var out = [Int: Double]()
        func take(_ key: String, _ fallback: String? = nil, gram: Bool = false) {
            guard let ms = state.matrices[key] else { return }
            for (layer, m) in ms.enumerated() {
                var p = m
                if p.rows == 0, let f = fallback, let alt = state.matrices[f], layer < alt.count { p = alt[layer] }
                guard p.rows > 0 else { continue }
                if gram { p = gramOfRows(p) }
                let d = departure(p)
                if d.isNaN { out[layer] = .nan } else if !(out[layer]?.isNaN ?? false) { out[layer] = max(out[layer] ?? 0, d) }
            }
        }
        take("inverse_A", "factors_A"); take("inverse_G", "factors_G")
        take("K", gram: true); take("C", gram: true)
        take("roots_L"); take("roots_R")
        take("inverse_L"); take("inverse_R")
        return out
    }

    /// `X Xᵀ`, summed in index order.
    static func gramOfRows(_ x: Matrix<Double>) -> Matrix<Double> {
        Matrix(rows: x.rows, columns: x.rows) { i, j in
            var s = 0.0
            for k in 0..<x.columns { s += x[i, k] * x[j, k] }
            return s
        }
    }
}
