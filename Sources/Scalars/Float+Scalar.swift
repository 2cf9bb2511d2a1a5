import RealModule

/// IEEE binary32. Native hardware arithmetic is correctly rounded (round to nearest even).
extension Float: Scalar {
    @inlinable public var doubleValue: Double { Double(self) }
    public static var formatName: String { "fp32" }
    @inlinable public static var significandPrecision: Int { 24 }
    @inlinable public static var maximumExponent: Int { 127 }
    @inlinable public static var minimumNormalExponent: Int { -126 }
    @inlinable public static var hasSubnormals: Bool { true }
    @inlinable public static var unitRoundoff: Double { 0x1p-24 }
    /// Hardware (or libm) `fmaf`: one rounding.
    @inlinable
    public static func fusedMultiplyAdd(_ a: Float, _ b: Float, _ c: Float) -> Float {
        c.addingProduct(a, b)
    }
}
