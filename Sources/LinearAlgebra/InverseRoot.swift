import Scalars

/// Why an inverse-root computation ended (Docs/Optimizers.md K3). Every outcome is a result to report,
/// never a crash.
public enum InverseRootOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    /// Newton: `‖Y − I‖_max ≤ tol`. Eigen route: the decomposition and the spectral function succeeded.
    case converged
    /// Newton: an iteration would have raised `‖Y − I‖_max` above 1.2× its previous value; the previous
    /// `X` is kept (the reference's divergence guard).
    case divergenceGuard = "divergence-guard"
    /// Newton: `maxIterations` iterations done without reaching `tol`.
    case iterationCap = "iteration-cap"
    /// Newton on a 1×1 matrix: the reference returns the identity without iterating (K3, first line).
    case scalarIdentity = "scalar-identity"
    /// A non-finite value in the input, in `λ_max`, in the scaling `z`, in an iterate, or in a
    /// spectral value: `root` is the last finite iterate (the identity if there was none) and must not
    /// be used as a preconditioner.
    case nonFinite = "non-finite"
    /// The eigensolver failed (LAPACK non-convergence); `root` is the identity.
    case eigenFailure = "eigen-failure"
}

/// An approximation of `M^{-1/p}` and how it was obtained.
public struct InverseRoot<T: Scalar>: Sendable {
    /// `X ≈ (M + ridge·I)^{-1/p}`.
    public var root: Matrix<T>
    public var outcome: InverseRootOutcome
    /// The ridge actually added to the diagonal (Newton: `ε_rel·λ_max` rounded in `T`; eigen: `ε`, or
    /// `ε·max d_i` when relative), as its Double value.
    public var ridge: Double
    /// Newton iterations accepted (0 for the eigen route).
    public var iterations: Int
    /// Newton: the final `‖Y − I‖_max` of the accepted iterate, as held in `T`. NaN for the eigen route.
    public var finalError: Double
    /// Newton: the power-iteration estimate of `λ_max(M)`; eigen route: the largest eigenvalue.
    public var lambdaMax: Double
    /// Power-iteration steps used (Newton only).
    public var powerIterations: Int
    /// Eigen route: eigenvalues below zero set to zero before the ridge (K2's clamp).
    public var clampedEigenvalues: Int
    /// Eigen route: the smallest eigenvalue before clamping (NaN for Newton).
    public var minimumEigenvalue: Double

    @inlinable
    public init(root: Matrix<T>, outcome: InverseRootOutcome, ridge: Double, iterations: Int = 0, finalError: Double = .nan,
                lambdaMax: Double = .nan, powerIterations: Int = 0, clampedEigenvalues: Int = 0, minimumEigenvalue: Double = .nan) {
        self.root = root; self.outcome = outcome; self.ridge = ridge; self.iterations = iterations; self.finalError = finalError
        self.lambdaMax = lambdaMax; self.powerIterations = powerIterations
        self.clampedEigenvalues = clampedEigenvalues; self.minimumEigenvalue = minimumEigenvalue
    }

    /// Whether `root` may be used (converged, or stopped by the guard or the cap with finite values).
    @inlinable public var isUsable: Bool { outcome != .nonFinite && outcome != .eigenFailure }
}

extension Matrix {
    /// `λ_max` by power iteration exactly as the Shampoo reference's `PowerIter` (Docs/Optimizers.md K3):
    /// start from `v` uniform in [−1, 1)ⁿ drawn from `generator` (rounded to `T`), then repeat
    /// `v ← v/‖v‖; w ← M v; λ ← vᵀw; v ← w` while `|λ − λ_prev| > tolerance` (absolute, as in the
    /// reference) and fewer than `maxIterations` steps. Everything in `T`, reductions under
    /// `accumulation`. Returns the Rayleigh quotient and the steps used.
    @inlinable
    public func powerIterationLambdaMax(generator: inout SplitMix64, tolerance: Double = 1e-6, maxIterations: Int = 100,
                                        accumulation: AccumulationModel = .perOperation) throws(ShapeError) -> (lambda: T, iterations: Int) {
        guard isSquare else { throw ShapeError(operation: "powerIteration", detail: "matrix is \(rows)×\(columns), not square") }
        var v = (0..<rows).map { _ in T(2 * generator.nextUniform() - 1) }
        let tol = T(tolerance)
        var lambda = T.zero, error = T(1), k = 0
        while error > tol && k < maxIterations {
            let norm = try Reduction.dot(v, v, accumulation: accumulation).squareRoot()
            v = v.map { $0 / norm }
            let w = try times(v, accumulation: accumulation)
            let s = try Reduction.dot(v, w, accumulation: accumulation)
            error = (s - lambda).magnitude
            v = w; lambda = s; k += 1
            if !s.isFinite { break }
        }
        return (lambda, k)
    }

