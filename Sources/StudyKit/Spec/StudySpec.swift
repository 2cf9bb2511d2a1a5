import Networks
import LinearAlgebra

/// What kind of computation a study runs. `training` trains networks under optimizer × precision ×
/// seed; the others are focused numerical experiments behind a paper claim (Docs/Claims.md).
public enum StudyKind: String, Sendable, Hashable, CaseIterable, Codable {
    case training
    /// R1: one-step discrepancy of IKFAC against KFAC as β1 shrinks (slope in log–log).
    case ikfacTracking = "ikfac-tracking"
    /// R3: probability of Cholesky breakdown against κ·u.
    case choleskyBreakdown = "cholesky-breakdown"
    /// R7: bf16 weight writes (nearest, stochastic, Kahan, fp32 master) on a convex problem.
    case updateSwamping = "update-swamping"
    /// R8: fp16 overflow in factor and second-moment formation under loss scaling.
    case lossScalingOverflow = "loss-scaling-overflow"
    /// R10: KFAC blocks against the exact GGN of deep linear networks.
    case kfacExactness = "kfac-exactness"
    /// R4: MKOR's Sherman–Morrison inverse factors over a vector stream in low precision.
    case shermanMorrisonStream = "sherman-morrison-stream"
    /// R5: Jorge's truncated series against the exact inverse fourth root.
    case jorgeSeries = "jorge-series"
    /// R6: residuals of Shampoo's inverse fourth roots against κ·u.
    case shampooRoots = "shampoo-roots"
}

/// The data and the network of a training study.
public struct ProblemSpec: Sendable, Hashable, Codable {
    /// `digits`, `breast_cancer`, `synthetic-classification`, `synthetic-regression`.
    public var dataset: String
    /// Synthetic sets: samples, input dimension, classes or outputs, input covariance condition number.
    public var samples: Int
    public var features: Int
    public var outputs: Int
    public var condition: Double
    /// Standardise features with training-split statistics (`false` keeps breast-cancer's raw scales).
    public var normalize: Bool
    public var trainFraction: Double
    public var hidden: [Int]
    public var activation: Activation
    public var loss: LossFunction
    public var bias: Bool
    public var initialization: MLPSpec.Initialization
}

/// One optimizer configuration after sweep expansion: a registered name and its hyperparameters.
public struct OptimizerConfig: Sendable, Hashable, Codable {
    /// Catalogue name (`kfac`, `singd`, `adamw`, …).
    public var method: String
    /// Label in reports, e.g. `kfac damping=0.01`.
    public var label: String
    /// Hyperparameters by their study-file key, numbers and strings as given (sorted for hashing).
    public var parameters: [String: HyperparameterValue]
}

/// A hyperparameter value from a study file.
public enum HyperparameterValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case number(Double)
    case text(String)
    case flag(Bool)

    public var description: String {
        switch self {
        case .number(let d): NumberText.short(d)
        case .text(let s): s
        case .flag(let b): b ? "true" : "false"
        }
    }
}

/// The training part of a study.
public struct TrainingSpec: Sendable, Hashable, Codable {
    public var problem: ProblemSpec
    public var steps: Int
    public var batchSize: Int
    public var seeds: [Int]
    /// A cell diverges at the first non-finite loss or a loss above `divergenceFactor ×` its initial loss.
    public var divergenceFactor: Double
    /// Steps between recorded monitor values (loss and drift are recorded every step).
    public var recordEvery: Int
    /// Steps between test-set evaluations.
    public var evaluateEvery: Int
    public var precisions: [String]
    public var accumulation: String
    public var elementwise: String
    public var optimizers: [OptimizerConfig]
    /// MPFR bits of the reference, and how many steps it shadows (0: no reference).
    public var referenceBits: Int
    public var referenceSteps: Int
    /// Monitor names (or prefixes ending in `*`) to keep in the report; loss, accuracy, drift and the
    /// local error are always kept.
    public var monitors: [String]
    /// Steps between one-step local errors within the reference's range (each costs one MPFR step
    /// per cell, so a whole-trajectory reference samples them).
    public var localErrorEvery: Int = 1
    /// Dynamic loss scaling, for the precisions it names.
    public var lossScaling: LossScalingSpec = .none
    /// The tuning stage (`[tuning]`), if the study has one.
    public var tuning: TuningSpec? = nil
    /// The precisions of `precisions` declared role by role in the study file (the others are catalogue names).
    public var declaredPrecisions: [RolePrecision] = []

