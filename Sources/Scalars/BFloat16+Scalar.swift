import RealModule

/// bfloat16 as a Mantissa `Scalar`: p = 8, emax = 127, emin = −126, subnormals, u = 2^−8,
/// round to nearest even for every operation.
extension BFloat16: Scalar {
    @inlinable public var doubleValue: Double { Double(self) }
    public static var formatName: String { "bf16" }
    @inlinable public static var significandPrecision: Int { 8 }
    @inlinable public static var maximumExponent: Int { 127 }
    @inlinable public static var minimumNormalExponent: Int { -126 }
    @inlinable public static var hasSubnormals: Bool { true }
    @inlinable public static var unitRoundoff: Double { 0x1p-8 }
}
