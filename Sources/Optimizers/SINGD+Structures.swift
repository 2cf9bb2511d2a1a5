import Scalars
import LinearAlgebra

/// Matrix structures of SINGD's factors (Docs/Optimizers.md §5.7), stored densely with a pattern.
///
/// Two different operations, kept separate as §5.7 warns: `project` maps a *symmetric* matrix onto the
/// structure (off-diagonal parts doubled for the non-symmetric structures so that `m + mᵀ` reproduces
/// `2M` on the kept pattern); `extract` reads an already-structured matrix (e.g. a product of two
/// structured matrices) and only zeroes what lies outside the pattern.
///
/// The doubling rule, uniformly: an entry (i, j) of the pattern whose mirror (j, i) is also in the
/// pattern keeps `M_ij` (the diagonal, dense and block-diagonal parts); an entry whose mirror is not
/// gets `2·M_ij` (the triangular parts, the hierarchical off-diagonal blocks). Toeplitz additionally
/// averages along each diagonal.
public enum FactorStructure: Sendable, Hashable, CustomStringConvertible {
    case dense
    case diagonal
    /// Dense blocks of `size` on the diagonal (last block `d mod size`); the registered one is 30.
    case blockDiagonal(size: Int)
    /// Hierarchical `[[A, B12, B13], [0, diag(c), 0], [0, D32, E]]` with blocks `k1, m, k2`
    /// (`hierarchical15_15` is the registered one); sizes shrink for small d as §5.7 says.
    case hierarchical(k1: Int, k2: Int)
    /// Lower-triangular Toeplitz: K_ij = t_{i−j} for i ≥ j.
    case lowerToeplitz
    /// Upper-triangular Toeplitz: K_ij = t_{j−i} for j ≥ i.
    case upperToeplitz
    /// `[[a, 0], [b, diag(c)]]`: diagonal plus the first column (unregistered in the reference code).
    case lowerBottomRightDiagonal
    /// `[[diag(c), 0], [bᵀ, a]]`: diagonal plus the last row.
    case lowerTopLeftDiagonal
    /// `[[a, bᵀ], [0, diag(c)]]`: diagonal plus the first row.
    case upperBottomRightDiagonal
    /// `[[diag(c), b], [0, a]]`: diagonal plus the last column.
    case upperTopLeftDiagonal

    /// Every kind, with the registered parameters, for tests and catalogues.
    public static let allKinds: [FactorStructure] = [
        .dense, .diagonal, .blockDiagonal(size: 30), .hierarchical(k1: 15, k2: 15), .lowerToeplitz, .upperToeplitz,
        .lowerBottomRightDiagonal, .lowerTopLeftDiagonal, .upperBottomRightDiagonal, .upperTopLeftDiagonal,
    ]

    public var description: String {
        switch self {
        case .dense: "dense"
        case .diagonal: "diagonal"
        case .blockDiagonal(let b): "block\(b)diagonal"
        case .hierarchical(let k1, let k2): "hierarchical\(k1)_\(k2)"
        case .lowerToeplitz: "triltoeplitz"
        case .upperToeplitz: "triutoeplitz"
        case .lowerBottomRightDiagonal: "trilbottomrightdiagonal"
        case .lowerTopLeftDiagonal: "triltopleftdiagonal"
        case .upperBottomRightDiagonal: "triubottomrightdiagonal"
        case .upperTopLeftDiagonal: "triutopleftdiagonal"
        }
    }

