import Scalars
import LinearAlgebra
import Networks

/// Dynamic-memory optimizer with retrospective learning-law correction, LM-RLLC (Szegedy, Czifra,
/// Kőrösi-Szabó 2024), in the flagged ordering of Docs/Optimizers.md §9.5:
///
/// ```
/// g ← ∇θ (all layers, flattened layer by layer, row-major)
/// if M ≠ 0 and c2 ≠ 0:  Gm ← MᵀM ; h ← Mᵀg ; x ← (Gm + δ_rel·τ(Gm)·I)⁻¹ h ; L ← L + c2·x   (K5)
/// M ← M Pr + g bᵀ                         (a linear memory rule, §9.4)
/// θ ← θ − c1 · M L
/// ```
/// One global law `L` (§9.3). With `c2 = 0` the correction is skipped altogether, so the fixed-law
/// special cases (`MemoryRule.sgd`, `.heavyBall(μ)`, `.nesterov(μ)` with laws `(1)`, `(1)`, `(μ, 1)`)
/// perform exactly the operations of `torch.optim.SGD` in the same order — `μ·b + 1·g` for the buffer,
/// `b·μ + g·1` for the Nesterov direction, `θ − η·d` — and reproduce `SGD` bit for bit under per-op
/// arithmetic. Zero entries of `Pr` and `b` are skipped (not multiplied), so an overflowed unit never
/// turns into `0·∞ = NaN` through a coefficient that is structurally zero.
///
/// Precision policy: the units `M`, the law `L`, `Gm`, `h`, `x` in `Policy.Moments` (memory units
/// are optimizer moments; scalars from reductions are held in the working type, §1.3 item 4); `c1`
/// and the update in `Weights`. Reductions over all `n` parameters follow `settings.accumulation`;
/// the `k×k` solve uses the library Cholesky, and a breakdown is recorded (`cholesky-failure`) and the
/// law kept unchanged for that step. Elementwise statements (one new unit; one weight update) are
/// per-op or fused through `Statement` (fused: evaluated in the wider of Float and the storage type,
/// rounded once).
///
/// Monitors (§9.7, layer −1): `kappa_MtM` (Double, on the stored units), `unit_norm_i`, `law_i`,
/// `law_norm`, `x_norm`, `effective_step_ratio = c1‖ML‖/‖g‖`, `cos_step_gradient = cos∠(−ML, −g)`.
/// Events: `ill-conditioned` when κ(MᵀM) > 1/u of `Moments`, `cholesky-failure`, `clamp` (cap fired),
/// `non-finite`.
public struct RLLC<Policy: PrecisionPolicy>: Optimizer {
    public typealias W = Policy.Weights
    public typealias M = Policy.Moments

    public struct Hyperparameters: Sendable, Hashable {
        /// The linear memory rule (default: Nesterov-like units with μ = 0.9, §9.5 defaults).
        public var rule: MemoryRule = try! .nesterov(0.9)
        /// `L_0`: the law of the fixed method being generalised (Nesterov: `(μ, 1)`).
        public var initialLaw: [Double] = [0.9, 1]
        /// `c1`: the step size.
        public var learningRate: Double = 0.1
        /// `c2`: the law-correction rate (default 1e-3·c1). 0 gives the fixed-law method.
        public var lawRate: Double = 1e-4
        /// `δ_rel`: ridge relative to τ(MᵀM).
        public var ridge: Double = 1e-6
        /// Optional cap on `‖c2 x‖_2` per step (off by default).
        public var correctionCap: Double? = nil
        /// κ(MᵀM) in Double (a k×k eigendecomposition and a Double Gram matrix per step).
        public var expensiveMonitors = true
        @inlinable
        public init() {}
    }

    public let hyperparameters: Hyperparameters
    public let settings: ArithmeticSettings
    public private(set) var constants = RoundedConstants()
    /// The memory units, `k` flattened parameter vectors.
    public var units: [[M]] = []
    /// The learning law `L`.
    public var law: [M]
    @usableFromInline let c1: W, c2: M, ridge: M, cap: M?
    @usableFromInline let propagator: [[M]], input: [M]

    @inlinable public var name: String { "rllc" }
    @inlinable public var unitCount: Int { hyperparameters.rule.unitCount }

