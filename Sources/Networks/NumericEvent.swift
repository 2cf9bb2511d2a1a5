import Scalars
import LinearAlgebra

/// A numeric event on the forward/backward path: where a tensor first held a value the format
/// could not represent faithfully.
///
/// Kinds: `nan` (NaN entries), `overflow` (±∞ entries), `subnormal` (entries in the subnormal range:
/// gradual underflow, relative precision lost). Flushes to exact zero are not detectable from the
/// result alone and are not counted.
public struct NumericEvent: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable { case nan, overflow, subnormal }
    public let kind: Kind
    public let layer: Int
    public let tensor: String
    public let count: Int
    public let firstIndex: Int

    public init(kind: Kind, layer: Int, tensor: String, count: Int, firstIndex: Int) {
        self.kind = kind; self.layer = layer; self.tensor = tensor; self.count = count; self.firstIndex = firstIndex
    }

    public var description: String { "\(kind.rawValue) ×\(count) in layer \(layer) \(tensor) (first at \(firstIndex))" }

    /// Scans a tensor and appends one event per kind present.
    @inlinable
    public static func scan<T: Scalar>(_ m: Matrix<T>, layer: Int, tensor: String, into events: inout [NumericEvent]) {
        var counts = (nan: 0, inf: 0, sub: 0), first = (nan: -1, inf: -1, sub: -1)
        let smallest = T.leastNormalMagnitude
        for (i, x) in m.elements.enumerated() {
            if x.isNaN { counts.nan += 1; if first.nan < 0 { first.nan = i } }
            else if x.isInfinite { counts.inf += 1; if first.inf < 0 { first.inf = i } }
            else if x != 0 && x.magnitude < smallest { counts.sub += 1; if first.sub < 0 { first.sub = i } }
        }
        if counts.nan > 0 { events.append(.init(kind: .nan, layer: layer, tensor: tensor, count: counts.nan, firstIndex: first.nan)) }
        if counts.inf > 0 { events.append(.init(kind: .overflow, layer: layer, tensor: tensor, count: counts.inf, firstIndex: first.inf)) }
        if counts.sub > 0 { events.append(.init(kind: .subnormal, layer: layer, tensor: tensor, count: counts.sub, firstIndex: first.sub)) }
    }
}
