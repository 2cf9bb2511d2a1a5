import Testing
import Scalars
import LinearAlgebra
import TestSupport

/// Independent MPFR-256 oracles for matrix roots: Gauss–Jordan inverse and the Denman–Beavers
/// iteration (Higham, *Functions of Matrices*, §6.3), applied twice for `M^{-1/4}`. Nothing here calls
/// the library's factorizations or roots.
enum RootOracle {
    typealias B = BigFloat256

    /// `(A^{1/2}, A^{-1/2})` of an SPD matrix by Denman–Beavers, iterated until the update is below
    /// 2⁻²⁰⁰ relative (quadratic convergence once the spectrum is near 1; the halving phase for κ = 1e12
    /// takes about 20 steps).
    static func sqrtAndInverseSqrt(_ a: Matrix<B>) -> (Matrix<B>, Matrix<B>) {
        var y = a, z = Matrix<B>.identity(a.rows)
        for _ in 0..<200 {
            let yi = DenseOracle.inverse(y), zi = DenseOracle.inverse(z)
            let yn = Matrix(rows: a.rows, columns: a.rows) { i, j in (y[i, j] + zi[i, j]) / 2 }
            let zn = Matrix(rows: a.rows, columns: a.rows) { i, j in (z[i, j] + yi[i, j]) / 2 }
            var num = B(0), den = B(0)
            for (p, q) in zip(yn.elements, y.elements) { num += (p - q) * (p - q); den += p * p }
            y = yn; z = zn
            if num <= den * B.pow(B(2), -400) { break }
        }
        return (y, z)
    }

    /// `A^{-1/4} = (A^{-1/2})^{1/2}`.
    static func inverseFourthRoot(_ a: Matrix<B>) -> Matrix<B> {
        sqrtAndInverseSqrt(sqrtAndInverseSqrt(a).1).0
    }

    /// `‖X⁴M − I‖_F/√n` in MPFR-256 from the values `X` and `M` hold.
    static func rootResidual<T: Scalar, U: Scalar>(_ x: Matrix<T>, _ m: Matrix<U>) -> Double {
        let xb = x.converted(to: B.self), mb = m.converted(to: B.self)
        let x2 = DenseOracle.product(xb, xb)
        let r = DenseOracle.product(DenseOracle.product(x2, x2), mb)
        var s = B(0)
        for i in 0..<r.rows { for j in 0..<r.columns { let d = r[i, j] - (i == j ? 1 : 0); s += d * d } }
        return (B.sqrt(s) / B.sqrt(B(Double(r.rows)))).doubleValue
    }

    static func relativeDifference<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<B>) -> Double {
        var num = B(0), den = B(0)
        for (x, y) in zip(a.elements, b.elements) { let d = B(x.doubleValue) - y; num += d * d; den += y * y }
        return B.sqrt(num / den).doubleValue
    }
}

/// Inverse fourth roots of SPD matrices with κ from 1 to 1e8 against MPFR-256 (Docs/Optimizers.md K3).
@Suite struct InverseRootAccuracy {
    typealias B = BigFloat256
    static let n = 8

    /// First-order bound for the eigen route (Higham, *Functions of Matrices* §3.1 and *Accuracy and
    /// Stability* Lemma 3.5), with κ = κ₂(M) and u of `T`; the residual is `‖X⁴M − I‖_F/√n ≤ ‖X⁴M − I‖₂`:
    /// * backward error of the decomposition `‖E‖ ≤ b·u·‖M‖`: residual `κ·b·u`;
    /// * relative perturbation `δ` of `X` raises the residual by at most `4κ^{3/4}δ ≤ 4κδ`, with
    ///   `δ ≤ b·u` (loss of orthogonality of `Q̂`) `+ 3u` (root and reciprocal) `+ n·γ_n` (the product
    ///   `(QF)Qᵀ`, normwise through `‖|Q|‖₂² ≤ n`).
    /// `b` = `12·s·(n−1)` for `s` Jacobi sweeps (each rotation backward stable with γ₆ per touched entry,
    /// each entry touched 2(n−1) times a sweep, as in FactorizationTests), `n²` for LAPACK (Householder
    /// tridiagonalisation, Higham Lemma 19.3; see LAPACKEigen).
    static func eigenBound(kappa: Double, u: Double, backward b: Double) -> Double {
        let n = Double(Self.n)
        return kappa * u * (b + 4 * (b + 3 + n * n * (1 + n * u)))
    }

