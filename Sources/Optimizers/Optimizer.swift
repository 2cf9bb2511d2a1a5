import Scalars
import LinearAlgebra
import Networks

/// A per-step monitor value (Docs/Optimizers.md §1.5 and each method's "what to monitor" list).
public struct Monitor: Sendable, Hashable {
    public let name: String
    /// Layer index, or −1 for network-wide values.
    public let layer: Int
    public let value: Double
    public init(_ name: String, layer: Int, _ value: Double) { self.name = name; self.layer = layer; self.value = value }
}

/// A numeric event (§1.4, §10.3): what happened, where, with the value that triggered it.
public struct OptimizerEvent: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case choleskyFailure = "cholesky-failure"
        case nonFinite = "non-finite"
        case negativeEigenvalueClamped = "eigenvalue-clamped"
        case fallback
        case clamp
        case reset
        case stagnation
        case invertibility
        case zeroNormDivision = "zero-norm-division"
        // MKOR/RLLC
        /// Sherman–Morrison denominator ≤ 1 (impossible for an SPD factor), non-finite, or overflowed (§8.8, §10.3).
        case shermanMorrisonDenominator = "sm-denominator"
        /// MKOR-H switched permanently to the first-order optimizer (§8.7).
        case hybridSwitch = "mkor-h-switch"
        /// A Gram matrix whose condition number exceeds 1/u of its type (RLLC κ(MᵀM), §9.7).
        case illConditioned = "ill-conditioned"
        // Shampoo/Jorge
        /// The coupled Newton inverse root (K3) stopped on its 1.2× divergence guard.
        case newtonDivergenceGuard = "newton-divergence-guard"
        /// The coupled Newton inverse root (K3) used all its iterations without reaching the tolerance.
        case newtonIterationCap = "newton-iteration-cap"
        /// Jorge's series argument has spectral radius ρ(Y) > 1, where the truncated series is not a root (§7.4).
        case spectralRadiusAboveOne = "rho-above-one"
        // KFAC-LM
        /// ΔᵀCΔ ≤ 0 or non-finite (impossible in exact arithmetic for Δ ≠ 0, C = F + (λ+η)I): no step size (§4.4 step 4').
        case lmNonPositiveCurvature = "lm-nonpositive-curvature"
        /// The 2×2 system for (α, μ) is singular or gives non-finite values: solved with δ0 = 0 instead (§4.4 step 4').
        case lmSingularSystem = "lm-singular-system"
        /// The reduction ratio ρ is not finite (or a loss for it failed): λ is left unchanged (§4.4 step 6').
        case lmNonFiniteRatio = "lm-nonfinite-rho"
    }
    public let kind: Kind
    public let step: Int
    public let layer: Int
    public let detail: String
    public let value: Double
    public init(_ kind: Kind, step: Int, layer: Int, _ detail: String, value: Double = .nan) {
        self.kind = kind; self.step = step; self.layer = layer; self.detail = detail; self.value = value
    }
    public var description: String { "step \(step) layer \(layer): \(kind.rawValue) \(detail) (\(value))" }
}

/// What one step produced besides the new weights.
public struct StepReport: Sendable {
    public var monitors: [Monitor] = []
    public var events: [OptimizerEvent] = []
    /// Set when the fallback policy is `.abort` and a failure occurred: the cell stops here.
    public var aborted = false
    public init() {}

    @inlinable
    mutating func monitor(_ name: String, layer: Int, _ value: Double) { monitors.append(Monitor(name, layer: layer, value)) }
}

/// What to do when a numeric kernel fails (§1.4): the choice is a setting of the cell, never silent.
public enum FallbackPolicy: String, Sendable, Hashable, CaseIterable, Codable {
    /// Record the failure and stop the cell.
    case abort
    /// Multiply the damping by 10 and retry, up to 3 times; then keep the previous inverse.
    case increaseDamping = "increase-damping"
    /// Keep the previous inverse (identity before the first success).
    case keepPrevious = "keep-previous"
    /// Use the raw gradient for this layer until the next successful refresh.
    case rawGradient = "raw-gradient"
}

