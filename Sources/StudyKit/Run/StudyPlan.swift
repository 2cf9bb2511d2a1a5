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
    /// A cell of the tuning stage: trained without the MPFR shadow, only to choose a hyperparameter.
    public var tuning = false
}

/// The expanded grid of a study, in the study file's grid order (optimizers × seeds × precisions, or
/// the experiment's own order). Reports follow this order, so their bytes do not depend on the cell
/// keys — which contain the executable's hash and so change with every build.
///
/// A study with a `[tuning]` stage is planned in two steps: first its tuning cells (`tuningCells`,
/// every candidate × seed in the tuning precision); once their results exist, `resolved(with:)`
/// keeps one configuration per group and plans the cells proper. Until then `cells` is empty.
public struct StudyPlan: Sendable {
    public let spec: StudySpec
    public let cells: [PlannedCell]
    /// Reference trajectories needed, by key: (optimizer, seed).
    public let references: [String: (OptimizerConfig, Int)]
    /// The tuning stage's cells (empty without `[tuning]`).
    public let tuningCells: [PlannedCell]
    public let tuningGroups: [TuningGroup]
    /// The outcome of the tuning stage, once resolved (in group order).
    public let tuningChoices: [TuningChoice]

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
        if let t = spec.training {
            if let tuning = t.tuning {
                let groups = TuningStage.groups(t.optimizers, parameter: tuning.parameter)
                tuningGroups = groups
                tuningCells = groups.flatMap(\.candidates).flatMap { o in
                    t.seeds.map { seed in
                        PlannedCell(key: Self.cellKey(t, o, precision: tuning.precision, seed: seed, stage: "tune"),
                                    label: "\(o.label) | \(tuning.precision) | seed \(seed) (tuning)", optimizer: o,
                                    precision: tuning.precision, seed: seed, parameters: [:], tuning: true)
                    }
                }   // the first round; `tuningProgress` plans the rounds that continue a grid
                (cells, references, tuningChoices) = ([], [:], [])
            } else {
                (cells, references) = Self.trainingCells(t, t.optimizers)
                (tuningCells, tuningGroups, tuningChoices) = ([], [], [])
            }
        } else {
            cells = try ExperimentCatalogue.cells(spec)
            (references, tuningCells, tuningGroups, tuningChoices) = ([:], [], [], [])
        }
    }

    private init(spec: StudySpec, cells: [PlannedCell], references: [String: (OptimizerConfig, Int)],
                 tuningCells: [PlannedCell], tuningGroups: [TuningGroup], tuningChoices: [TuningChoice]) {
        self.spec = spec; self.cells = cells; self.references = references
        self.tuningCells = tuningCells; self.tuningGroups = tuningGroups; self.tuningChoices = tuningChoices
    }

    /// Whether the cells proper still wait for the tuning stage.
    public var awaitsTuning: Bool { !tuningGroups.isEmpty && tuningChoices.isEmpty }

    /// Cells once resolved: a resolved plan's count, else what resolving will give (groups × seeds ×
    /// precisions), so `list` can say it before anything ran.
    public var plannedCellCount: Int {
        guard awaitsTuning, let t = spec.training else { return cells.count }
        return tuningGroups.count * t.seeds.count * t.precisions.count
    }

    /// Where the tuning stage stands, given the results that exist.
    public enum TuningProgress {
        /// A round of the stage lacks results: these are its cells (some may exist already).
        case needs([PlannedCell])
        /// Every round has its results: the final groups (with any added candidates), each group's choice
        /// and every tuning cell of every round.
        case complete(groups: [TuningGroup], chosen: [OptimizerConfig], choices: [TuningChoice], cells: [PlannedCell])
    }

    /// The tuning cells of `candidates` (every seed, in the tuning precision).
    func tuningCells(_ t: TrainingSpec, _ tuning: TuningSpec, _ candidates: [OptimizerConfig]) -> [PlannedCell] {
        candidates.flatMap { o in
            t.seeds.map { seed in
                PlannedCell(key: Self.cellKey(t, o, precision: tuning.precision, seed: seed, stage: "tune"),
                            label: "\(o.label) | \(tuning.precision) | seed \(seed) (tuning)", optimizer: o,
                            precision: tuning.precision, seed: seed, parameters: [:], tuning: true)
            }
        }
    }

    /// Replays the tuning stage on `results`: the first round is the study's grid; while a group's choice
    /// sits at an end of its grid, the next round trains the candidate that continues it
    /// (`TuningStage.continuation`). Deterministic: the same results always give the same rounds.
    public func tuningProgress(with results: [String: CellResult]) -> TuningProgress {
        guard let t = spec.training, let tuning = t.tuning else { return .complete(groups: [], chosen: [], choices: [], cells: []) }
        var groups = tuningGroups, all = tuningCells, round = tuningCells
        while true {
            guard round.allSatisfy({ results[$0.key] != nil }) else { return .needs(round) }
            var chosen = [OptimizerConfig](), choices = [TuningChoice](), added = [OptimizerConfig]()
            for (i, g) in groups.enumerated() {
                let perCandidate = g.candidates.map { o in
                    t.seeds.map { results[Self.cellKey(t, o, precision: tuning.precision, seed: $0, stage: "tune")]! }
                }
                let (config, choice) = TuningStage.choose(g, cells: perCandidate, spec: tuning, steps: t.steps)
                if let next = TuningStage.continuation(g, choice: choice, spec: tuning) {
                    groups[i].candidates.append(next); groups[i].added += 1; added.append(next)
                }
                chosen.append(config); choices.append(choice)
            }
            if added.isEmpty { return .complete(groups: groups, chosen: chosen, choices: choices, cells: all) }
            round = tuningCells(t, tuning, added)
            all += round
        }
    }

    /// The plan with the tuning stage decided from `results` (which must hold every cell of every round).
    public func resolved(with results: [String: CellResult]) throws(StudyError) -> StudyPlan {
        guard awaitsTuning, let t = spec.training else { return self }
        guard case let .complete(groups, chosen, choices, allTuningCells) = tuningProgress(with: results) else {
            throw StudyError(file: spec.file, field: "tuning", value: "\(spec.name)",
                             reason: "the tuning stage is incomplete (run the remaining shards, then run again)")
        }
        let (cells, refs) = Self.trainingCells(t, chosen)
        // From here on the study's configurations are the chosen ones: findings and verdicts group by them.
        var spec = spec
        spec.training!.optimizers = chosen
        return StudyPlan(spec: spec, cells: cells, references: refs, tuningCells: allTuningCells, tuningGroups: groups, tuningChoices: choices)
    }

    /// Everything but the optimizer, precision and seed that decides a training cell's result.
    static func sharedKeyText(_ t: TrainingSpec) -> String {
        "\(Self.keySchema)|\(t.problem)|steps=\(t.steps)|batch=\(t.batchSize)|div=\(t.divergenceFactor)|rec=\(t.recordEvery)|eval=\(t.evaluateEvery)|acc=\(t.accumulation)|ew=\(t.elementwise)|mon=\(t.monitors)|ref=\(t.referenceBits)/\(t.referenceSteps)\(t.localErrorEvery == 1 ? "" : "|lee=\(t.localErrorEvery)")"
    }

    static func optimizerKeyText(_ o: OptimizerConfig) -> String {
        "\(o.method)|" + o.parameters.keys.sorted().map { "\($0)=\(o.parameters[$0]!)" }.joined(separator: ",")
    }

    static func cellKey(_ t: TrainingSpec, _ o: OptimizerConfig, precision p: String, seed: Int, stage: String = "cell") -> String {
        let scaling = t.lossScaling.applies(to: p) ? t.lossScaling.keyText : ""
        return SHA256.hex(Data("\(stage)|\(sharedKeyText(t))|\(optimizerKeyText(o))|\(t.precisionKeyText(p))\(scaling)|seed=\(seed)".utf8))
    }

    static func trainingCells(_ t: TrainingSpec, _ optimizers: [OptimizerConfig]) -> ([PlannedCell], [String: (OptimizerConfig, Int)]) {
        var cells = [PlannedCell]()
        var refs = [String: (OptimizerConfig, Int)]()
        for o in optimizers {
            for seed in t.seeds {
                if t.referenceSteps > 0 {
                    refs[SHA256.hex(Data("ref|\(sharedKeyText(t))|\(optimizerKeyText(o))|seed=\(seed)".utf8))] = (o, seed)
                }
                for p in t.precisions {
                    cells.append(PlannedCell(key: cellKey(t, o, precision: p, seed: seed), label: "\(o.label) | \(p) | seed \(seed)",
                                             optimizer: o, precision: p, seed: seed, parameters: [:]))
                }
            }
        }
        return (cells, refs)
    }

    public func referenceKey(_ o: OptimizerConfig, seed: Int) -> String? {
        references.first { $0.value.0 == o && $0.value.1 == seed }?.key
    }

    /// The cells of shard `index` (1-based) of `count`: every `count`-th cell of the key-sorted list
    /// (keys spread a grid's expensive corners over the shards; every job of an array runs one build).
    public func shard(_ index: Int, of count: Int) -> [PlannedCell] {
        Self.shard(cells, index, of: count)
    }

    static func shard(_ cells: [PlannedCell], _ index: Int, of count: Int) -> [PlannedCell] {
        cells.sorted { $0.key < $1.key }.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }
}
