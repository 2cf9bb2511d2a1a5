import Testing
import Scalars
import LinearAlgebra

/// The LAPACK fast paths (OpenBLAS `?potrf`, `?syevd`, one thread) against the generic path and MPFR.
@Suite struct LAPACKCholesky {
    typealias B = BigFloat256

    /// Both factors are backward stable with `|ΔA| ≤ γ_{n+1}|L̂||L̂ᵀ|` (Higham Thm 10.3, any summation
    /// order), so `‖ΔA‖_F ≤ γ_{n+1}‖L̂‖_F² = γ_{n+1} tr A ≤ n·γ_{n+1}‖A‖₂`. The perturbation bound
    /// `‖ΔL‖_F/‖L‖₂ ≤ 2^{-1/2} κ₂(A) ‖ΔA‖_F/‖A‖₂` (Higham Thm 10.8, first order) then gives, for the
    /// difference of the two factors, `‖L̂₁ − L̂₂‖_F ≤ √2·n·κ·γ_{n+1}·‖L‖₂` with `‖L‖₂ = ‖A‖₂^{1/2}`.
    func agreesWithGeneric<T: Scalar>(_: T.Type, condition: Double) throws {
        let n = 12
        let a = SPDGenerator.matrix(dimension: n, condition: condition, seed: 21).converted(to: T.self)
        guard case .success(let fast) = try a.cholesky(method: .lapack),
              case .success(let slow) = try a.cholesky(method: .generic) else { Issue.record("breakdown"); return }
        let kappa = MatrixHealth(a).conditionNumber, normA = a.spectralNorm
        let bound = 2.0.squareRoot() * Double(n) * kappa * T.gammaBound(n + 1) * normA.squareRoot()
        let diff = try fast.converted(to: Double.self).subtracting(slow.converted(to: Double.self)).frobeniusNorm
        #expect(diff <= bound, "\(T.formatName) κ=\(condition): ‖ΔL‖ \(diff), bound \(bound)")
        // and the LAPACK factor itself meets Thm 10.3 elementwise, evaluated in MPFR-256
        let lb = fast.converted(to: B.self), ab = a.converted(to: B.self)
        let llt = try Matrix.product(lb, .none, lb, .transposed, accumulation: .perOperation)
        let absL = lb.map { $0.magnitude }
        let env = try Matrix.product(absL, .none, absL, .transposed, accumulation: .perOperation)
        for i in 0..<n { for j in 0...i {
            #expect((llt[i, j] - ab[i, j]).magnitude <= B(T.gammaBound(n + 1)) * env[i, j], "\(T.formatName) (\(i),\(j))")
        } }
        // strictly upper triangle is zero, as in the generic factor
        for i in 0..<n { for j in (i + 1)..<n { #expect(fast[i, j] == 0) } }
    }

    @Test func doubleAgreesWithGeneric() throws {
        for c in [1.0, 1e4, 1e8] { try agreesWithGeneric(Double.self, condition: c) }
    }

    @Test func floatAgreesWithGeneric() throws {
        for c in [1.0, 1e2, 1e4] { try agreesWithGeneric(Float.self, condition: c) }
    }

    @Test func repeatedRunsAreBitIdentical() throws {
        let a = SPDGenerator.matrix(dimension: 40, condition: 1e5, seed: 4)
        let r1 = try a.cholesky(method: .lapack), r2 = try a.cholesky(method: .lapack)
        guard case .success(let l1) = r1, case .success(let l2) = r2 else { Issue.record("breakdown"); return }
        #expect(l1.elements.map(\.bitPattern) == l2.elements.map(\.bitPattern))
        let f = a.converted(to: Float.self)
        guard case .success(let f1) = try f.cholesky(method: .lapack), case .success(let f2) = try f.cholesky(method: .lapack) else { Issue.record("breakdown"); return }
        #expect(f1.elements.map(\.bitPattern) == f2.elements.map(\.bitPattern))
    }

    /// [[1, 2], [2, 1]] is indefinite: the second pivot is 1 − 2·2 = −3 exactly. LAPACK's info = 2
    /// becomes pivot index 1 with its value, as the generic path reports it.
    @Test func breakdownIsAResultWithThePivot() throws {
        let a = try Matrix<Double>(rows: 2, columns: 2, elements: [1, 2, 2, 1])
        guard case .failure(let f) = try a.cholesky(method: .lapack) else { Issue.record("expected breakdown"); return }
        guard case .failure(let g) = try a.cholesky(method: .generic) else { Issue.record("expected breakdown"); return }
        #expect(f == g)
        #expect(f.pivotIndex == 1 && f.pivotValue == -3)
        let af = a.converted(to: Float.self)
        guard case .failure(let ff) = try af.cholesky(method: .lapack) else { Issue.record("expected breakdown"); return }
        #expect(ff.pivotIndex == 1 && ff.pivotValue == -3)
    }

    @Test func nonFiniteInputIsAFailureNotGarbage() throws {
        var a = SPDGenerator.matrix(dimension: 5, condition: 10, seed: 1)
        a[3, 2] = .nan; a[2, 3] = .nan
        guard case .failure(let f) = try a.cholesky(method: .lapack) else { Issue.record("expected failure"); return }
        #expect(f.pivotIndex == 3)
    }

    /// Float16 has no LAPACK path: `.automatic` runs the generic code, bit for bit.
    @Test func otherTypesUseTheGenericPath() throws {
        let a = SPDGenerator.matrix(dimension: 6, condition: 10, seed: 3).converted(to: Float16.self)
        #expect(!FactorizationMethod.automatic.usesLAPACK(for: Float16.self))
        guard case .success(let x) = try a.cholesky(method: .automatic), case .success(let y) = try a.cholesky() else { Issue.record("breakdown"); return }
        #expect(x == y)
    }
}

@Suite struct LAPACKEigen {
    typealias B = BigFloat256

    /// Eigenvalues: both solvers are backward stable, so by Weyl each differs from the exact eigenvalue
    /// of the stored matrix by at most its backward error: Jacobi `s·2(n−1)·γ₆·‖A‖_F` (FactorizationTests),
    /// LAPACK `p(n)·u·‖A‖₂` (LAPACK Users' Guide §4.7: "a modestly growing function of n", not given). We
    /// take `p(n) = n²`: `?syevd` reduces to tridiagonal form by n−1 Householder reflections of length ≤ n,
    /// and a product of k such reflections is within `√n·k·γ̃_{cn}` of orthogonal (Higham, *Accuracy and
    /// Stability*, Lemma 19.3), i.e. O(n²)·u with c = 1. (A first choice `p(n) = n` was violated by
    /// `‖Q̂ᵀQ̂ − I‖_F` = 2.7e-15 > 2.5e-15 at n = 8 in Double: it was a guess, not a bound.)
    /// Eigenvectors (canonical signs on both paths): Davis–Kahan `sin θ ≤ η/gap`, and for unit vectors of
    /// agreeing orientation `‖v₁ − v₂‖ = 2 sin(θ/2) ≤ θ ≤ (π/2) sin θ`, summed over both solvers, with the gap
    /// of the generator's known spectrum `κ^{-i/(n−1)}` less both backward errors.
    func agrees<T: Scalar>(_: T.Type, condition: Double) throws {
        let n = 8
        let a = SPDGenerator.matrix(dimension: n, condition: condition, seed: 31).converted(to: T.self)
        guard case .success(let fast) = try a.symmetricEigen(method: .lapack),
              case .success(let slow) = try a.symmetricEigen(method: .generic) else { Issue.record("eigen failure"); return }
        #expect(fast.method == .lapack && slow.method == .generic)
        let u = T.unitRoundoff
        let etaJ = Double(slow.sweeps) * 2 * Double(n - 1) * T.gammaBound(6) * a.frobeniusNorm
        let pn = Double(n * n)
        let etaL = pn * u * a.spectralNorm
        let lambdas = (0..<n).map { Double.pow(1 / condition, Double(n - 1 - $0) / Double(n - 1)) }   // ascending
        for i in 0..<n {
            #expect(abs(fast.values[i].doubleValue - slow.values[i].doubleValue) <= etaJ + etaL, "\(T.formatName) λ\(i)")
            var gap = Double.infinity
            for j in 0..<n where j != i { gap = min(gap, abs(lambdas[i] - lambdas[j])) }
            gap -= 2 * (etaJ + etaL)
            guard gap > 0 else { continue }
            var d = 0.0
            for k in 0..<n { let x = fast.vectors[k, i].doubleValue - slow.vectors[k, i].doubleValue; d += x * x }
            #expect(d.squareRoot() <= Double.pi / 2 * (etaJ + etaL) / gap, "\(T.formatName) κ=\(condition) v\(i): \(d.squareRoot())")
        }
        // LAPACK's result reconstructs A and is orthogonal to its backward error (MPFR-256 evaluation)
        let q = fast.vectors.converted(to: B.self)
        let qd = Matrix(rows: n, columns: n) { i, j in q[i, j] * B(fast.values[j].doubleValue) }
        let rec = try Matrix.product(qd, .none, q, .transposed, accumulation: .perOperation).subtracting(a.converted(to: B.self))
        let orth = try Matrix.product(q, .transposed, q, .none, accumulation: .perOperation).subtracting(.identity(n))
        // ‖E‖_F ≤ √n‖E‖₂ ≤ √n·p(n)·u·‖A‖₂ ≤ √n·p(n)·u·‖A‖_F, and ‖Q̂ᵀQ̂ − I‖_F ≤ √n·p(n)·u; the products
        // here are evaluated in MPFR-256 and add nothing at this scale
        #expect(rec.frobeniusNorm <= pn * u * a.frobeniusNorm * Double(n).squareRoot())
        #expect(orth.frobeniusNorm <= pn * u * Double(n).squareRoot())
    }

    @Test func doubleAgreesWithJacobi() throws {
        for c in [1e2, 1e6] { try agrees(Double.self, condition: c) }
    }

    @Test func floatAgreesWithJacobi() throws {
        for c in [1e1, 1e3] { try agrees(Float.self, condition: c) }
    }

    @Test func repeatedRunsAreBitIdentical() throws {
        let a = SPDGenerator.matrix(dimension: 30, condition: 1e4, seed: 6)
        guard case .success(let e1) = try a.symmetricEigen(method: .lapack), case .success(let e2) = try a.symmetricEigen(method: .lapack) else {
            Issue.record("eigen failure"); return
        }
        #expect(e1.values.map(\.bitPattern) == e2.values.map(\.bitPattern))
        #expect(e1.vectors.elements.map(\.bitPattern) == e2.vectors.elements.map(\.bitPattern))
    }

    /// NaN never reaches LAPACK, and is not hidden by Jacobi's early stop: both paths report it.
    @Test func nonFiniteInputIsAFailure() throws {
        var a = SPDGenerator.matrix(dimension: 4, condition: 10, seed: 2).converted(to: Float.self)
        a[0, 1] = .nan
        for m in FactorizationMethod.allCases {
            guard case .failure(let f) = try a.symmetricEigen(method: m) else { Issue.record("\(m): expected failure"); continue }
            #expect(f.nonFiniteInput)
        }
    }
}