/// An optimizer generic over a precision policy.
///
/// To add one: write a struct conforming to `Optimizer` in its own file citing the Docs/Optimizers.md
/// section it implements; round every hyperparameter once with `RoundedConstants` in `init`; convert
/// statistics into `Policy.Factors` and gradients into `Policy.Moments` through `convert`; emit the
/// section's monitors and events in the `StepReport`; never throw on a numeric failure — record it and
/// apply the `FallbackPolicy`; export and import every piece of state that the next step reads
/// (`OptimizerState`, in a `+State.swift` file). Then register its name in StudyKit's optimizer catalogue.
///
/// StudyKit picks the policy at run time, so `step`, the state export and import, and everything they
/// call are `@inlinable`, with the internal stored properties they touch `@usableFromInline`: that is
/// what lets StudyKit specialise them for its policies (unspecialised, a step runs about 20× slower).
/// `init` is not: it runs once per cell and writes the read-only `constants` (`public private(set)`),
/// whose setter inlinable code could not use. A read-only property that `step` updates is a public
/// computed property over `@usableFromInline` storage (`KFAC.statisticUpdates`).
public protocol Optimizer: Sendable {
    associatedtype Policy: PrecisionPolicy
    /// Stable name used in reports, e.g. `kfac-f`, `singd-dense`, `adamw`.
    var name: String { get }
    /// Every hyperparameter as rounded to its role's type.
    var constants: RoundedConstants { get }
    /// One step at `t` (1-based): reads each layer's statistics, updates `weights` in place.
    /// Throws only on shape mismatches between `weights` and `layers` (a programming error), never on
    /// numeric failures.
    mutating func step(weights: inout [Matrix<Policy.Weights>], layers: [LayerStatistics<Policy.Weights>], step t: Int) throws(ShapeError) -> StepReport

    /// Everything that influences the next step, policy-free (see `OptimizerState`: exact from every
    /// format contained in binary64). Exporting has no side effect and draws no stochastic-rounding bits.
    func exportState() -> OptimizerState
    /// Replaces the whole state by one that the *same configuration* exported, in this or another
    /// policy, so that the next step continues from it (each value rounded once into its role's type:
    /// exact into `Double` and `BigFloat`). Throws, leaving the optimizer unchanged, when the state is
    /// another method's, or an entry is missing, has the wrong count or shape, or is not part of this
    /// configuration's state — never on the values themselves (NaN and ∞ are imported as they are).
    mutating func importState(_ state: OptimizerState) throws(OptimizerStateError)
}

/// Diagnostics shared by every method.
public enum UpdateDiagnostics {
    /// cos∠(Δ, ∇W) in Double (must be > 0 for a descent direction of an SPD preconditioner).
    @inlinable
    public static func cosine<T: Scalar, U: Scalar>(_ a: Matrix<T>, _ b: Matrix<U>) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a.elements, b.elements) {
            let xd = x.doubleValue, yd = y.doubleValue
            dot += xd * yd; na += xd * xd; nb += yd * yd
        }
        return na > 0 && nb > 0 ? dot / (na * nb).squareRoot() : .nan
    }

    /// Fraction of entries left bit-identical by an update that should have changed them (§5.6).
    @inlinable
    public static func stagnation<T: Scalar>(before: Matrix<T>, after: Matrix<T>, intended: Matrix<T>) -> Double {
        var stuck = 0, moving = 0
        for i in 0..<before.count where intended.elements[i] != 0 {
            moving += 1
            if before.elements[i] == after.elements[i] { stuck += 1 }
        }
        return moving == 0 ? 0 : Double(stuck) / Double(moving)
    }

    /// Records a non-finite event for the first non-finite entry of `m`, if any.
    @inlinable
    public static func checkFinite<T: Scalar>(_ m: Matrix<T>, _ tensor: String, step: Int, layer: Int, into report: inout StepReport) {
        if let i = m.elements.firstIndex(where: { !$0.isFinite }) {
            report.events.append(OptimizerEvent(.nonFinite, step: step, layer: layer, "\(tensor)[\(i)]", value: m.elements[i].doubleValue))
        }
    }
}

@inlinable
func checkShapes<T: Scalar>(_ weights: [Matrix<T>], _ layers: [LayerStatistics<T>]) throws(ShapeError) {
    guard weights.count == layers.count else {
        throw ShapeError(operation: "optimizer step", detail: "\(weights.count) weight matrices, \(layers.count) layer statistics")
    }
    for (w, s) in zip(weights, layers) where w.rows != s.gradient.rows || w.columns != s.gradient.columns {
        throw ShapeError(operation: "optimizer step", w, s.gradient)
    }
}
