import RealModule

/// IEEE binary64. Native hardware arithmetic is correctly rounded (round to nearest even).
extension Double: Scalar {
    @inlinable public var doubleValue: Double { self }
    public static var formatName: String { "fp64" }
    @inlinable public static var significandPrecision: Int { 53 }
    @inlinable public static var maximumExponent: Int { 1023 }
    @inlinable public static var minimumNormalExponent: Int { -1022 }
    @inlinable public static var hasSubnormals: Bool { true }
    @inlinable public static var unitRoundoff: Double { 0x1p-53 }
    /// Hardware (or libm) `fma`: one rounding.
    @inlinable
    public static func fusedMultiplyAdd(_ a: Double, _ b: Double, _ c: Double) -> Double {
        c.addingProduct(a, b)
    }
}
