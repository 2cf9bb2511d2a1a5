import Scalars

/// Rank-one inverse updates by Sherman–Morrison (Docs/Optimizers.md K4), generic over `T`.
///
/// For `P ≈ M⁻¹` and a vector `v`:
/// `(M + v vᵀ)⁻¹ = P − (P v)(vᵀ P) / (1 + vᵀ P v)`.
///
/// The update is evaluated exactly as the MKOR reference code does (§8.4): `u = P v` and `w = vᵀ P`
/// are two *separate* matrix–vector products (so the correction is not exactly symmetric when `P`
/// is not), the denominator is the reduction `1 + w·v`, and each entry is `P_ij − (u_i w_j)/den`.
/// Every reduction follows the caller's `AccumulationModel`; every other operation is rounded to `T`.
///
/// *Hazards* (K4): the denominator is a length-`d` reduction that overflows in fp16 for large `v`,
/// and drops below 1 (impossible for an SPD `P`) once `P` has lost definiteness through rounding. The
/// denominator is therefore returned, both as `T` and in Double, for the caller to record (§1.4);
/// nothing here guards it — a guard would change the method.
///
/// *Error bound* (derived in `ShermanMorrisonTests`): with `a = |P||v|`, `b = |v|ᵀ|P|`,
/// `S = |v|ᵀ|P||v|`, each entry satisfies
/// `|X̂_ij − X_ij| ≤ γ_{4d+8}(|P_ij| + a_i b_j (1 + S/|den|)/|den|)` to first order.
public enum ShermanMorrison {
    /// The updated inverse and the denominator that produced it.
    @frozen
    public struct Update<T: Scalar>: Sendable {
        /// The new inverse factor.
        public var inverse: Matrix<T>
        /// `1 + c·vᵀPv` as held in `T` (what the division used).
        public var denominator: T
        /// The same value in Double (exact for formats contained in binary64), for monitors.
        @inlinable public var denominatorDouble: Double { denominator.doubleValue }

        @inlinable
        public init(inverse: Matrix<T>, denominator: T) { self.inverse = inverse; self.denominator = denominator }
    }

    /// `P − (P v)(vᵀ P) / (1 + vᵀ P v)`: the inverse of `P⁻¹ + v vᵀ` (K4).
    ///
    /// Throws when `P` is not square or `v` does not have `P`'s dimension.
    @inlinable
    public static func update<T: Scalar>(_ p: Matrix<T>, _ v: [T], accumulation: AccumulationModel) throws(ShapeError) -> Update<T> {
        try kernel(p, v, scale: nil, correctionScale: nil, weight: nil, accumulation: accumulation)
    }

    /// The scaled form used by MKOR-EMA (§8.5): the inverse of `γ P⁻¹ + (1 − γ) v vᵀ`,
    /// `(1/γ) P − ((1−γ)/γ²)(P v)(vᵀ P) / (1 + ((1−γ)/γ) vᵀ P v)`.
    ///
    /// The three constants are passed already rounded to `T` (each formed in Double and rounded once,
    /// §1.3 item 1): `scale = 1/γ`, `correctionScale = (1−γ)/γ²`, `weight = (1−γ)/γ`. Entries are
    /// `scale·P_ij − (correctionScale·(u_i w_j))/den` with `den = 1 + weight·(w·v)`.
    @inlinable
    public static func scaledUpdate<T: Scalar>(
        _ p: Matrix<T>, _ v: [T], scale: T, correctionScale: T, weight: T, accumulation: AccumulationModel
    ) throws(ShapeError) -> Update<T> {
        try kernel(p, v, scale: scale, correctionScale: correctionScale, weight: weight, accumulation: accumulation)
    }

    /// The scaled-form constants `(1/γ, (1−γ)/γ², (1−γ)/γ)` formed in Double (one rounding each into `T`
    /// happens in the caller's `RoundedConstants`). Throws for `γ ∉ (0, 1]`, naming the value.
    public static func emaConstants(decay gamma: Double) throws(ShermanMorrisonError) -> (scale: Double, correctionScale: Double, weight: Double) {
        guard gamma > 0, gamma <= 1 else { throw ShermanMorrisonError(detail: "EMA decay γ = \(gamma) must lie in (0, 1]") }
        return (1 / gamma, (1 - gamma) / (gamma * gamma), (1 - gamma) / gamma)
    }

    @inlinable
    internal static func kernel<T: Scalar>(
        _ p: Matrix<T>, _ v: [T], scale: T?, correctionScale: T?, weight: T?, accumulation: AccumulationModel
    ) throws(ShapeError) -> Update<T> {
        guard p.isSquare else { throw ShapeError(operation: "Sherman–Morrison", detail: "P is \(p.rows)×\(p.columns), not square") }
        guard v.count == p.rows else {
            throw ShapeError(operation: "Sherman–Morrison", detail: "P is \(p.rows)×\(p.columns), v has \(v.count) elements")
        }
        let d = p.rows
        let u = try p.times(v, .none, accumulation: accumulation)          // P v
        let w = try p.times(v, .transposed, accumulation: accumulation)    // (vᵀ P)ᵀ, computed separately
        let s = try Reduction.dot(w, v, accumulation: accumulation)        // vᵀ P v
        let den: T = 1 + (weight.map { $0 * s } ?? s)
        var x = p
        x.withUnsafeMutableElements { xb in
            for i in 0..<d {
                for j in 0..<d {
                    let uw = u[i] * w[j]
                    if let a = scale, let c = correctionScale {
                        xb[i * d + j] = a * xb[i * d + j] - (c * uw) / den
                    } else {
                        xb[i * d + j] = xb[i * d + j] - uw / den
                    }
                }
            }
        }
        return Update(inverse: x, denominator: den)
    }
}

/// Invalid Sherman–Morrison configuration: names the value.
public struct ShermanMorrisonError: Error, CustomStringConvertible, Sendable, Equatable {
    public let detail: String
    public init(detail: String) { self.detail = detail }
    public var description: String { "Sherman–Morrison: \(detail)" }
}