    /// The declared precision named `name`, if it is one.
    public func declared(_ name: String) -> RolePrecision? { declaredPrecisions.first { $0.name == name } }

    /// What a cell key records of a precision: the name of a catalogue policy (fixed by the build), or a
    /// declared precision's name with every role's parameters (so editing a format recomputes its cells).
    public func precisionKeyText(_ name: String) -> String {
        guard let d = declared(name) else { return name }
        return "\(name){\(d.summary)}"
    }

    /// A one-line description of a precision for reports.
    public func precisionSummary(_ name: String) -> String {
        declared(name).map { "declared: \($0.summary)" } ?? PolicyCatalogue.entry(named: name)?.summary ?? name
    }

    /// The unit roundoff of a precision's weights.
    public func weightUnitRoundoff(_ name: String) -> Double {
        declared(name)?.weights.unitRoundoff ?? PolicyCatalogue.entry(named: name)?.weightUnitRoundoff ?? .nan
    }

    /// Calls `visitor.visit(P.self)` for precision `name`: a catalogue policy, or a declared one with its
    /// formats in the calling thread's `RuntimeFormats` table.
    public func visitPrecision<V: PolicyVisitor>(_ name: String, _ visitor: V) throws -> V.Output {
        if let d = declared(name) { return try d.visit(visitor) }
        return try PolicyCatalogue.visit(name, visitor)
    }
}

/// Dynamic loss scaling as mixed-precision training does it (`[training] loss_scaling = "dynamic"`):
/// the loss gradient is multiplied by S before the backward pass and divided out of the gradients;
/// a non-finite gradient halves S and skips the step; `growthInterval` finite steps in a row double S.
public struct LossScalingSpec: Sendable, Hashable, Codable {
    public var dynamic: Bool
    public var initialScale: Double
    public var growthInterval: Int
    /// The precisions trained with it (typically those with fp16 weights, whose range needs it).
    public var precisions: [String]
    /// Where S leaves the backward signals the curvature statistics see: before them (the usual
    /// order), or after (KFAC's G formed from the scaled pass carries S², claim R8 in Docs/Claims.md).
    public var unscale: LossScaling.UnscalePoint = .beforeStatistics

    public static let none = LossScalingSpec(dynamic: false, initialScale: 1, growthInterval: 1, precisions: [])

    public func applies(to precision: String) -> Bool { dynamic && precisions.contains(precision) }

    /// Part of the key of a cell it applies to.
    var keyText: String { "|dls=\(initialScale)/\(growthInterval)" + (unscale == .beforeStatistics ? "" : "/\(unscale.rawValue)") }
}

/// A parsed, validated study.
public struct StudySpec: Sendable, Hashable {
    public var name: String
    public var file: String
    public var title: String
    public var claim: String
    public var question: String
    public var prediction: String
    /// "as published" or "as specified here" (Docs/StudyFormat.md, Docs/Claims.md: what the claim could be checked against).
    public var provenance: String
    public var kind: StudyKind
    public var training: TrainingSpec?
    /// Parameters of a focused experiment, validated by the experiment itself.
    public var experiment: [String: ConfigValue]
    /// How the verdict is decided, in words (the rule itself lives with the study kind).
    public var verdictRule: [String: ConfigValue]
    /// The file's canonical text (sorted keys, quick tier applied): what the configuration hash covers.
    public var canonical: String
}
