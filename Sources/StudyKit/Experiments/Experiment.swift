import Networks
import Foundation

/// The verdict on a study's prediction, with the evidence it rests on.
public struct Verdict: Sendable, Hashable, Codable {
    /// nil: the study could not decide (e.g. too few finished cells).
    public var reproduced: Bool?
    public var evidence: String

    public var label: String {
        switch reproduced {
        case true?: "reproduced"
        case false?: "not reproduced"
        case nil: "undecided"
        }
    }
}

/// What a study kind contributes to its report besides the shared header and manifest.
public struct StudyFindings: Sendable {
    public var verdict: Verdict
    /// Markdown sections (tables, notes), in order.
    public var sections: [String]
    /// SVG plots by file name (without directory), e.g. `loss-bf16.svg`.
    public var plots: [(name: String, svg: String)]
}

/// A focused numerical experiment: how it expands into cells, runs one, and reads the results.
protocol Experiment: SendableMetatype {
    static var kind: StudyKind { get }
    /// The one verdict the experiment computes: a study's `[verdict] rule` must name it.
    static var verdictRule: String { get }
    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell]
    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult
    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings
}

/// The experiment kinds, by `StudyKind`.
enum ExperimentCatalogue {
    static let all: [any Experiment.Type] = [CholeskyBreakdown.self, IKFACTracking.self, UpdateSwamping.self, LossScalingOverflow.self, KFACExactness.self,
                                                 ShermanMorrisonStream.self, JorgeSeries.self, ShampooRoots.self]

    static func experiment(_ kind: StudyKind) -> (any Experiment.Type)? { all.first { $0.kind == kind } }

    static func cells(_ spec: StudySpec) throws(StudyError) -> [PlannedCell] {
        guard let e = experiment(spec.kind) else {
            throw StudyError(file: spec.file, field: "kind", value: "\"\(spec.kind.rawValue)\"", reason: "this study kind has no experiment registered")
        }
        return try e.cells(spec)
    }

    static func run(_ spec: StudySpec, _ cell: PlannedCell) throws -> CellResult {
        try experiment(spec.kind)!.run(spec, cell)
    }

    static func findings(_ spec: StudySpec, _ results: [CellResult]) -> StudyFindings {
        experiment(spec.kind)!.findings(spec, results)
    }
}

/// Reads `[experiment]` parameters with field paths in errors; unknown keys are rejected by `finish`.
struct ExperimentParameters {
    var reader: TableReader
    init(_ spec: StudySpec) throws(StudyError) {
        reader = try TableReader(file: spec.file, path: "experiment", .table(spec.experiment))
    }
}

extension CellResult {
    /// A result shell for an experiment cell.
    static func experiment(_ cell: PlannedCell) -> CellResult {
        CellResult(key: cell.key, optimizer: cell.label, method: "", precision: cell.precision, seed: cell.seed,
                   parameters: cell.parameters, records: [], events: [], divergenceStep: nil, divergenceReason: nil,
                   stepsCompleted: 0, finalLoss: .nan, finalTestLoss: .nan, finalTestAccuracy: .nan, roundedConstants: [])
    }
}

/// Cell keys for experiments: a hash of the study's canonical text and the cell's own parameters.
func experimentKey(_ spec: StudySpec, _ parts: String) -> String {
    SHA256.hex(Data("\(StudyPlan.keySchema)|\(spec.kind.rawValue)|\(spec.canonical)|\(parts)".utf8))
}
