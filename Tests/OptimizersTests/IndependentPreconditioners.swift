import Scalars
import LinearAlgebra
import TestSupport

/// Running error analysis in MPFR for the multi-step truth tests of SINGD, Jorge and Shampoo.
///
/// An `Enclosure` holds the exact value `v` of a quantity of the specification (evaluated in
/// MPFR-256 by plain loops, no library kernel) together with an entrywise bound `e` on how far *any*
/// floating-point evaluation of the same statement sequence, in a format with unit roundoff `u`, can be
/// from it: `|computed − v| ≤ e`. Inputs held exactly by the optimizer (its state, the rounded
/// hyperparameters, the batch) start with `e = 0`; each operation adds the standard model's rounding
/// term (Higham, *Accuracy and Stability of Numerical Algorithms*, §2.2 and Lemma 3.1/§3.1):
///
/// * `fl(x ∘ y) = (x ∘ y)(1 + δ)`, `|δ| ≤ u`, for `+ − × ÷` and `√`; elementary functions (`root`) are
///   faithful (§ Scalar contract): `|δ| ≤ 2u`;
/// * an inner product of length n, in any order and with or without FMA: `|ŝ − s| ≤ γ_n Σ|x_k||y_k|`.
///
/// The error already present in the operands propagates by the triangle inequality with the
/// magnitudes of the computed operands bounded by `|v| + e`, so the bound is rigorous (no first-order
/// truncation) and independent of how the production code associates sums as long as it evaluates the
/// statements in the order the specification writes them. The bounds are themselves evaluated in
/// MPFR-256, so their own rounding (relative 2⁻²⁵⁶) is immaterial.
struct Enclosure {
    typealias B = BigFloat256
    var v: Matrix<B>
    var e: Matrix<B>

    var rows: Int { v.rows }
    var columns: Int { v.columns }

    /// A value the optimizer holds exactly (state, batch): no error.
    init<T: Scalar>(exact m: Matrix<T>) {
        v = m.map { B($0.doubleValue) }; e = Matrix(rows: m.rows, columns: m.columns)
    }

    init(v: Matrix<B>, e: Matrix<B>) { self.v = v; self.e = e }

    /// Largest magnitude a computed entry can have.
    func magnitude(_ i: Int, _ j: Int) -> B { v[i, j].magnitude + e[i, j] }

    var transposed: Enclosure {
        Enclosure(v: Matrix(rows: columns, columns: rows) { v[$1, $0] }, e: Matrix(rows: columns, columns: rows) { e[$1, $0] })
    }
}

/// A scalar with the same meaning as `Enclosure`.
struct ScalarEnclosure {
    typealias B = BigFloat256
    var v: B
    var e: B
    init(v: B, e: B) { self.v = v; self.e = e }
    /// A constant rounded once to the format at set-up (§1.3): held exactly.
    init(exact x: Double) { v = B(x); e = 0 }
    var magnitude: B { v.magnitude + e }
}

/// The rounding model of the format under test: its unit roundoff u and `γ_n = nu/(1 − nu)`.
struct RoundingModel {
    typealias B = BigFloat256
    let u: B
    init<T: Scalar>(_: T.Type) { u = B(T.unitRoundoff) }
    func gamma(_ n: Int) -> B { B(Double(n)) * u / (1 - B(Double(n)) * u) }

    // MARK: matrices

    /// `x·y` with inner dimension n: `Σ(|x|+e_x)e_y + e_x|y| + γ_n Σ(|x|+e_x)(|y|+e_y)`.
    func product(_ x: Enclosure, _ y: Enclosure) -> Enclosure {
        precondition(x.columns == y.rows, "product \(x.rows)×\(x.columns) · \(y.rows)×\(y.columns)")
        let n = x.columns, g = gamma(n)
        var v = Matrix<B>(rows: x.rows, columns: y.columns), e = v
        for i in 0..<x.rows { for j in 0..<y.columns {
            var s = B(0), prop = B(0), mag = B(0)
            for k in 0..<n {
                s += x.v[i, k] * y.v[k, j]
                prop += x.magnitude(i, k) * y.e[k, j] + x.e[i, k] * y.v[k, j].magnitude
                mag += x.magnitude(i, k) * y.magnitude(k, j)
            }
            v[i, j] = s; e[i, j] = prop + g * mag
        } }
        return Enclosure(v: v, e: e)
    }

