import Scalars

/// Spectral quantities computed in Double from the values `T` holds (diagnostics, like
/// `frobeniusNorm`: they measure the stored matrix, not the rounding of the monitor; Docs/Optimizers.md §1.5).
extension Matrix {
    /// Singular values in ascending order, as square roots of the eigenvalues of the smaller Gram
    /// matrix (`AᵀA` or `AAᵀ`) formed and decomposed in Double (Jacobi). Squaring the matrix resolves
    /// singular values down to about `√u_fp64·σ_max ≈ 1e-8·σ_max`; smaller ones come out as noise (≥ 0).
    @inlinable public var singularValues: [Double] {
        let d = converted(to: Double.self)
        guard rows > 0, columns > 0 else { return [] }
        let gram = rows >= columns
            ? (try? Matrix<Double>.product(d, .transposed, d, .none, accumulation: .perOperation))
            : (try? Matrix<Double>.product(d, .none, d, .transposed, accumulation: .perOperation))
        guard let g = gram, g.isFinite, let e = try? g.symmetricEigen() else {
            return [Double](repeating: .nan, count: Swift.min(rows, columns))
        }
        return e.values.map { Swift.max($0, 0).squareRoot() }
    }

    /// `‖A‖₂ = σ_max`, in Double (NaN for a non-finite matrix).
    @inlinable public var spectralNorm: Double { singularValues.last ?? 0 }

    /// `κ₂(A) = σ_max/σ_min` in Double; `+∞` when `σ_min = 0`. Reliable while κ₂ ≲ 1e7 (see
    /// `singularValues`), which covers the monitors it serves (κ of Jorge's `L̂`).
    @inlinable public var spectralConditionNumber: Double {
        let s = singularValues
        guard let lo = s.first, let hi = s.last else { return .nan }
        return lo > 0 ? hi / lo : .infinity
    }

    /// Spectral radius `ρ(A)` of a square, possibly non-symmetric matrix by Gelfand's formula
    /// `ρ(A) = lim ‖A^k‖_F^{1/k}`, evaluated in Double for `k = 2^j` by repeated squaring with
    /// renormalisation (the log of the scale is carried separately, so nothing overflows).
    ///
    /// Why not power iteration: Jorge's `Y = c L̂⁴GGᵀ` (§7.6) is non-symmetric once `L̂` has lost
    /// symmetry, and power iteration has no convergence guarantee there. `‖A^k‖^{1/k} ≥ ρ(A)` for every
    /// `k`, and the excess is a factor `≤ (n·C)^{1/k}` for diagonalisable `A` with eigenvector condition
    /// `C`, so at `k = 2^40` it is below `1e-10` relative. Stops early when two successive estimates agree to
    /// `1e-13` relative. Returns NaN for non-finite input and throws for a non-square matrix.
    @inlinable
    public func spectralRadius(maxSquarings: Int = 40) throws(ShapeError) -> Double {
        guard isSquare else { throw ShapeError(operation: "spectralRadius", detail: "matrix is \(rows)×\(columns), not square") }
        var a = converted(to: Double.self)
        guard a.isFinite else { return .nan }
        guard rows > 0 else { return 0 }
        var logScale = 0.0          // log ‖A^k‖ accumulated as Σ 2^(j−i) log s_i, divided by k at the end
        var k = 1.0
        var estimate = Double.infinity
        for _ in 0...maxSquarings {
            let f = a.frobeniusNorm
            if f == 0 { return 0 }
            logScale += Double.log(f) / k          // contributes log(s)·(1/k) to log ρ
            let next = Double.exp(logScale)
            if abs(next - estimate) <= 1e-13 * next { return next }
            estimate = next
            a = a.scaled(by: 1 / f)
            a = try Matrix<Double>.product(a, .none, a, .none, accumulation: .wide(.double))
            k *= 2
        }
        return estimate
    }
}
