import Scalars
import LinearAlgebra
import Networks

/// MKOR (Mozaffari, Li, Zhang, Mehri Dehnavi 2023), Docs/Optimizers.md §8.
///
/// Keeps only the *inverse* Kronecker factors `L⁻` (`d_o×d_o`, paired with the clamped batch mean
/// `q` of ĝ) and `R⁻` (`d_i×d_i`, paired with the clamped batch mean `r` of ā), updated by
/// Sherman–Morrison (K4) every `inverseInterval` steps (and every step during warm-up):
///
/// * **`mkor`** (§8.4, the reference code, default): a set reset flag replaces the factor by `I`
///   (§8.6 fidelity; `resetMode = .blend` gives the unreachable `0.9X + 0.1I` instead); otherwise
///   `P = 0.95X + 0.05I`, `X ← P − (Pv)(vᵀP)/(1 + vᵀPv)`, and `‖X‖_max > 2` sets both flags of the layer.
///   Flags start set, so the first update only resets.
/// * **`mkor-ema`** (§8.5, the consistent reading of the paper): the stabilizer `X ← 0.9X + 0.1I` when
///   `‖X‖_max > 2`, then the exact inverse of `γX⁻¹ + (1−γ)vvᵀ` (scaled Sherman–Morrison).
///
/// Then `Δ = L⁻ ∇W R⁻`, `ν = ‖∇W‖_F/‖Δ‖_F` (0/0 keeps ∇W, as the code's NaN check; x/0 is not
/// caught, §8.6), and the inner optimizer (§3.1 SGD or §3.2 Adam, the existing structs) steps on `ν Δ`.
/// **MKOR-H** (§8.7, option `hybrid`): the runner feeds per-step losses through `observe(loss:)`; after
/// `patience` consecutive windows with relative decrease below `threshold`, every layer becomes first-order.
///
/// Precision policy: `L⁻`, `R⁻`, the vectors `r`, `q` and the product `Δ` live in `Policy.Inverses`
/// (MKOR keeps no factor, only inverses — the reference code's `half_precision` stores them in fp16
/// and forms Δ in fp32, i.e. `w=fp16,i=fp16` vs an fp32 product is a policy choice of the cell); the
/// batch means and ν in `Weights` (scalars from reductions are held in the working type, §1.3 item 4);
/// inner-optimizer state as SGD/Adam keep it (`Moments`). Reductions follow `settings.accumulation`;
/// elementwise statements follow `settings.elementwise` through `Statement` (§1.3 item 2): the blend's
/// diagonal `a·x + b`, the EMA denominator `1 + ((1−γ)/γ)·vᵀPv` and every Sherman–Morrison entry (per-op:
/// the library's `ShermanMorrison` kernel operation for operation; fused: evaluated in the wider of Float and
/// `Inverses`, rounded once), and the inner optimizer's own statements. Single operations (`a·x` off the
/// diagonal, the batch mean's `/N`, `ν·Δ`) are the same under both settings.
///
/// Monitors (§8.9): `sm_denominator_R`/`_L`, `max_entry_Rinv`/`_Linv`, `reset_count`, `nu`,
/// `cos_update_gradient`, `update_ratio`; with `expensiveMonitors`: `lambda_min_Rinv`/`_Linv`,
/// `sym_err_Rinv`/`_Linv` and `inv_res_Rinv`/`_Linv` against the exact factor `F` whose inverse the
/// recursion tracks, kept in Double from the rounded vectors (code: `F ← (0.95F⁻¹ + 0.05I)⁻¹ + vvᵀ`;
/// EMA: `F ← γF + (1−γ)vvᵀ`; resets and stabilizers applied to `F` as to `X`).
/// Events (§10.3): `sm-denominator` (≤ 1, overflow, non-finite), `reset` (trigger fired / stabilizer
/// applied), `clamp` (entries clamped at ±100), `zero-norm-division`, `mkor-h-switch`, `non-finite`.
public struct MKOR<Policy: PrecisionPolicy>: Optimizer {
    public typealias W = Policy.Weights
    public typealias I = Policy.Inverses