    func eigenRoute<T: Scalar>(_: T.Type, condition: Double, method: FactorizationMethod) throws {
        let m = SPDGenerator.matrix(dimension: Self.n, condition: condition, seed: 7).converted(to: T.self)
        let r = try m.inverseRootEigen(p: 4, epsilon: 0, method: method)
        #expect(r.outcome == .converged)
        #expect(r.clampedEigenvalues == 0)
        let lapack = method.usesLAPACK(for: T.self)
        let sweeps = try m.symmetricEigen().sweeps
        let b = lapack ? Double(Self.n * Self.n) : 12 * Double(sweeps) * Double(Self.n - 1)
        let kappa = MatrixHealth(m).conditionNumber
        let bound = Self.eigenBound(kappa: kappa, u: T.unitRoundoff, backward: b)
        let residual = RootOracle.rootResidual(r.root, m)
        #expect(residual <= bound, "\(T.formatName) κ=\(condition) \(method): residual \(residual), bound \(bound)")
        // forward error against M^{-1/4} of the matrix T holds: the Fréchet derivative of M^{-1/4} has norm
        // ≤ ¼λ_min^{-5/4}, so the backward term is κ·b·u/4; the X-perturbation term δ enters once: the same bound holds.
        let truth = RootOracle.inverseFourthRoot(m.converted(to: B.self))
        let forward = RootOracle.relativeDifference(r.root, truth)
        #expect(forward <= bound, "\(T.formatName) κ=\(condition) \(method): forward \(forward), bound \(bound)")
    }

    @Test(arguments: [1.0, 1e2, 1e4, 1e8])
    func eigenRouteInDouble(condition: Double) throws {
        try eigenRoute(Double.self, condition: condition, method: .generic)
        try eigenRoute(Double.self, condition: condition, method: .lapack)
    }

    @Test(arguments: [1.0, 1e2, 1e4])
    func eigenRouteInFloat(condition: Double) throws {
        try eigenRoute(Float.self, condition: condition, method: .generic)
        try eigenRoute(Float.self, condition: condition, method: .lapack)
    }

    /// Coupled Newton (K3) in Double. In exact arithmetic `Y_k = X_k⁴M_r`, and the loop stops with
    /// `‖Y − I‖_max ≤ tol`, so `‖X⁴M_r − I‖_F/√n ≤ √n·tol`. Rounding: each of the `k` iterations forms
    /// four products (`XS` and `S⁴Y` by two squarings and one product), each a normwise relative
    /// perturbation `≤ n·γ_n`; the coupled iteration is stable (Iannazzo 2006: perturbations are not
    /// amplified from step to step), so `X` carries `δ ≤ 4k·n·γ_n`, which the residual sees at most `4κ`
    /// times. Bound: `√n·tol + 16·k·n·γ_n·κ`.
    @Test(arguments: [1.0, 1e2, 1e4, 1e8])
    func newtonInDouble(condition: Double) throws {
        let n = Self.n
        let m = SPDGenerator.matrix(dimension: n, condition: condition, seed: 11)
        let r = try m.inverseRootNewton(p: 4, seed: 3)
        #expect(r.outcome == .converged, "κ=\(condition): \(r.outcome) after \(r.iterations), err \(r.finalError)")
        #expect(r.finalError <= 1e-6)
        let mr = m.addingToDiagonal(r.ridge)
        let kappa = MatrixHealth(mr).conditionNumber
        let bound = Double(n).squareRoot() * 1e-6 + 16 * Double(r.iterations) * Double(n) * Double.gammaBound(n) * kappa
        let residual = RootOracle.rootResidual(r.root, mr)
        #expect(residual <= bound, "κ=\(condition): residual \(residual), bound \(bound), \(r.iterations) iterations")
        // the ridge is ε_rel·λ_max with λ_max ≈ 1 (the generator's largest eigenvalue): |λ̂ − 1| ≤ tol_power
        // when successive Rayleigh quotients converge with ratio (λ₂/λ₁)² ≤ ½ (error ≤ tol·r/(1 − r) ≤ tol).
        #expect(abs(r.lambdaMax - 1) <= 1e-6)
        #expect(abs(r.ridge - 1e-12 * r.lambdaMax) <= 1e-12 * r.lambdaMax * Double.unitRoundoff)
    }

