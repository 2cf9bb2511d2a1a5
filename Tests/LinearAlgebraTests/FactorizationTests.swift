import Testing
import Scalars
import LinearAlgebra
import TestSupport

@Suite struct CholeskyFactorization {
    /// Higham Thm 10.3: L̂L̂ᵀ = A + ΔA with |ΔA| ≤ γ_{n+1}|L̂||L̂ᵀ| (per-op accumulation). The residual
    /// is evaluated in MPFR-256 from the values T holds, so the check measures T's rounding only.
    func backwardErrorHolds<T: Scalar>(_: T.Type, condition: Double) throws {
        let n = 12
        let a = SPDGenerator.matrix(dimension: n, condition: condition, seed: 42).converted(to: T.self)
        guard case .success(let l) = try a.cholesky() else { Issue.record("unexpected breakdown in \(T.formatName) at κ=\(condition)"); return }
        let lb = l.converted(to: BigFloat256.self), ab = a.converted(to: BigFloat256.self)
        let llt = try Matrix.product(lb, .none, lb, .transposed, accumulation: .perOperation)
        let absL = lb.map { $0.magnitude }
        let bound = try Matrix.product(absL, .none, absL, .transposed, accumulation: .perOperation)
        let gamma = BigFloat256(T.gammaBound(n + 1))
        for i in 0..<n { for j in 0...i {
            #expect((llt[i, j] - ab[i, j]).magnitude <= gamma * bound[i, j], "\(T.formatName) (\(i),\(j))")
        } }
    }

    @Test func backwardErrorBoundInEveryFormat() throws {
        try backwardErrorHolds(Double.self, condition: 1e8)
        try backwardErrorHolds(Float.self, condition: 1e4)
        try backwardErrorHolds(Float16.self, condition: 10)
        try backwardErrorHolds(BFloat16.self, condition: 4)
    }

    /// κ·u ≫ 1 in bf16 (κ = 1e6, u = 2^-8): the rounded matrix is not numerically positive definite,
    /// and the factorization reports the failing pivot instead of crashing.
    @Test func breakdownIsAResult() throws {
        let a = SPDGenerator.matrix(dimension: 16, condition: 1e6, seed: 9).converted(to: BFloat16.self)
        let r = try a.cholesky()
        guard case .failure(let f) = r else { Issue.record("expected breakdown"); return }
        #expect(f.pivotIndex > 0 && f.pivotIndex < 16)
        #expect(!(f.pivotValue > 0))
    }

    /// The damped SPD inverse agrees with the MPFR-256 inverse to the first-order bound
    /// ‖X̂ − X‖/‖X‖ ≲ c·n·u·κ (Higham §14.3), with c = 3 (Cholesky + two triangular solves).
    /// The reference is Gauss–Jordan with partial pivoting (`DenseOracle.inverse`, plain loops on the
    /// matrix entries, no library factorization) of the same Float matrix plus the same Float damping,
    /// in MPFR-256: its own error (≈ κ·2⁻²⁵⁶) is far below the bound.
    @Test func dampedInverseMatchesMPFR() throws {
        let n = 10
        let a = SPDGenerator.matrix(dimension: n, condition: 1e3, seed: 5)
        guard case .success(let x) = try a.converted(to: Float.self).dampedSPDInverse(damping: 1e-3) else { Issue.record("breakdown"); return }
        var damped = a.converted(to: Float.self).converted(to: BigFloat256.self)
        for i in 0..<n { damped[i, i] += BigFloat256(Double(Float(1e-3))) }
        let ref = DenseOracle.inverse(damped)
        let diff = try x.converted(to: Double.self).subtracting(ref.converted(to: Double.self)).frobeniusNorm
        let kappa = MatrixHealth(a.addingToDiagonal(1e-3)).conditionNumber
        #expect(diff / ref.converted(to: Double.self).frobeniusNorm <= 3 * Double(n) * Float.unitRoundoff * kappa)
        #expect(MatrixHealth.inverseResidual(x, a.addingToDiagonal(1e-3)) <= 3 * Double(n) * Float.unitRoundoff * kappa)
    }

    @Test func nonSquareThrowsWithShape() {
        #expect(throws: ShapeError.self) { try Matrix<Double>(rows: 2, columns: 3).cholesky() }
    }
}

@Suite struct JacobiEigen {
    /// Eigenvalues in Double against MPFR-256 Jacobi on the same matrix. Each Jacobi rotation is
    /// backward stable with error ≤ γ_6 per touched entry; a sweep touches every entry 2(n−1) times,
    /// so by Weyl |λ̂ − λ| ≤ sweeps·2(n−1)·γ_6·‖A‖_F.
    @Test(arguments: [1.0, 1e4, 1e8])
    func eigenvaluesMatchMPFR(condition: Double) throws {
        let n = 8
        let a = SPDGenerator.matrix(dimension: n, condition: condition, seed: 17)
        let e = try a.symmetricEigen()
        let ref = try a.converted(to: BigFloat256.self).symmetricEigen()
        let bound = Double(e.sweeps) * 2 * Double(n - 1) * Double.gammaBound(6) * a.frobeniusNorm
        for i in 0..<n { #expect(abs(e.values[i] - ref.values[i].doubleValue) <= bound) }
        // the generator's spectrum is 1 … 1/κ: MPFR recovers it to ~1e-15 relative to ‖A‖
        #expect(abs(ref.values.last!.doubleValue - 1) <= 1e3 * Double.unitRoundoff)
        // reconstruction Q Λ Qᵀ = A and orthogonality
        let qtq = try Matrix.product(e.vectors, .transposed, e.vectors, .none, accumulation: .perOperation)
        #expect(try qtq.subtracting(.identity(n)).frobeniusNorm <= bound)
    }
}