    public typealias Variant = MKORVariant
    public typealias ResetMode = MKORResetMode

    /// The first-order optimizer that takes the final step (§8.3 `optimizer`).
    public enum InnerOptimizer: Sendable, Hashable {
        case sgd(SGD<Policy>.Hyperparameters)
        case adam(Adam<Policy>.Hyperparameters)
    }

    public typealias HybridRule = MKORHybridRule

    public struct Hyperparameters: Sendable, Hashable {
        public var variant: Variant = .code
        /// `inv_freq` f: factor updates at `(t − 1) mod f = 0`.
        public var inverseInterval: Int = 10
        /// Steps `t ≤ warmupSteps` update the factors every step.
        public var warmupSteps: Int = 0
        /// Entries of ā_n, ĝ_n are clamped to ±this before averaging; nil disables the clamp.
        public var clippingValue: Double? = 100
        /// Weight of `X` in the code variant's in-update blend `0.95X + 0.05I` (hard-coded in the code).
        public var codeBlend: Double = 0.95
        /// `stat_decay` γ: the EMA weight of the mkor-ema variant (unused by `mkor`, as in the code).
        public var statDecay: Double = 0.95
        /// Reset/stabilizer trigger on `‖X‖_max`.
        public var resetThreshold: Double = 2
        public var resetMode: ResetMode = .identity
        /// Weight of `I` in the reset blend (code 0.1) and in the EMA stabilizer (paper ζ = 1 − 0.1 = 0.9).
        public var stabilizationFactor: Double = 0.1
        public var inner: InnerOptimizer = .sgd(.init(learningRate: 0.1, momentum: 0.9))
        /// Layers kept first-order (`sgd_layers`).
        public var sgdLayers: Set<Int> = []
        /// MKOR-H switch rule; nil runs plain MKOR.
        public var hybrid: HybridRule? = nil
        /// λ_min, symErr and invRes against the Double shadow factor (eigendecompositions in Double).
        public var expensiveMonitors = true
        @inlinable
        public init() {}
    }

    public let hyperparameters: Hyperparameters
    public let settings: ArithmeticSettings
    public private(set) var constants = RoundedConstants()
    /// `L⁻` per layer (`d_o×d_o`).
    public var inverseL: [Matrix<I>] = []
    /// `R⁻` per layer (`d_i×d_i`).
    public var inverseR: [Matrix<I>] = []
    /// Reset flags `(R, L)` per layer; both start set (§8.4).
    public var resetFlags: [(r: Bool, l: Bool)] = []
    /// Resets (code) or stabilizer applications (EMA) per layer so far.
    @inlinable public var resetCounts: [Int] { _resetCounts }
    @usableFromInline var _resetCounts: [Int] = []
    /// The step at which MKOR-H switched, if it has.
    @inlinable public var switchStep: Int? { _switchStep }
    @usableFromInline var _switchStep: Int? = nil
    @usableFromInline var shadowL: [Matrix<Double>] = []
    @usableFromInline var shadowR: [Matrix<Double>] = []
    @usableFromInline var hybridState = HybridState()
    @usableFromInline var sgd: SGD<Policy>? = nil
    @usableFromInline var adam: Adam<Policy>? = nil
    @usableFromInline let clip: W
    @usableFromInline let keepBlend: I, identityBlend: I          // 0.95, 0.05
    @usableFromInline let keepStabilizer: I, identityStabilizer: I // 0.9, 0.1
    @usableFromInline let emaScale: I, emaCorrection: I, emaWeight: I

    @inlinable
    public var name: String { hyperparameters.variant.rawValue + (hyperparameters.hybrid == nil ? "" : "-h") }