    /// Float Newton at κ ≤ 1e4 satisfies the same bound in Float's u (whatever ends the loop: tol = 1e-6
    /// is ~17u, so the guard may fire first, which the outcome reports).
    @Test(arguments: [1.0, 1e2, 1e4])
    func newtonInFloat(condition: Double) throws {
        let n = Self.n
        let m = SPDGenerator.matrix(dimension: n, condition: condition, seed: 12).converted(to: Float.self)
        let r = try m.inverseRootNewton(p: 4, seed: 3)
        #expect(r.isUsable)
        #expect([.converged, .divergenceGuard, .iterationCap].contains(r.outcome))
        let mr = m.addingToDiagonal(Float(r.ridge))
        let kappa = MatrixHealth(mr).conditionNumber
        let bound = Double(n).squareRoot() * max(1e-6, r.finalError) + 16 * Double(max(1, r.iterations)) * Double(n) * Float.gammaBound(n) * kappa
        let residual = RootOracle.rootResidual(r.root, mr)
        #expect(residual <= bound, "κ=\(condition): residual \(residual), bound \(bound), \(r.outcome) after \(r.iterations)")
    }
}

@Suite struct InverseRootOutcomes {
    /// In bf16 and fp16 the 1e-6 tolerance is below u (3.9e-3, 4.9e-4): the loop must end on the
    /// divergence guard or the cap, with a finite root, and say so.
    @Test func lowPrecisionNewtonStopsOnGuardOrCap() throws {
        let m = SPDGenerator.matrix(dimension: 6, condition: 10, seed: 5)
        let rb = try m.converted(to: BFloat16.self).inverseRootNewton(p: 4, seed: 1)
        let rh = try m.converted(to: Float16.self).inverseRootNewton(p: 4, seed: 1)
        for (name, outcome, finite, it) in [("bf16", rb.outcome, rb.root.isFinite, rb.iterations), ("fp16", rh.outcome, rh.root.isFinite, rh.iterations)] {
            #expect(outcome == .divergenceGuard || outcome == .iterationCap, "\(name): \(outcome)")
            #expect(finite && it >= 1, "\(name)")
        }
    }

    @Test func nonFiniteInputIsReported() throws {
        var m = SPDGenerator.matrix(dimension: 5, condition: 10, seed: 2)
        m[1, 3] = .nan
        #expect(try m.inverseRootNewton(p: 4, seed: 0).outcome == .nonFinite)
        #expect(try m.inverseRootEigen(p: 4, epsilon: 0, method: .generic).outcome == .nonFinite)
        #expect(try m.inverseRootEigen(p: 4, epsilon: 0, method: .lapack).outcome == .nonFinite)
        m[1, 3] = .infinity
        #expect(try m.inverseRootNewton(p: 4, seed: 0).outcome == .nonFinite)
    }

