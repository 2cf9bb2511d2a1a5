/// One canonical block of a linear memory rule (Docs/Optimizers.md §9.4).
public enum MemoryBlock: Sendable, Hashable, Codable {
    /// Real Jordan block of `size` units with eigenvalue λ ∈ [0, 1): `m_1 ← λ m_1 + g`,
    /// `m_i ← λ m_i + m_{i−1}` (old or new neighbour, see `ChainCoupling`).
    case jordan(eigenvalue: Double, size: Int)
    /// Complex pair `r e^{±iφ}` (2 units): `[m_1; m_2] ← r R(φ) [m_1; m_2] + [g; 0]`, `r ∈ [0, 1)`.
    case complexPair(radius: Double, angle: Double)

    public var size: Int {
        switch self {
        case .jordan(_, let j): j
        case .complexPair: 2
        }
    }
}

/// Whether unit `m_i` of a Jordan chain reads the old or the already-updated `m_{i−1}` (§9.4: not
/// recovered from the paper; both are legal linear rules, related by a change of `Pr`).
public enum ChainCoupling: String, Sendable, Hashable, CaseIterable, Codable {
    case old
    case new
}

/// A linear memory rule `M ← M Pr + g bᵀ` (§9.4): new unit `j` is `Σ_i Pr[i][j] m_i + b_j g`.
///
/// Built from canonical blocks (`blocks(_:coupling:)`) or given densely (`init(propagator:input:)`,
/// e.g. a rule in a rotated basis, `changingBasis`). `k = 1…4` units.
public struct MemoryRule: Sendable, Hashable {
    /// `Pr`, `k×k`, indexed `[i][j]` (coefficient of old unit `i` in new unit `j`).
    public let propagator: [[Double]]
    /// `b`, `k` entries (coefficient of the gradient in each new unit).
    public let input: [Double]
    public var unitCount: Int { input.count }

    /// A dense rule; throws unless `Pr` is `k×k`, `b` has `k` entries, `1 ≤ k ≤ 4`, every entry finite.
    public init(propagator: [[Double]], input: [Double]) throws(OptimizerConfigurationError) {
        let k = input.count
        guard (1...4).contains(k) else {
            throw OptimizerConfigurationError("rllc", field: "memory units k", value: "\(k)", reason: "must lie in 1…4 (§9.1)")
        }
        guard propagator.count == k, propagator.allSatisfy({ $0.count == k }) else {
            throw OptimizerConfigurationError("rllc", field: "propagator", value: "\(propagator)", reason: "must be \(k)×\(k) to match b with \(k) entries")
        }
        guard propagator.joined().allSatisfy(\.isFinite), input.allSatisfy(\.isFinite) else {
            throw OptimizerConfigurationError("rllc", field: "propagator/input", value: "\(propagator) / \(input)", reason: "entries must be finite")
        }
        self.propagator = propagator; self.input = input
    }

    /// Canonical blocks side by side (§9.4); throws naming the offending block.
    public static func blocks(_ blocks: [MemoryBlock], coupling: ChainCoupling = .old) throws(OptimizerConfigurationError) -> MemoryRule {
        let k = blocks.reduce(0) { $0 + $1.size }
        guard (1...4).contains(k) else {
            throw OptimizerConfigurationError("rllc", field: "blocks", value: "\(blocks)", reason: "total units k = \(k) must lie in 1…4")
        }
        var pr = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        var b = [Double](repeating: 0, count: k)
        var o = 0
        for block in blocks {
            switch block {
            case .jordan(let lambda, let size):
                guard size >= 1 else { throw OptimizerConfigurationError("rllc", field: "jordan size", value: "\(size)", reason: "must be ≥ 1") }
                guard lambda >= 0, lambda < 1 else {
                    throw OptimizerConfigurationError("rllc", field: "jordan eigenvalue", value: "\(lambda)", reason: "must lie in [0, 1)")
                }
                for i in 0..<size {
                    switch coupling {
                    case .old:
                        pr[o + i][o + i] = lambda
                        if i > 0 { pr[o + i - 1][o + i] = 1 }
                        b[o + i] = i == 0 ? 1 : 0
                    case .new:   // m_i ← λ m_i + m_{i−1}^new = λ Σ_{l ≤ i} m_l + g
                        for l in 0...i { pr[o + l][o + i] = lambda }
                        b[o + i] = 1
                    }
                }
            case .complexPair(let r, let phi):
                guard r >= 0, r < 1 else { throw OptimizerConfigurationError("rllc", field: "complex radius", value: "\(r)", reason: "must lie in [0, 1)") }
                guard phi.isFinite else { throw OptimizerConfigurationError("rllc", field: "complex angle", value: "\(phi)", reason: "must be finite") }
                let c = r * Double.cos(phi), s = r * Double.sin(phi)
                pr[o][o] = c; pr[o + 1][o] = -s
                pr[o][o + 1] = s; pr[o + 1][o + 1] = c
                b[o] = 1
            }
            o += block.size
        }
        return try MemoryRule(propagator: pr, input: b)
    }