    /// Parses the names of `description` (`dense`, `diagonal`, `block30diagonal`, `hierarchical15_15`,
    /// `triltoeplitz`, `triutoeplitz`, `trilbottomrightdiagonal`, …).
    public init?(name: String) {
        let fixed: [FactorStructure] = [.dense, .diagonal, .lowerToeplitz, .upperToeplitz, .lowerBottomRightDiagonal,
                                        .lowerTopLeftDiagonal, .upperBottomRightDiagonal, .upperTopLeftDiagonal]
        if let s = fixed.first(where: { $0.description == name }) { self = s; return }
        if name.hasPrefix("hierarchical") {
            let parts = name.dropFirst("hierarchical".count).split(separator: "_", omittingEmptySubsequences: false)
            guard parts.count == 2, let k1 = Int(parts[0]), let k2 = Int(parts[1]), k1 >= 1, k2 >= 1 else { return nil }
            self = .hierarchical(k1: k1, k2: k2)
            return
        }
        guard name.hasPrefix("block"), name.hasSuffix("diagonal"),
              let b = Int(name.dropFirst(5).dropLast(8)), b >= 1 else { return nil }
        self = .blockDiagonal(size: b)
    }

    /// The hierarchical block of index `i` (0, 1 or 2) for dimension `d` (§5.7's size rule).
    @inlinable
    static func hierarchicalBlock(_ i: Int, d: Int, k1: Int, k2: Int) -> Int {
        if d <= k1 { return 0 }
        let first = k1, middle = d <= k1 + k2 ? 0 : d - k1 - k2
        return i < first ? 0 : (i < first + middle ? 1 : 2)
    }

    /// Whether entry (i, j) of a `d×d` factor belongs to the pattern.
    @inlinable
    public func contains(_ i: Int, _ j: Int, dimension d: Int) -> Bool {
        switch self {
        case .dense: return true
        case .diagonal: return i == j
        case .blockDiagonal(let b): return i / b == j / b
        case .hierarchical(let k1, let k2):
            let bi = Self.hierarchicalBlock(i, d: d, k1: k1, k2: k2), bj = Self.hierarchicalBlock(j, d: d, k1: k1, k2: k2)
            switch (bi, bj) {
            case (0, _), (2, 1), (2, 2): return true
            case (1, 1): return i == j
            default: return false
            }
        case .lowerToeplitz: return i >= j
        case .upperToeplitz: return j >= i
        case .lowerBottomRightDiagonal: return i == j || j == 0
        case .lowerTopLeftDiagonal: return i == j || i == d - 1
        case .upperBottomRightDiagonal: return i == j || i == 0
        case .upperTopLeftDiagonal: return i == j || j == d - 1
        }
    }

    /// Π(M) for symmetric M (trace preserving).
    @inlinable
    public func project<T: Scalar>(_ m: Matrix<T>) -> Matrix<T> {
        let d = m.rows
        switch self {
        case .dense: return m
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
        default:
            // Doubling is exact (a power-of-two scaling), so the projection rounds nothing.
            return Matrix(rows: d, columns: d) { i, j in
                guard contains(i, j, dimension: d) else { return .zero }
                return contains(j, i, dimension: d) ? m[i, j] : m[i, j] + m[i, j]
            }
        }
    }

    /// Reads a structured matrix: zeroes entries outside the pattern (for Toeplitz, reads the first
    /// column/row, the parameters of the structure).
    @inlinable
    public func extract<T: Scalar>(_ m: Matrix<T>) -> Matrix<T> {
        let d = m.rows
        switch self {
        case .dense: return m
        case .lowerToeplitz: return Matrix(rows: d, columns: d) { i, j in i >= j ? m[i - j, 0] : .zero }
        case .upperToeplitz: return Matrix(rows: d, columns: d) { i, j in j >= i ? m[0, j - i] : .zero }
        default: return Matrix(rows: d, columns: d) { i, j in contains(i, j, dimension: d) ? m[i, j] : .zero }
        }
    }

    /// ‖·‖_max over the stored parameters.
    @inlinable
    public func maxNorm<T: Scalar>(_ m: Matrix<T>) -> Double {
        var r = 0.0
        for i in 0..<m.rows { for j in 0..<m.columns where contains(i, j, dimension: m.rows) { r = max(r, abs(m[i, j].doubleValue)) } }
        return r
    }
}