    /// The zero matrix: λ_max = 0, ‖M_r‖_F = 0, z = +∞ — reported, not a crash; eigen route: d + ε = 0.
    @Test func zeroMatrixIsReported() throws {
        let z = Matrix<Double>(rows: 4, columns: 4)
        #expect(try z.inverseRootNewton(p: 4, seed: 0).outcome == .nonFinite)
        #expect(try z.inverseRootEigen(p: 4, epsilon: 0).outcome == .nonFinite)
    }

    /// A PSD matrix with a rounding-noise eigenvalue below zero is clamped and counted (K2).
    @Test func negativeEigenvalueIsClampedAndCounted() throws {
        // [[1, 1], [1, 1 − 2⁻³⁰]] has eigenvalues 2 − 2⁻³¹… and −2⁻³¹·(…) < 0
        let m = try Matrix<Double>(rows: 2, columns: 2, elements: [1, 1, 1, 1 - 0x1p-30])
        let r = try m.inverseRootEigen(p: 4, epsilon: 1e-3, method: .generic)
        #expect(r.clampedEigenvalues == 1)
        #expect(r.minimumEigenvalue < 0)
        #expect(r.outcome == .converged)
    }

    @Test func scalarNewtonReturnsIdentityAsTheReference() throws {
        let r = try Matrix<Double>(rows: 1, columns: 1, repeating: 16).inverseRootNewton(p: 4, seed: 0)
        #expect(r.outcome == .scalarIdentity && r.root[0, 0] == 1)
    }

    @Test func nonSquareThrows() {
        #expect(throws: ShapeError.self) { try Matrix<Double>(rows: 2, columns: 3).inverseRootNewton(p: 4, seed: 0) }
        #expect(throws: ShapeError.self) { try Matrix<Double>(rows: 2, columns: 3).inverseRootEigen(p: 4, epsilon: 0) }
    }

    /// Same seed, same bits; a different seed changes only the power-iteration start.
    @Test func newtonIsDeterministic() throws {
        let m = SPDGenerator.matrix(dimension: 6, condition: 1e3, seed: 8).converted(to: Float.self)
        let a = try m.inverseRootNewton(p: 4, seed: 42), b = try m.inverseRootNewton(p: 4, seed: 42)
        #expect(a.root == b.root && a.iterations == b.iterations)
    }
}

@Suite struct SpectralNorms {
    /// The generator's spectrum is 1 … 1/κ: ‖A‖₂ = 1 and ρ(A) = 1 up to the Double eigensolver's
    /// backward error (γ-scale, here bounded by 1e3·u) and Gelfand's excess (< 1e-10 at k = 2⁴⁰).
    @Test func spectralNormAndRadiusOfKnownSpectrum() throws {
        let a = SPDGenerator.matrix(dimension: 7, condition: 1e3, seed: 3)
        #expect(abs(a.spectralNorm - 1) <= 1e3 * Double.unitRoundoff)
        #expect(abs(try a.spectralRadius() - 1) <= 1e-10)
        #expect(abs(a.spectralConditionNumber - 1e3) <= 1e3 * 1e3 * 1e3 * Double.unitRoundoff)
    }

    /// A non-symmetric matrix similar to diag(0.5, 0.25, −0.75): ρ = 0.75 although ‖A‖_F is larger.
    @Test func spectralRadiusOfNonSymmetricMatrix() throws {
        let s = try Matrix<Double>(rows: 3, columns: 3, elements: [1, 2, 0, 0, 1, 3, 0, 0, 1])
        let si = try Matrix<Double>(rows: 3, columns: 3, elements: [1, -2, 6, 0, 1, -3, 0, 0, 1])
        let a = try matmul(matmul(s, .diagonal([0.5, 0.25, -0.75]), accumulation: .perOperation), si, accumulation: .perOperation)
        #expect(abs(try a.spectralRadius() - 0.75) <= 1e-10)
        #expect(a.frobeniusNorm > 1)
    }
}