    /// Rounds every constant once (§1.3); throws for an out-of-range hyperparameter, naming it.
    public init(_ h: Hyperparameters = .init(), settings: ArithmeticSettings = .init()) throws(OptimizerConfigurationError) {
        func fail(_ field: String, _ value: Any, _ reason: String) -> OptimizerConfigurationError {
            OptimizerConfigurationError("mkor", field: field, value: "\(value)", reason: reason)
        }
        guard h.inverseInterval >= 1 else { throw fail("inverseInterval", h.inverseInterval, "must be ≥ 1") }
        guard h.warmupSteps >= 0 else { throw fail("warmupSteps", h.warmupSteps, "must be ≥ 0") }
        if let c = h.clippingValue, !(c > 0) { throw fail("clippingValue", c, "must be > 0 (nil disables the clamp)") }
        guard (0...1).contains(h.codeBlend) else { throw fail("codeBlend", h.codeBlend, "must lie in [0, 1]") }
        guard h.statDecay > 0, h.statDecay <= 1 else { throw fail("statDecay", h.statDecay, "must lie in (0, 1]") }
        guard (0...1).contains(h.stabilizationFactor) else { throw fail("stabilizationFactor", h.stabilizationFactor, "must lie in [0, 1]") }
        guard h.resetThreshold > 0 else { throw fail("resetThreshold", h.resetThreshold, "must be > 0") }
        if let r = h.hybrid {
            guard r.windowSteps >= 1 else { throw fail("hybrid.windowSteps", r.windowSteps, "must be ≥ 1") }
            guard r.patience >= 1 else { throw fail("hybrid.patience", r.patience, "must be ≥ 1") }
        }
        hyperparameters = h; self.settings = settings
        var c = RoundedConstants()
        clip = c.round("clipping_value", h.clippingValue ?? 0)
        (keepBlend, identityBlend) = c.emaPair("code_blend", h.codeBlend)
        (keepStabilizer, identityStabilizer) = c.emaPair("1-stabilization_factor", 1 - h.stabilizationFactor)
        let e = try! ShermanMorrison.emaConstants(decay: h.statDecay)   // γ validated above
        emaScale = c.round("1/stat_decay", e.scale)
        emaCorrection = c.round("(1-stat_decay)/stat_decay^2", e.correctionScale)
        emaWeight = c.round("(1-stat_decay)/stat_decay", e.weight)
        let innerConstants: RoundedConstants
        switch h.inner {
        case .sgd(let s): let o = SGD<Policy>(s, settings: settings); sgd = o; innerConstants = o.constants
        case .adam(let a): let o = Adam<Policy>(a, settings: settings); adam = o; innerConstants = o.constants
        }
        for entry in innerConstants.entries { _ = c.round("inner." + entry.name, entry.value, to: W.self) }
        constants = c
    }

    /// MKOR-H input: the mean training loss of one step, accumulated in Double (§8.7). No effect
    /// without a `hybrid` rule or after the switch.
    @inlinable
    public mutating func observe(loss: Double) {
        guard let rule = hyperparameters.hybrid, switchStep == nil else { return }
        hybridState.observe(loss, rule: rule)
    }

    @inlinable
    public mutating func step(weights: inout [Matrix<W>], layers: [LayerStatistics<W>], step t: Int) throws(ShapeError) -> StepReport {
        try checkShapes(weights, layers)
        var report = StepReport()
        let h = hyperparameters
        if inverseL.isEmpty {
            inverseL = weights.map { .identity($0.rows) }
            inverseR = weights.map { .identity($0.columns) }
            shadowL = weights.map { .identity($0.rows) }
            shadowR = weights.map { .identity($0.columns) }
            resetFlags = Array(repeating: (true, true), count: weights.count)
            _resetCounts = Array(repeating: 0, count: weights.count)
        }
        if switchStep == nil, hybridState.switchRequested {
            _switchStep = t
            report.events.append(OptimizerEvent(.hybridSwitch, step: t, layer: -1,
                "relative loss decrease below \(h.hybrid!.threshold) for \(h.hybrid!.patience) windows", value: hybridState.lastRelativeDecrease))
        }
        let secondOrder = switchStep == nil
        // 1. factor updates
        if secondOrder && ((t - 1) % h.inverseInterval == 0 || t <= h.warmupSteps) {
            for l in weights.indices where !h.sgdLayers.contains(l) {
                try updateFactors(layer: l, statistics: layers[l], step: t, report: &report)
            }
        }
        // 2–3. precondition and rescale
        var rescaled = [Matrix<W>]()
        for l in weights.indices {
            let grad = layers[l].gradient
            guard secondOrder && !h.sgdLayers.contains(l) else { rescaled.append(grad); continue }
            rescaled.append(try preconditioned(grad, layer: l, step: t, report: &report))
        }
        // 4. inner optimizer
        let stats = zip(layers, rescaled).map {
            LayerStatistics(inputs: $0.inputs, outputGradients: $0.outputGradients, outputGradientScale: $0.outputGradientScale, gradient: $1)
        }
        let inner: StepReport
        if var o = sgd { inner = try o.step(weights: &weights, layers: stats, step: t); sgd = o }
        else { var o = adam!; inner = try o.step(weights: &weights, layers: stats, step: t); adam = o }
        report.monitors += inner.monitors
        report.events += inner.events
        return report
    }

