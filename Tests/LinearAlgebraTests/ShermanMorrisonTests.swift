import Testing
import Scalars
import LinearAlgebra
import TestSupport

/// Sherman–Morrison (K4) against the explicit inverse of `P⁻¹ + v vᵀ` computed by Gauss–Jordan in
/// MPFR-256 from the values `T` holds (so the check measures `T`'s rounding only).
///
/// Error bound used throughout (first order; γ_m absorbs the second-order terms). With
/// `a = |P||v|`, `b = |v|ᵀ|P|`, `S = |v|ᵀ|P||v|`, `u = Pv`, `w = vᵀP`, `den = 1 + c·vᵀPv`:
/// * `|û − u| ≤ γ_d a`, `|ŵ − w| ≤ γ_d b` (recursive dot products, Higham Lemma 3.1);
/// * `|ŝ − s| ≤ γ_{2d} S` (the dot `ŵ·v` adds γ_d on top of `ŵ`'s error), so
///   `|den̂ − den| ≤ c γ_{2d+1} S + u|den|`;
/// * the correction `C_ij = k u_i w_j / den` then carries
///   `|Ĉ_ij − C_ij| ≤ γ_{2d+3} k a_i b_j/|den| + k a_i b_j |den̂ − den|/|den|²`;
/// * the final `scale·P_ij − C_ij` adds at most `γ_2 (scale|P_ij| + |C_ij|)`.
/// Hence `|X̂_ij − X_ij| ≤ γ_{4d+10}(scale|P_ij| + k a_i b_j (1 + c S/|den|)/|den|)`.
@Suite struct ShermanMorrisonUpdate {
    typealias B = BigFloat256

    /// Inputs: `P` an SPD matrix with κ = 100 (a realistic inverse factor), `v` Gaussian.
    static func inputs<T: Scalar>(_: T.Type, d: Int, seed: UInt64, vScale: Double = 1) -> (Matrix<T>, [T]) {
        let p = SPDGenerator.matrix(dimension: d, condition: 100, seed: seed).converted(to: T.self)
        var rng = SplitMix64(seed: seed &+ 1)
        return (p, (0..<d).map { _ in T(rng.nextGaussian() * vScale) })
    }

    /// Checks every entry of `x̂` against the exact inverse of `α P⁻¹ + β v vᵀ` under the bound above.
    static func check<T: Scalar>(_ xh: Matrix<T>, denominator: T, p: Matrix<T>, v: [T], alpha: Double, beta: Double,
                                 scale: Double, correction: Double, weight: Double) {
        let d = p.rows
        let pb = p.converted(to: B.self), vb = v.map { B($0.doubleValue) }
        let pInverse = DenseOracle.inverse(pb)
        let exact = DenseOracle.inverse(Matrix<B>(rows: d, columns: d) { i, j in B(alpha) * pInverse[i, j] + B(beta) * vb[i] * vb[j] })
        let pd = p.converted(to: Double.self), vd = v.map { $0.doubleValue }
        let a = (0..<d).map { i in (0..<d).reduce(0.0) { $0 + abs(pd[i, $1] * vd[$1]) } }
        let b = (0..<d).map { j in (0..<d).reduce(0.0) { $0 + abs(vd[$1] * pd[$1, j]) } }
        let s = (0..<d).reduce(0.0) { $0 + abs(vd[$1]) * a[$1] }
        var sb = B(0)
        for i in 0..<d { for j in 0..<d { sb += vb[i] * pb[i, j] * vb[j] } }
        let den = (1 + B(weight) * sb).doubleValue
        let g = T.gammaBound(4 * d + 10)
        #expect(abs(denominator.doubleValue - den) <= weight * T.gammaBound(2 * d + 1) * s + T.unitRoundoff * abs(den), "\(T.formatName) denominator")
        for i in 0..<d { for j in 0..<d {
            let bound = g * (scale * abs(pd[i, j]) + correction * a[i] * b[j] * (1 + weight * s / abs(den)) / abs(den))
            let err = abs(xh[i, j].doubleValue - exact[i, j].doubleValue)
            #expect(err <= bound, "\(T.formatName) (\(i),\(j)): error \(err) > bound \(bound)")
        } }
    }

    func plainUpdate<T: Scalar>(_: T.Type, accumulation: AccumulationModel) throws {
        for seed: UInt64 in [1, 2, 3] {
            let (p, v) = Self.inputs(T.self, d: 8, seed: seed)
            let r = try ShermanMorrison.update(p, v, accumulation: accumulation)
            Self.check(r.inverse, denominator: r.denominator, p: p, v: v, alpha: 1, beta: 1, scale: 1, correction: 1, weight: 1)
            #expect(r.denominatorDouble == r.denominator.doubleValue)
        }
    }

    @Test func plainUpdateEqualsExplicitInverseInEveryFormat() throws {
        try plainUpdate(Double.self, accumulation: .perOperation)
        try plainUpdate(Float.self, accumulation: .perOperation)
        try plainUpdate(Float16.self, accumulation: .perOperation)
        try plainUpdate(BFloat16.self, accumulation: .perOperation)
    }

    /// A wide accumulator only tightens the reductions, so the per-op bound still holds.
    @Test func wideAccumulationStaysWithinThePerOperationBound() throws {
        try plainUpdate(BFloat16.self, accumulation: .wide(.float))
        try plainUpdate(Float16.self, accumulation: .wide(.float))
    }

    /// Scaled form (§8.5): the inverse of `γ P⁻¹ + (1−γ) v vᵀ`. γ = 0.5 makes the constants
    /// `1/γ = 2`, `(1−γ)/γ² = 2`, `(1−γ)/γ = 1` exact in every format, so the bound applies unchanged.
    @Test func scaledUpdateEqualsExplicitInverseOfTheEMA() throws {
        func run<T: Scalar>(_: T.Type) throws {
            let (p, v) = Self.inputs(T.self, d: 6, seed: 7)
            let r = try ShermanMorrison.scaledUpdate(p, v, scale: 2, correctionScale: 2, weight: 1, accumulation: .perOperation)
            Self.check(r.inverse, denominator: r.denominator, p: p, v: v, alpha: 0.5, beta: 0.5, scale: 2, correction: 2, weight: 1)
        }
        try run(Double.self); try run(Float.self); try run(BFloat16.self)
        let c = try ShermanMorrison.emaConstants(decay: 0.5)
        #expect(c.scale == 2 && c.correctionScale == 2 && c.weight == 1)
        #expect(throws: ShermanMorrisonError.self) { try ShermanMorrison.emaConstants(decay: 1.5) }
    }

    /// K4 hazard: in fp16 with entries of 100 and d = 8, vᵀPv = 8·10⁴ > 65504 overflows; the
    /// denominator is reported as +∞ and the correction silently vanishes (X = P), as §8.8 warns.
    @Test func fp16DenominatorOverflowIsReported() throws {
        let p = Matrix<Float16>.identity(8)
        let r = try ShermanMorrison.update(p, [Float16](repeating: 100, count: 8), accumulation: .perOperation)
        #expect(r.denominatorDouble == .infinity)
        #expect(r.inverse == p)
    }

    @Test func shapeMismatchNamesBothShapes() {
        #expect(throws: ShapeError.self) { try ShermanMorrison.update(Matrix<Double>.identity(3), [1, 2], accumulation: .perOperation) }
        #expect(throws: ShapeError.self) { try ShermanMorrison.update(Matrix<Double>(rows: 2, columns: 3), [1, 2], accumulation: .perOperation) }
    }
}