    /// Rounds `Pr`, `b`, `L_0`, `c1`, `c2`, `δ_rel` once (§1.3); throws naming a bad value.
    public init(_ h: Hyperparameters = .init(), settings: ArithmeticSettings = .init()) throws(OptimizerConfigurationError) {
        let k = h.rule.unitCount
        guard h.initialLaw.count == k else {
            throw OptimizerConfigurationError("rllc", field: "initialLaw", value: "\(h.initialLaw)", reason: "needs \(k) entries, one per memory unit")
        }
        guard h.learningRate.isFinite else { throw OptimizerConfigurationError("rllc", field: "learningRate", value: "\(h.learningRate)", reason: "must be finite") }
        guard h.lawRate.isFinite else { throw OptimizerConfigurationError("rllc", field: "lawRate", value: "\(h.lawRate)", reason: "must be finite") }
        guard h.ridge >= 0, h.ridge.isFinite else { throw OptimizerConfigurationError("rllc", field: "ridge", value: "\(h.ridge)", reason: "must be finite and ≥ 0") }
        if let c = h.correctionCap, !(c > 0) { throw OptimizerConfigurationError("rllc", field: "correctionCap", value: "\(c)", reason: "must be > 0 (nil disables it)") }
        hyperparameters = h; self.settings = settings
        var c = RoundedConstants()
        c1 = c.round("c1", h.learningRate)
        c2 = c.round("c2", h.lawRate)
        ridge = c.round("ridge", h.ridge)
        cap = h.correctionCap.map { c.round("correction_cap", $0) }
        propagator = (0..<k).map { i in (0..<k).map { j in c.round("Pr[\(i)][\(j)]", h.rule.propagator[i][j]) } }
        input = (0..<k).map { c.round("b[\($0)]", h.rule.input[$0]) }
        law = (0..<k).map { c.round("L0[\($0)]", h.initialLaw[$0]) }
        constants = c
    }

    @inlinable
    public mutating func step(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int) throws(ShapeError) -> StepReport {
        try checkShapes(weights, layers)
        var report = StepReport()
        let k = unitCount
        let g: [M] = layers.flatMap { $0.gradient.elements.map { W.self == M.self ? $0 as! M : M($0.doubleValue) } }
        let n = g.count
        if units.isEmpty { units = Array(repeating: [M](repeating: .zero, count: n), count: k) }
        guard units[0].count == n else {
            throw ShapeError(operation: "rllc step", detail: "memory holds \(units[0].count) parameters, gradient has \(n)")
        }
        // 2. retrospective correction
        let memoryIsZero = units.allSatisfy { $0.allSatisfy { $0 == .zero } }
        if !memoryIsZero { correctLaw(g, step: t, report: &report) }
        // 3. memory update
        updateMemory(g)
        // 4. step
        var direction = [M](repeating: .zero, count: n)
        for e in 0..<n {
            var s = units[0][e] * law[0]
            for j in 1..<max(1, k) { s = s + units[j][e] * law[j] }
            direction[e] = s
        }
        let fused = settings.elementwise == .fused
        var offset = 0
        for l in weights.indices {
            let count = weights[l].count
            weights[l].withUnsafeMutableElements { wb in
                for e in 0..<count {
                    let d = direction[offset + e]
                    let dw: W = W.self == M.self ? d as! W : W(d.doubleValue)
                    wb[e] = Statement.xmby(fused, wb[e], c1, dw)
                }
            }
            UpdateDiagnostics.checkFinite(weights[l], "W", step: t, layer: l, into: &report)
            offset += count
        }
        monitorStep(direction, g, report: &report)
        return report
    }