    /// Entrywise `a·x + b·y` evaluated as `fl(fl(a·x) + fl(b·y))`; a coefficient of exactly 1 is not a
    /// rounding (the product is exact), as in the optimizers' `axpby` statements.
    func axpby(_ a: ScalarEnclosure, _ x: Enclosure, _ b: ScalarEnclosure, _ y: Enclosure) -> Enclosure {
        let ax = scale(x, a), by = scale(y, b)
        return add(ax, by)
    }

    /// `fl(x + y)`.
    func add(_ x: Enclosure, _ y: Enclosure) -> Enclosure {
        precondition(x.rows == y.rows && x.columns == y.columns)
        let v = Matrix<B>(rows: x.rows, columns: x.columns) { x.v[$0, $1] + y.v[$0, $1] }
        let e = Matrix<B>(rows: x.rows, columns: x.columns) { i, j in
            x.e[i, j] + y.e[i, j] + u * (v[i, j].magnitude + x.e[i, j] + y.e[i, j])
        }
        return Enclosure(v: v, e: e)
    }

    /// `fl(x − y)`.
    func subtract(_ x: Enclosure, _ y: Enclosure) -> Enclosure { add(x, negate(y)) }

    func negate(_ x: Enclosure) -> Enclosure { Enclosure(v: x.v.map { -$0 }, e: x.e) }

    /// `fl(s·x)` entrywise; `s = ±1` exactly is no rounding.
    func scale(_ x: Enclosure, _ s: ScalarEnclosure) -> Enclosure {
        let exactUnit = s.e == 0 && s.v.magnitude == 1
        let v = x.v.map { $0 * s.v }
        let e = Matrix<B>(rows: x.rows, columns: x.columns) { i, j in
            let prop = x.magnitude(i, j) * s.e + x.e[i, j] * s.v.magnitude
            return exactUnit ? prop : prop + u * x.magnitude(i, j) * s.magnitude
        }
        return Enclosure(v: v, e: e)
    }

    /// `fl(x / n)` for an integer n held exactly.
    func divide(_ x: Enclosure, byInteger n: Int) -> Enclosure {
        let d = B(Double(n))
        return Enclosure(v: x.v.map { $0 / d }, e: Matrix(rows: x.rows, columns: x.columns) { i, j in (x.e[i, j] + u * x.magnitude(i, j)) / d })
    }

    /// `fl(X_ii + c)` on the diagonal for an exact constant c.
    func addingToDiagonal(_ x: Enclosure, _ c: Double) -> Enclosure {
        var r = x
        for i in 0..<min(x.rows, x.columns) {
            r.v[i, i] = x.v[i, i] + B(c)
            r.e[i, i] = x.e[i, i] + u * (r.v[i, i].magnitude + x.e[i, i])
        }
        return r
    }

    /// Keeps the entries where `keep` holds (exact), zeroes the rest (exact).
    func masked(_ x: Enclosure, _ keep: (Int, Int) -> Bool) -> Enclosure {
        Enclosure(v: Matrix(rows: x.rows, columns: x.columns) { keep($0, $1) ? x.v[$0, $1] : 0 },
                  e: Matrix(rows: x.rows, columns: x.columns) { keep($0, $1) ? x.e[$0, $1] : 0 })
    }

    // MARK: scalars

    func add(_ x: ScalarEnclosure, _ y: ScalarEnclosure) -> ScalarEnclosure {
        let v = x.v + y.v
        return ScalarEnclosure(v: v, e: x.e + y.e + u * (v.magnitude + x.e + y.e))
    }