    /// `M^p` by the reference's `MatPower`: repeated squaring for `p ∈ {1, 2, 4, 8, …}` (this
    /// amplifies rounding, §6.5), binary powering otherwise.
    @inlinable
    public func power(_ p: Int, accumulation: AccumulationModel) throws(ShapeError) -> Matrix {
        precondition(p >= 1, "matrix power needs p ≥ 1, got \(p)")
        if p & (p - 1) == 0 {
            var r = self, done = 1
            while done < p { r = try Matrix.product(r, .none, r, .none, accumulation: accumulation); done *= 2 }
            return r
        }
        var m = self, e = p
        var result: Matrix? = nil
        while e > 0 {
            if e & 1 == 1 {
                if let r = result { result = try Matrix.product(m, .none, r, .none, accumulation: accumulation) } else { result = m }
            }
            e >>= 1
            if e > 0 { m = try Matrix.product(m, .none, m, .none, accumulation: accumulation) }
        }
        return result!
    }

    /// `(M + ε_rel·λ_max·I)^{-1/p}` by the coupled Newton iteration of the Shampoo reference
    /// (`matrix_functions.py`, `ComputePower`), Docs/Optimizers.md K3, step for step:
    ///
    /// ```
    /// if M is 1×1: return I                       (outcome .scalarIdentity)
    /// λmax ← PowerIteration(M)  (≤ 100 steps, |Δλ| ≤ 1e-6, start from `seed`)
    /// M_r ← M + (ε_rel·λmax) I                    (on a copy: the reference's in-place ridge is not reproduced)
    /// z ← (1 + p)/(2‖M_r‖_F);  X ← z^{1/p} I;  Y ← z M_r;  err ← ‖Y − I‖_max
    /// while err > tol and k < maxIterations:
    ///    S ← ((p+1)/p) I − (1/p) Y;  X_n ← X S;  Y ← S^p Y;  err_n ← ‖Y − I‖_max
    ///    if err_n > 1.2·err: stop, keep X          (outcome .divergenceGuard)
    ///    X ← X_n;  err ← err_n;  k ← k + 1
    /// ```
    ///
    /// Precision: everything in `T` — constants `(p+1)/p`, `1/p`, `1.2`, `tol`, `ε_rel` rounded once; the
    /// Frobenius norm and every product under `accumulation`; `z^{1/p}` by `T.root`. In exact arithmetic
    /// `Y_k = X_k^p M_r`, so `err` is the root residual in the max norm; in low precision `tol = 1e-6` is
    /// out of reach and the loop ends on the guard or the cap (§6.5), which the outcome reports.
    /// Non-finite input or iterates give `.nonFinite` (never a crash); the last finite `X` is returned.
    @inlinable
    public func inverseRootNewton(p: Int, relativeRidge epsilonRelative: Double = 1e-12, tolerance: Double = 1e-6,
                                  maxIterations: Int = 100, seed: UInt64,
                                  accumulation: AccumulationModel = .perOperation) throws(ShapeError) -> InverseRoot<T> {
        guard isSquare else { throw ShapeError(operation: "inverseRootNewton", detail: "matrix is \(rows)×\(columns), not square") }
        precondition(p >= 1, "inverse root order p must be ≥ 1, got \(p)")
        let n = rows
        let identity = Matrix.identity(n)
        guard isFinite else { return InverseRoot(root: identity, outcome: .nonFinite, ridge: .nan) }
        if n <= 1 { return InverseRoot(root: identity, outcome: .scalarIdentity, ridge: 0) }
        var generator = SplitMix64.stream(seed: seed, "power-iteration")
        let (lambdaMax, powerSteps) = try powerIterationLambdaMax(generator: &generator, accumulation: accumulation)
        let ridge = T(epsilonRelative) * lambdaMax
        let mr = addingToDiagonal(ridge)
        let normF = try Reduction.dot(mr.storage, mr.storage, accumulation: accumulation).squareRoot()
        let z = T(Double(1 + p)) / (T(2) * normF)
        func result(_ x: Matrix, _ o: InverseRootOutcome, _ k: Int, _ e: T) -> InverseRoot<T> {
            InverseRoot(root: x, outcome: o, ridge: ridge.doubleValue, iterations: k, finalError: e.doubleValue,
                        lambdaMax: lambdaMax.doubleValue, powerIterations: powerSteps)
        }
        guard lambdaMax.isFinite, ridge.isFinite, z.isFinite, z > 0, mr.isFinite else { return result(identity, .nonFinite, 0, .nan) }
        let cSelf = T(Double(p + 1) / Double(p)), cY = T(1 / Double(p)), guardFactor = T(1.2), tol = T(tolerance)
        var x = identity.scaled(by: T.root(z, p))
        var y = mr.scaled(by: z)
        func maxDeviation(_ m: Matrix) -> T {
            var e = T.zero
            for i in 0..<n { for j in 0..<n {
                let d = (m[i, j] - (i == j ? 1 : 0)).magnitude
                if d.isNaN { return d }
                if d > e { e = d }
            } }
            return e
        }
        var err = maxDeviation(y)
        guard err.isFinite, x.isFinite else { return result(identity, .nonFinite, 0, err) }
        var k = 0
        while err > tol && k < maxIterations {
            var s = y.scaled(by: -cY)
            for i in 0..<n { s[i, i] = cSelf + s[i, i] }
            let xn = try Matrix.product(x, .none, s, .none, accumulation: accumulation)
            y = try Matrix.product(try s.power(p, accumulation: accumulation), .none, y, .none, accumulation: accumulation)
            let errn = maxDeviation(y)
            if !errn.isFinite || !xn.isFinite { return result(x, .nonFinite, k, errn) }
            if errn > guardFactor * err { return result(x, .divergenceGuard, k, err) }
            x = xn; err = errn; k += 1
        }
        return result(x, err > tol ? .iterationCap : .converged, k, err)
    }

