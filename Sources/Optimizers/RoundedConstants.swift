import Scalars

/// Hyperparameters rounded once to a type, with `1 − β` formed exactly in Double before rounding
/// (Docs/Optimizers.md §1.3 item 1). bf16 turns 0.999 into 1.0, so `1 − β2` computed in bf16 would be 0:
/// forming it in Double keeps `(1 − β2)_T = 0.001` (rounded), at the price of `β_T + (1 − β)_T ≠ 1`,
/// which is flagged.
public struct RoundedConstants: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public let name: String
        public let format: String
        public let value: Double
        public let rounded: Double
    }
    public private(set) var entries: [Entry] = []
    /// Names of EMA weights whose rounded pair does not sum to exactly 1.
    public private(set) var inconsistentPairs: [String] = []

    public init() {}

    /// Rounds `value` to `T` and records it.
    public mutating func round<T: Scalar>(_ name: String, _ value: Double, to _: T.Type = T.self) -> T {
        let r = T(value)
        entries.append(Entry(name: name, format: T.formatName, value: value, rounded: r.doubleValue))
        return r
    }

    /// Rounds `β` and `1 − β` (formed exactly in Double) separately; flags `β_T + (1−β)_T ≠ 1`.
    public mutating func emaPair<T: Scalar>(_ name: String, _ beta: Double, to _: T.Type = T.self) -> (beta: T, oneMinus: T) {
        let b: T = round(name, beta)
        let c: T = round("1-" + name, 1 - beta)
        if b.doubleValue + c.doubleValue != 1 { inconsistentPairs.append(name) }
        return (b, c)
    }
}