    func multiply(_ x: ScalarEnclosure, _ y: ScalarEnclosure) -> ScalarEnclosure {
        ScalarEnclosure(v: x.v * y.v, e: x.magnitude * y.e + x.e * y.v.magnitude + u * x.magnitude * y.magnitude)
    }

    /// `fl(x / y)`: `|x̂/ŷ − x/y| ≤ (e_x|y| + |x|e_y)/(|y|(|y| − e_y))`, then one rounding.
    func divide(_ x: ScalarEnclosure, _ y: ScalarEnclosure) -> ScalarEnclosure {
        precondition(y.v.magnitude > y.e, "divisor not bounded away from 0")
        let v = x.v / y.v
        let prop = (x.e * y.v.magnitude + x.v.magnitude * y.e) / (y.v.magnitude * (y.v.magnitude - y.e))
        return ScalarEnclosure(v: v, e: prop + u * (v.magnitude + prop))
    }

    /// Faithful `x^{1/k}` of a positive value: the mean-value theorem with `f'` decreasing bounds the
    /// propagated part by `(1/k)(x − e)^{1/k − 1}·e`; the evaluation adds 2u.
    func root(_ x: ScalarEnclosure, _ k: Int) -> ScalarEnclosure {
        precondition(x.v > x.e, "root of a value not bounded away from 0")
        let v = B.root(x.v, k)
        let low = x.v - x.e
        let prop = x.e * B.root(low, k) / (B(Double(k)) * low)
        return ScalarEnclosure(v: v, e: prop + 2 * u * (v + prop))
    }

    /// Correctly rounded √x.
    func squareRoot(_ x: ScalarEnclosure) -> ScalarEnclosure {
        precondition(x.v >= x.e, "square root of a possibly negative value")
        let v = B.sqrt(x.v)
        // |√x̂ − √x| ≤ e/(√x + √(x − e)) ≤ e/√x, and ≤ √e when x is tiny
        let prop = x.v > 0 ? min(x.e / v, B.sqrt(x.e)) : B.sqrt(x.e)
        return ScalarEnclosure(v: v, e: prop + u * (v + prop))
    }

    /// `fl(Σ_{(i,j) ∈ S} X_ij)` for `|S|` = n terms in any order.
    func sum(_ x: Enclosure, over s: [(Int, Int)]) -> ScalarEnclosure {
        var v = B(0), prop = B(0), mag = B(0)
        for (i, j) in s { v += x.v[i, j]; prop += x.e[i, j]; mag += x.magnitude(i, j) }
        return ScalarEnclosure(v: v, e: prop + gamma(max(s.count - 1, 0)) * mag)
    }

    /// `τ(X) = tr(X)/d`: a d-term sum, then one division by the exact d.
    func averageTrace(_ x: Enclosure) -> ScalarEnclosure {
        let t = sum(x, over: (0..<x.rows).map { ($0, $0) })
        let d = B(Double(x.rows))
        return ScalarEnclosure(v: t.v / d, e: (t.e + u * t.magnitude) / d)
    }

    /// `‖X‖_F` computed as `√(Σ x²)` (squares, an n-term sum and a square root, each as the standard
    /// model): `|‖X̂‖ − ‖X‖| ≤ ‖E‖_F` by the triangle inequality, then the evaluation's relative
    /// `γ_{n+2}` of the computed norm (the square root halves the sum's relative error; counted whole).
    /// A scaled evaluation `m·‖X/m‖_F` adds two roundings (division, product): `extraRoundings = 2`.
    func frobenius(_ x: Enclosure, extraRoundings: Int = 0) -> ScalarEnclosure {
        var s = B(0), es = B(0)
        for i in 0..<x.rows { for j in 0..<x.columns { s += x.v[i, j] * x.v[i, j]; es += x.e[i, j] * x.e[i, j] } }
        let v = B.sqrt(s), prop = B.sqrt(es)
        return ScalarEnclosure(v: v, e: prop + gamma(x.rows * x.columns + 2 + extraRoundings) * (v + prop))
    }