    /// SGD: one unit `m = g` (§9.4 table; law `(1)`, `c1 = η`).
    public static var sgd: MemoryRule { try! blocks([.jordan(eigenvalue: 0, size: 1)]) }
    /// Heavy ball: `m ← μ m + g` (law `(1)`).
    public static func heavyBall(_ mu: Double) throws(OptimizerConfigurationError) -> MemoryRule { try blocks([.jordan(eigenvalue: mu, size: 1)]) }
    /// Nesterov: `m_1 ← μ m_1 + g`, `m_2 = g` (law `(μ, 1)`).
    public static func nesterov(_ mu: Double) throws(OptimizerConfigurationError) -> MemoryRule {
        try blocks([.jordan(eigenvalue: mu, size: 1), .jordan(eigenvalue: 0, size: 1)])
    }

    /// The same method in the basis `M' = M Q` (§9.7 basis invariance): `Pr' = Q⁻¹ Pr Q`, `b' = Qᵀ b`;
    /// pair it with the law `Q⁻¹ L` (`lawInBasis`). Computed in Double: choose `Q` with dyadic entries
    /// (e.g. a scaled rotation `[[1, 1], [−1, 1]]`) to make the transformed rule exact. Throws unless
    /// `Q Q⁻¹ = I` to 1e-12.
    public func changingBasis(_ q: [[Double]], inverse qInv: [[Double]]) throws(OptimizerConfigurationError) -> MemoryRule {
        let k = unitCount
        guard q.count == k, qInv.count == k, q.allSatisfy({ $0.count == k }), qInv.allSatisfy({ $0.count == k }) else {
            throw OptimizerConfigurationError("rllc", field: "basis Q", value: "\(q)", reason: "Q and Q⁻¹ must be \(k)×\(k)")
        }
        for i in 0..<k { for j in 0..<k {
            let e = (0..<k).reduce(0.0) { $0 + q[i][$1] * qInv[$1][j] }
            guard abs(e - (i == j ? 1 : 0)) <= 1e-12 else {
                throw OptimizerConfigurationError("rllc", field: "basis Q⁻¹", value: "\(qInv)", reason: "Q·Q⁻¹ differs from I at (\(i),\(j)): \(e)")
            }
        } }
        let prq = (0..<k).map { i in (0..<k).map { j in (0..<k).reduce(0.0) { $0 + propagator[i][$1] * q[$1][j] } } }
        let pr = (0..<k).map { i in (0..<k).map { j in (0..<k).reduce(0.0) { $0 + qInv[i][$1] * prq[$1][j] } } }
        let b = (0..<k).map { j in (0..<k).reduce(0.0) { $0 + q[$1][j] * input[$1] } }
        return try MemoryRule(propagator: pr, input: b)
    }

    /// `Q⁻¹ L`: the law that makes `M' L'` equal `M L` in the basis `M' = M Q`.
    public static func lawInBasis(_ law: [Double], inverse qInv: [[Double]]) -> [Double] {
        qInv.map { row in zip(row, law).reduce(0.0) { $0 + $1.0 * $1.1 } }
    }
}
