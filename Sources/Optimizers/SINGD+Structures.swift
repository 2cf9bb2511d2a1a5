import Scalars
import LinearAlgebra

/// Matrix structures of SINGD's factors (ALGORITHMS.md §5.7), stored densely with a pattern.
///
/// Two different operations, kept separate as §5.7 warns: `project` maps a *symmetric* matrix onto the
/// structure (off-diagonal parts doubled for the non-symmetric structures so that `m + mᵀ` reproduces
/// `2M` on the kept pattern); `extract` reads an already-structured matrix (e.g. a product of two
/// structured matrices) and only zeroes what lies outside the pattern.
public enum FactorStructure: Sendable, Hashable, CustomStringConvertible {
    case dense
    case diagonal
    /// Dense blocks of `size` on the diagonal (last block `d mod size`); the registered one is 30.
    case blockDiagonal(size: Int)
    /// Lower-triangular Toeplitz: K_ij = t_{i−j} for i ≥ j.
    case lowerToeplitz
    /// Upper-triangular Toeplitz: K_ij = t_{j−i} for j ≥ i.
    case upperToeplitz

    public var description: String {
        switch self {
        case .dense: "dense"
        case .diagonal: "diagonal"
        case .blockDiagonal(let b): "block\(b)diagonal"
        case .lowerToeplitz: "triltoeplitz"
        case .upperToeplitz: "triutoeplitz"
        }
    }

    /// Parses the reference code's names (`dense`, `diagonal`, `block30diagonal`, `triltoeplitz`, `triutoeplitz`).
    public init?(name: String) {
        switch name {
        case "dense": self = .dense
        case "diagonal": self = .diagonal
        case "triltoeplitz": self = .lowerToeplitz
        case "triutoeplitz": self = .upperToeplitz
        default:
            guard name.hasPrefix("block"), name.hasSuffix("diagonal"),
                  let b = Int(name.dropFirst(5).dropLast(8)), b >= 1 else { return nil }
            self = .blockDiagonal(size: b)
        }
    }

    /// Whether entry (i, j) belongs to the pattern.
    @inlinable
    public func contains(_ i: Int, _ j: Int) -> Bool {
        switch self {
        case .dense: true
        case .diagonal: i == j
        case .blockDiagonal(let b): i / b == j / b
        case .lowerToeplitz: i >= j
        case .upperToeplitz: j >= i
        }
    }

    /// Π(M) for symmetric M (trace preserving).
    @inlinable
    public func project<T: Scalar>(_ m: Matrix<T>) -> Matrix<T> {
        let d = m.rows
        switch self {
        case .dense: return m
        case .diagonal, .blockDiagonal: return Matrix(rows: d, columns: d) { i, j in contains(i, j) ? m[i, j] : .zero }
        case .lowerToeplitz, .upperToeplitz:
            // t_0 = mean of the diagonal; t_k = (Σ_i M_{i+k,i} + Σ_i M_{i,i+k})/(d − k), summed in order
            var t = [T](repeating: .zero, count: d)
            for k in 0..<d {
                var s = T.zero
                for i in 0..<(d - k) { s += m[i + k, i] }
                if k > 0 { for i in 0..<(d - k) { s += m[i, i + k] } }
                t[k] = s / T(Double(d - k))
            }
            return self == .lowerToeplitz
                ? Matrix(rows: d, columns: d) { i, j in i >= j ? t[i - j] : .zero }
                : Matrix(rows: d, columns: d) { i, j in j >= i ? t[j - i] : .zero }
        }
    }

    /// Reads a structured matrix: zeroes entries outside the pattern (for Toeplitz, reads the first
    /// column/row, the parameters of the structure).
    @inlinable
    public func extract<T: Scalar>(_ m: Matrix<T>) -> Matrix<T> {
        let d = m.rows
        switch self {
        case .dense: return m
        case .diagonal, .blockDiagonal: return Matrix(rows: d, columns: d) { i, j in contains(i, j) ? m[i, j] : .zero }
        case .lowerToeplitz: return Matrix(rows: d, columns: d) { i, j in i >= j ? m[i - j, 0] : .zero }
        case .upperToeplitz: return Matrix(rows: d, columns: d) { i, j in j >= i ? m[0, j - i] : .zero }
        }
    }

    /// ‖·‖_max over the stored parameters.
    @inlinable
    public func maxNorm<T: Scalar>(_ m: Matrix<T>) -> Double {
        var r = 0.0
        for i in 0..<m.rows { for j in 0..<m.columns where contains(i, j) { r = max(r, abs(m[i, j].doubleValue)) } }
        return r
    }
}