    /// `max_{(i,j) ∈ S} |X_ij|` (no rounding; moves by at most the largest error).
    func maxAbs(_ x: Enclosure, over s: [(Int, Int)]) -> ScalarEnclosure {
        var v = B(0), e = B(0)
        for (i, j) in s { v = max(v, x.v[i, j].magnitude); e = max(e, x.e[i, j]) }
        return ScalarEnclosure(v: v, e: e)
    }
}

/// Comparison of a computed matrix with its enclosure.
extension Enclosure {
    /// The largest `|computed − v| / e` over the entries (≤ 1 means inside the bound; an entry whose
    /// bound is 0 must match exactly, else the ratio is +∞), with the entry where it occurs.
    func worstRatio<T: Scalar>(_ m: Matrix<T>) -> (ratio: Double, i: Int, j: Int, computed: Double, exact: Double, bound: Double) {
        precondition(m.rows == rows && m.columns == columns, "shape \(m.rows)×\(m.columns) vs \(rows)×\(columns)")
        var worst = (ratio: 0.0, i: 0, j: 0, computed: 0.0, exact: 0.0, bound: 0.0)
        for i in 0..<rows { for j in 0..<columns {
            let d = (B(m[i, j].doubleValue) - v[i, j]).magnitude
            let r: Double = d == 0 ? 0 : (e[i, j] == 0 ? .infinity : (d / e[i, j]).doubleValue)
            if !(r <= worst.ratio) { worst = (r.isNaN ? .infinity : r, i, j, m[i, j].doubleValue, v[i, j].doubleValue, e[i, j].doubleValue) }
        } }
        return worst
    }
}

/// Independent matrix functions in MPFR for the Shampoo checks (no library factorization).
enum IndependentSPD {
    typealias B = BigFloat256

    /// `(λ_min, λ_max)` of a symmetric positive definite matrix: λ_max by power iteration (from the
    /// all-ones vector, `Independent.lambdaMax`), λ_min as 1/λ_max of the Gauss–Jordan inverse.
    static func extremeEigenvalues(_ m: Matrix<B>) -> (B, B) {
        let lmax = Independent.lambdaMax(m)
        let lmin = 1 / Independent.lambdaMax(DenseOracle.inverse(m))
        return (lmin, lmax)
    }

    /// K3's coupled Newton iteration transcribed from the pseudo-code for a given ridge, in MPFR,
    /// returning the root, the accepted iterations and the smallest relative distance of any
    /// `‖Y − I‖_max` from the two thresholds it is compared with (tol and 1.2·err): the production run
    /// takes the same branches whenever its rounding moves those errors by less than that margin.
    static func newton(_ m: Matrix<B>, ridge: B, p: Int, tolerance: Double, maxIterations: Int) -> (root: Matrix<B>, iterations: Int, margin: Double) {
        let n = m.rows
        let mr = Matrix<B>(rows: n, columns: n) { i, j in m[i, j] + (i == j ? ridge : 0) }
        var fro = B(0)
        for x in mr.elements { fro += x * x }
        let z = B(Double(1 + p)) / (2 * B.sqrt(fro))
        let zr = B.root(z, p)
        var x = Matrix<B>(rows: n, columns: n) { i, j in i == j ? zr : 0 }
        var y = mr.map { $0 * z }
        func deviation(_ a: Matrix<B>) -> B {
            var d = B(0)
            for i in 0..<n { for j in 0..<n { d = max(d, (a[i, j] - (i == j ? 1 : 0)).magnitude) } }
            return d
        }
        let tol = B(tolerance)
        var err = deviation(y), k = 0
        var margin = ((err - tol).magnitude / tol).doubleValue
        while err > tol && k < maxIterations {
            let s = Matrix<B>(rows: n, columns: n) { i, j in (i == j ? B(Double(p + 1)) / B(Double(p)) : 0) - y[i, j] / B(Double(p)) }
            let xn = DenseOracle.product(x, s)
            var sp = s
            for _ in 1..<p { sp = DenseOracle.product(sp, s) }
            y = DenseOracle.product(sp, y)
            let errn = deviation(y)
            margin = min(margin, ((errn - B(1.2) * err).magnitude / errn).doubleValue, ((errn - tol).magnitude / tol).doubleValue)
            if errn > B(1.2) * err { break }
            x = xn; err = errn; k += 1
        }
        return (x, k, margin)
    }

