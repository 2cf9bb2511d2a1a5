import RealModule

/// IEEE binary16, Swift's native `Float16`. On x86_64 every operation is computed in Float and
/// rounded once to binary16, which is correctly rounded for + − × ÷ √ (24 ≥ 2·11 + 2).
extension Float16: Scalar {
    @inlinable public var doubleValue: Double { Double(self) }
    public static var formatName: String { "fp16" }
    @inlinable public static var significandPrecision: Int { 11 }
    @inlinable public static var maximumExponent: Int { 15 }
    @inlinable public static var minimumNormalExponent: Int { -14 }
    @inlinable public static var hasSubnormals: Bool { true }
    @inlinable public static var unitRoundoff: Double { 0x1p-11 }

    /// `a·b + c` with one rounding. The product of two 11-bit significands is exact in Double;
    /// the sum is rounded to odd in Double (53 ≥ 11 + 2 bits), and rounding that to binary16 is then
    /// the correctly rounded result (Boldo–Melquiond).
    @inlinable
    public static func fusedMultiplyAdd(_ a: Float16, _ b: Float16, _ c: Float16) -> Float16 {
        let product = Double(a) * Double(b)
        return Float16(ExactArithmetic.sumRoundedToOdd(product, Double(c)))
    }
}
