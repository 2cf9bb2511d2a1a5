// Equatable, Comparable, Hashable, literals, strings and Strideable for BFloat16.

extension BFloat16: Equatable {
    /// IEEE equality: `+0 == −0`, and NaN is unequal to everything, itself included.
    @inlinable
    public static func == (lhs: BFloat16, rhs: BFloat16) -> Bool { lhs.float == rhs.float }
}

extension BFloat16: Comparable {
    /// IEEE ordering (false whenever a NaN is involved).
    @inlinable
    public static func < (lhs: BFloat16, rhs: BFloat16) -> Bool { lhs.float < rhs.float }
    @inlinable
    public static func <= (lhs: BFloat16, rhs: BFloat16) -> Bool { lhs.float <= rhs.float }
    @inlinable
    public static func > (lhs: BFloat16, rhs: BFloat16) -> Bool { lhs.float > rhs.float }
    @inlinable
    public static func >= (lhs: BFloat16, rhs: BFloat16) -> Bool { lhs.float >= rhs.float }
}

extension BFloat16: Hashable {
    /// Hashes the bit pattern with both zeros mapped to +0, so that `+0 == −0` implies equal hashes.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(isZero ? 0 : _bits)
    }
}

extension BFloat16: ExpressibleByIntegerLiteral {
    @inlinable
    public init(integerLiteral value: Int) { self.init(value) }
}

extension BFloat16: ExpressibleByFloatLiteral {
    /// The literal is parsed as a `Double` by the compiler, then rounded once to bfloat16.
    @inlinable
    public init(floatLiteral value: Double) { self.init(value) }
}

extension BFloat16: CustomStringConvertible, CustomDebugStringConvertible {
    /// The binary32 value printed by `Float` (exact value of the bfloat16, shortest for binary32).
    public var description: String { Float(self).description }
    public var debugDescription: String { "BFloat16(\(Float(self).description))" }
}

extension BFloat16: LosslessStringConvertible {
    /// Parses as `Double` (correctly rounded), then rounds once to bfloat16. The two roundings can differ
    /// from a direct decimal → bfloat16 rounding only for decimal strings within 2^−53 relative of a
    /// bfloat16 midpoint.
    public init?(_ description: String) {
        guard let d = Double(description) else { return nil }
        self.init(d)
    }
}

extension BFloat16: Strideable {
    /// `other − self`, rounded to bfloat16 (the stdlib has no default for a custom float).
    @inlinable
    public func distance(to other: BFloat16) -> BFloat16 { other - self }
    /// `self + n`, rounded to bfloat16.
    @inlinable
    public func advanced(by n: BFloat16) -> BFloat16 { self + n }
}

extension BFloat16: Codable {
    /// Encoded as the binary32 value (exact), decoded with one rounding.
    public init(from decoder: any Decoder) throws {
        self.init(try Float(from: decoder))
    }
    public func encode(to encoder: any Encoder) throws {
        try Float(self).encode(to: encoder)
    }
}