    /// Spectral radius of a real square matrix by Gelfand's formula `lim ‖Y^{2^k}‖_F^{1/2^k}`,
    /// 64 squarings with rescaling (error factor ≤ n^{1/2^{64}} − 1 ≈ 1e-19·log n).
    static func spectralRadius(_ y: Matrix<B>) -> B {
        var a = y, logScale = B(0), weight = B(1)
        for _ in 0..<64 {
            let f = Independent.frobenius(a)
            if f == 0 { return 0 }
            a = a.map { $0 / f }
            logScale += weight * B.log(f)
            a = DenseOracle.product(a, a)
            weight = weight / 2
        }
        return B.exp(logScale + weight * B.log(Independent.frobenius(a)))
    }
}

extension RoundingModel {
    /// `fl(X_ij / s)` entrywise for a computed scalar s (the scalar rule of `divide`).
    func divide(_ x: Enclosure, by s: ScalarEnclosure) -> Enclosure {
        var r = x
        for i in 0..<x.rows { for j in 0..<x.columns {
            let q = divide(ScalarEnclosure(v: x.v[i, j], e: x.e[i, j]), s)
            r.v[i, j] = q.v; r.e[i, j] = q.e
        } }
        return r
    }

    /// A constant derived at set-up in Double by `doubleRoundings` correctly rounded (or faithful,
    /// counted twice) operations and then rounded once to the format (§1.3): its exact value and
    /// `|ĉ − c| ≤ |c|·(γᴰ + u(1 + γᴰ))`, γᴰ of binary64.
    func derivedConstant(_ exact: B, doubleRoundings k: Int) -> ScalarEnclosure {
        let gd = B(Double.gammaBound(k))
        return ScalarEnclosure(v: exact, e: exact.magnitude * (gd + u * (1 + gd)))
    }

    /// Whether some computed entry must exceed the format's largest finite value (`true`), none can
    /// (`false`); `nil` when the envelope straddles it (the data leave the branch undecided).
    func overflows<T: Scalar>(_ x: Enclosure, _: T.Type) -> Bool? {
        let big = B(T.greatestFiniteMagnitude.doubleValue)
        var certain = false, possible = false
        for i in 0..<x.rows { for j in 0..<x.columns {
            if x.v[i, j].magnitude - x.e[i, j] > big { certain = true }
            if x.v[i, j].magnitude + x.e[i, j] > big { possible = true }
        } }
        return certain ? true : (possible ? nil : false)
    }
}

extension Enclosure {
    /// Whether the check is not vacuous at this step: the envelope's widest entry is narrower than the
    /// largest change the step makes to the exact state, so omitting or reversing the step's change —
    /// what a wrong sign, a misplaced damping or a swapped β/(1 − β) do to some entry — leaves the
    /// envelope. `nil` when the state did not change (a skipped interval), where equality is exact.
    func resolvesChange(from previous: Enclosure) -> Bool? {
        var width = B(0), change = B(0)
        for i in 0..<rows { for j in 0..<columns {
            width = max(width, e[i, j]); change = max(change, (v[i, j] - previous.v[i, j]).magnitude)
        } }
        return change == 0 ? nil : width < change
    }
}