    /// Step 2 (K5): `x = (MᵀM + δ_rel τ(MᵀM) I)⁻¹ Mᵀg` by Cholesky in `Moments`; `L ← L + c2 x`.
    @inlinable
    mutating func correctLaw(_ g: [M], step t: Int, report: inout StepReport) {
        let k = unitCount
        let acc = settings.accumulation
        if hyperparameters.expensiveMonitors {
            let gram = Matrix<Double>(rows: k, columns: k) { i, j in zip(units[i], units[j]).reduce(0.0) { $0 + $1.0.doubleValue * $1.1.doubleValue } }
            let kappa = MatrixHealth(gram).conditionNumber
            report.monitor("kappa_MtM", layer: -1, kappa)
            if !(kappa <= 1 / M.unitRoundoff) {
                report.events.append(OptimizerEvent(.illConditioned, step: t, layer: -1, "κ(MᵀM) > 1/u(\(M.formatName))", value: kappa))
            }
        }
        guard hyperparameters.lawRate != 0 else { return }
        var gm = Matrix<M>(rows: k, columns: k)
        for i in 0..<k { for j in i..<k {
            let v = try! Reduction.dot(units[i], units[j], accumulation: acc)
            gm[i, j] = v; gm[j, i] = v
        } }
        let h = try! Matrix<M>(rows: k, columns: 1, elements: (0..<k).map { try! Reduction.dot(units[$0], g, accumulation: acc) })
        let tau = gm.trace / M(Double(k))
        let a = gm.addingToDiagonal(ridge * tau)
        let chol: Matrix<M>
        switch try! a.cholesky(accumulation: acc) {
        case .success(let c): chol = c
        case .failure(let f):
            report.events.append(OptimizerEvent(.choleskyFailure, step: t, layer: -1, "MᵀM + ridge, pivot \(f.pivotIndex): law kept", value: f.pivotValue))
            return
        }
        let y = try! Matrix.solveLowerTriangular(chol, h, accumulation: acc)
        let x = try! Matrix.solveLowerTriangular(chol, y, transposed: true, accumulation: acc)
        var corr = (0..<k).map { c2 * x[$0, 0] }
        report.monitor("x_norm", layer: -1, x.frobeniusNorm)
        if let cap {
            let norm = corr.reduce(M.zero) { $0 + $1 * $1 }.squareRoot()
            if norm > cap {
                let s = cap / norm
                corr = corr.map { $0 * s }
                report.events.append(OptimizerEvent(.clamp, step: t, layer: -1, "‖c2·x‖ capped at \(cap)", value: norm.doubleValue))
            }
        }
        for i in 0..<k { law[i] = law[i] + corr[i] }
        if law.contains(where: { !$0.isFinite }) {
            report.events.append(OptimizerEvent(.nonFinite, step: t, layer: -1, "law L", value: law.first { !$0.isFinite }!.doubleValue))
        }
    }

    /// Step 3: new unit `j` = `Σ_{i: Pr_ij ≠ 0} Pr_ij m_i + b_j g` (terms in order i = 0…k−1, then g).
    @inlinable
    mutating func updateMemory(_ g: [M]) {
        let k = unitCount, n = g.count
        let fused = settings.elementwise == .fused
        var next = units
        for e in 0..<n {
            for j in 0..<k {
                // terms i = 0…k−1 (Pr_ij m_i), then term k (b_j g)
                next[j][e] = Statement.sumOfProducts(fused, k + 1, { $0 < k ? propagator[$0][j] : input[j] },
                                                     { $0 < k ? units[$0][e] : g[e] })
            }
        }
        units = next
    }

    /// §9.7 monitors that do not need the Gram matrix.
    @inlinable
    func monitorStep(_ direction: [M], _ g: [M], report: inout StepReport) {
        for (i, u) in units.enumerated() {
            report.monitor("unit_norm_\(i + 1)", layer: -1, u.reduce(0.0) { $0 + $1.doubleValue * $1.doubleValue }.squareRoot())
        }
        for (i, v) in law.enumerated() { report.monitor("law_\(i + 1)", layer: -1, v.doubleValue) }
        report.monitor("law_norm", layer: -1, law.reduce(0.0) { $0 + $1.doubleValue * $1.doubleValue }.squareRoot())
        var dd = 0.0, gg = 0.0, dg = 0.0
        for (d, gv) in zip(direction, g) { let a = d.doubleValue, b = gv.doubleValue; dd += a * a; gg += b * b; dg += a * b }
        report.monitor("effective_step_ratio", layer: -1, gg > 0 ? abs(c1.doubleValue) * dd.squareRoot() / gg.squareRoot() : .nan)
        report.monitor("cos_step_gradient", layer: -1, dd > 0 && gg > 0 ? dg / (dd * gg).squareRoot() : .nan)
    }
}
