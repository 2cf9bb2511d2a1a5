import Scalars

/// How the sums inside a dot product or matrix product are formed and rounded.
///
/// The model is part of every study cell and is named in every report (`name`), because it changes
/// low-precision results as much as the algorithm does (Docs/Optimizers.md §1.3).
public enum AccumulationModel: Hashable, Sendable, CustomStringConvertible {
    /// Every multiply and every add is rounded to `T`, summing `k = 0, 1, …, n−1` in order
    /// (recursive summation). Error bound: `|ŝ − s| ≤ γ_n Σ|aᵢbᵢ|` with `γ_n` of `T`.
    case perOperation
    /// Storage-only: inputs are `T` values, products and sums are formed in the wider accumulator,
    /// and the result is rounded to `T` once (the tensor-core model). The summation order is
    /// unspecified: for Float/Double-representable inputs it may be OpenBLAS's. If `T` is at least as
    /// precise as the accumulator, this degenerates to `.perOperation`.
    case wide(WideAccumulator)
    /// Kahan's compensated summation in `T`: `|ŝ − s| ≤ (2u + O(n u²)) Σ|aᵢbᵢ|` (Higham Thm 4.8),
    /// products rounded to `T`.
    case compensated
    /// Block fused multiply-add: each block of `blockSize` consecutive products is summed in
    /// double-double (relative error ≤ 2⁻¹⁰⁰ of the block's Σ|aᵢbᵢ|, far below any `T` ≤ binary64
    /// resolution) and rounded once into the accumulator, which is `T` (`.scalar`) or Float.
    case blockFMA(blockSize: Int, accumulator: BlockAccumulator)

    public enum WideAccumulator: String, Hashable, Sendable, CaseIterable {
        case float = "fp32"
        case double = "fp64"
    }

    public enum BlockAccumulator: String, Hashable, Sendable, CaseIterable {
        /// The running sum is held and rounded in `T`.
        case scalar = "T"
        /// The running sum is held and rounded in Float, then rounded to `T` at the end.
        case float = "fp32"
    }

    /// Stable name used in study files and reports: `per-op`, `wide-fp32`, `wide-fp64`, `kahan`,
    /// `block4-T`, `block32-fp32`.
    public var name: String {
        switch self {
        case .perOperation: "per-op"
        case .wide(let w): "wide-\(w.rawValue)"
        case .compensated: "kahan"
        case .blockFMA(let k, let acc): "block\(k)-\(acc.rawValue)"
        }
    }

    public var description: String { name }

    /// Parses a name produced by `name`; throws an error naming the value otherwise.
    public init(name: String) throws(AccumulationModelError) {
        switch name {
        case "per-op": self = .perOperation
        case "wide-fp32": self = .wide(.float)
        case "wide-fp64": self = .wide(.double)
        case "kahan": self = .compensated
        default:
            if name.hasPrefix("block"), let dash = name.firstIndex(of: "-"),
               let k = Int(name[name.index(name.startIndex, offsetBy: 5)..<dash]), k >= 1,
               let acc = BlockAccumulator(rawValue: String(name[name.index(after: dash)...])) {
                self = .blockFMA(blockSize: k, accumulator: acc)
            } else {
                throw AccumulationModelError(name: name)
            }
        }
    }
}

/// An unknown accumulation-model name.
public struct AccumulationModelError: Error, CustomStringConvertible, Sendable, Equatable {
    public let name: String
    public var description: String {
        "unknown accumulation model \"\(name)\"; expected per-op, wide-fp32, wide-fp64, kahan or block<k>-T / block<k>-fp32 (k ≥ 1)"
    }
}