    /// `Q diag((d_i + ε)^{-1/p}) Qᵀ` from the symmetric eigendecomposition of `sym(M)` (K3 route (a)).
    ///
    /// Eigenvalues below zero (rounding noise of a PSD matrix, K2) are clamped to 0 and counted; with
    /// `relativeRidge` the ridge is `ε·max d_i` (Shampoo's relative ridge, so both routes target the same
    /// matrix). The spectral function is evaluated in `T` as `1 / T.root(d_i + ε, p)` (two roundings) and
    /// the product `(Q·diag)·Qᵀ` under `accumulation`. `method` picks LAPACK for Float/Double when allowed
    /// (`FactorizationMethod`). A zero or non-finite `d_i + ε`, or a non-finite input, gives `.nonFinite`
    /// with the identity as `root`; LAPACK non-convergence gives `.eigenFailure`.
    ///
    /// Error (first order, Higham *Functions of Matrices* §3.1): the decomposition is backward stable,
    /// `Q̂ D̂ Q̂ᵀ = M + E`, so `‖X̂⁴M − I‖ ≲ κ(M)·‖E‖/‖M‖` plus the rounding of the spectral function and
    /// the product, each `O(n u)` relative and amplified by at most `4κ`.
    @inlinable
    public func inverseRootEigen(p: Int, epsilon: T, relativeRidge: Bool = false, method: FactorizationMethod = .automatic,
                                 accumulation: AccumulationModel = .perOperation) throws(ShapeError) -> InverseRoot<T> {
        guard isSquare else { throw ShapeError(operation: "inverseRootEigen", detail: "matrix is \(rows)×\(columns), not square") }
        precondition(p >= 1, "inverse root order p must be ≥ 1, got \(p)")
        let n = rows
        guard isFinite else { return InverseRoot(root: .identity(n), outcome: .nonFinite, ridge: .nan) }
        guard n > 0 else { return InverseRoot(root: self, outcome: .converged, ridge: 0) }
        let e: SymmetricEigen<T>
        switch try symmetricEigen(method: method) {
        case .success(let v): e = v
        case .failure(let f): return InverseRoot(root: .identity(n), outcome: f.nonFiniteInput ? .nonFinite : .eigenFailure, ridge: .nan)
        }
        let minimum = e.values.first!, maximum = e.values.last!
        var clamped = 0
        let d = e.values.map { v -> T in if v < 0 { clamped += 1; return .zero }; return v }
        let eps = relativeRidge ? epsilon * Swift.max(maximum, .zero) : epsilon
        let f = d.map { 1 / T.root($0 + eps, p) }
        let base = InverseRoot(root: Matrix.identity(n), outcome: .nonFinite, ridge: eps.doubleValue, lambdaMax: maximum.doubleValue,
                               clampedEigenvalues: clamped, minimumEigenvalue: minimum.doubleValue)
        guard f.allSatisfy({ $0.isFinite }) else { return base }
        var qf = e.vectors
        for i in 0..<n { for j in 0..<n { qf[i, j] = qf[i, j] * f[j] } }
        var r = base
        r.root = try Matrix.product(qf, .none, e.vectors, .transposed, accumulation: accumulation)
        r.outcome = r.root.isFinite ? .converged : .nonFinite
        return r
    }
}