    /// Steps 2–3: `Δ = L⁻ ∇W R⁻` in `Inverses`, then `ν = ‖∇W‖_F / ‖Δ‖_F` in `Weights` and `ν Δ`.
    @inlinable
    mutating func preconditioned(_ grad: Matrix<W>, layer l: Int, step t: Int, report: inout StepReport) throws(ShapeError) -> Matrix<W> {
        let acc = settings.accumulation
        let gi: Matrix<I> = convert(grad)
        let delta = try Matrix.product(inverseL[l], .none, try Matrix.product(gi, .none, inverseR[l], .none, accumulation: acc), .none, accumulation: acc)
        let dw: Matrix<W> = convert(delta)
        let gNorm = try Reduction.dot(grad.elements, grad.elements, accumulation: acc).squareRoot()
        let dNorm = try Reduction.dot(dw.elements, dw.elements, accumulation: acc).squareRoot()
        let nu = gNorm / dNorm
        report.monitor("nu", layer: l, nu.doubleValue)
        report.monitor("cos_update_gradient", layer: l, UpdateDiagnostics.cosine(dw, grad))
        report.monitor("update_ratio", layer: l, grad.frobeniusNorm > 0 ? dw.frobeniusNorm / grad.frobeniusNorm : .nan)
        if dNorm == 0 {
            report.events.append(OptimizerEvent(.zeroNormDivision, step: t, layer: l,
                nu.isNaN ? "ν = 0/0: gradient kept unchanged" : "ν = ‖∇W‖/0 = ∞ (not caught, as the reference code)", value: gNorm.doubleValue))
        }
        if nu.isNaN { return grad }
        let out = dw.scaled(by: nu)
        UpdateDiagnostics.checkFinite(out, "nu*delta", step: t, layer: l, into: &report)
        return out
    }
}

/// MKOR's variants (§8.4 code, §8.5 paper EMA).
public enum MKORVariant: String, Sendable, Hashable, CaseIterable, Codable {
    case code = "mkor"
    case ema = "mkor-ema"
}

/// What a set reset flag does in the code variant (§8.6).
public enum MKORResetMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// `X ← I`: what the reference code actually runs (fidelity, default).
    case identity = "reset-to-identity"
    /// `X ← (1 − s)X + sI` with `s = stabilizationFactor`: the blend the code intended.
    case blend
}

/// MKOR-H's switch rule (§8.7, H): every `windowSteps` observed losses form a window mean `ℓ̄_j`;
/// `patience` consecutive windows with `(ℓ̄_{j−1} − ℓ̄_j)/ℓ̄_{j−1} < threshold` switch permanently.
public struct MKORHybridRule: Sendable, Hashable {
    public var windowSteps: Int = 100
    public var threshold: Double = 1e-3
    public var patience: Int = 3
    public init(windowSteps: Int = 100, threshold: Double = 1e-3, patience: Int = 3) {
        self.windowSteps = windowSteps; self.threshold = threshold; self.patience = patience
    }
}
