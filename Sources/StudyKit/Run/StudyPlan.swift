import Foundation
import Networks

/// A cell of a study: what to compute, with a key that is a hash of everything that decides its result.
public struct PlannedCell: Sendable, Hashable {
    public var key: String
    public var label: String
    public var optimizer: OptimizerConfig?
    public var precision: String
    public var seed: Int
    /// Experiment cells: their parameters (the runner does not interpret them).
    public var parameters: [String: String]
}

/// The expanded grid of a study, in the study file's grid order (optimizers × seeds × precisions, or
/// the experiment's own order). Reports follow this order, so their bytes do not depend on the cell
/// keys — which contain the executable's hash and so change with every build.
public struct StudyPlan: Sendable {
    public let spec: StudySpec
    public let cells: [PlannedCell]
    /// Reference trajectories needed, by key: (optimizer, seed).
    public let references: [String: (OptimizerConfig, Int)]

    /// Part of every cell key: the version of what a key describes. Keys identify a cell by its content
    /// only, never by the build, because a key also seeds the cell's stochastic-rounding stream: a key
    /// that changed with the executable would change SR results with every rebuild.
    public static let keySchema = "mantissa-cell-v2"

    /// The SHA-256 of the running executable. The cache files a cell under (build, key), so a cache
    /// written by other code (any edit to the library, a new toolchain) is never reused: the stale
    /// entry is simply not found and the cell is recomputed. Within one build, a rerun resumes.
    public static let buildIdentity: String = {
        (try? AtomicFile.read("/proc/self/exe")).map { SHA256.hex($0) } ?? "unknown-executable"
    }()

    public init(_ spec: StudySpec) throws(StudyError) {
        self.spec = spec
        var cells = [PlannedCell]()
        var refs = [String: (OptimizerConfig, Int)]()
        if let t = spec.training {
            let shared = "\(Self.keySchema)|\(t.problem)|steps=\(t.steps)|batch=\(t.batchSize)|div=\(t.divergenceFactor)|rec=\(t.recordEvery)|eval=\(t.evaluateEvery)|acc=\(t.accumulation)|ew=\(t.elementwise)|mon=\(t.monitors)|ref=\(t.referenceBits)/\(t.referenceSteps)"
            for o in t.optimizers {
                let oText = "\(o.method)|" + o.parameters.keys.sorted().map { "\($0)=\(o.parameters[$0]!)" }.joined(separator: ",")
                for seed in t.seeds {
                    if t.referenceSteps > 0 {
                        refs[SHA256.hex(Data("ref|\(shared)|\(oText)|seed=\(seed)".utf8))] = (o, seed)
                    }
                    for p in t.precisions {
                        let key = SHA256.hex(Data("cell|\(shared)|\(oText)|\(p)|seed=\(seed)".utf8))
                        cells.append(PlannedCell(key: key, label: "\(o.label) | \(p) | seed \(seed)", optimizer: o, precision: p, seed: seed, parameters: [:]))
                    }
                }
            }
        } else {
            cells = try ExperimentCatalogue.cells(spec)
        }
        self.cells = cells
        self.references = refs
    }

    public func referenceKey(_ o: OptimizerConfig, seed: Int) -> String? {
        references.first { $0.value.0 == o && $0.value.1 == seed }?.key
    }

    /// The cells of shard `index` (1-based) of `count`: every `count`-th cell of the key-sorted list
    /// (keys spread a grid's expensive corners over the shards; every job of an array runs one build).
    public func shard(_ index: Int, of count: Int) -> [PlannedCell] {
        cells.sorted { $0.key < $1.key }.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }
}
