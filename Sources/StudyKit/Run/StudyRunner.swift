import Foundation
import Synchronization
import LinearAlgebra

/// Options of one invocation of the runner.
public struct RunOptions: Sendable {
    public var outputDirectory: String
    public var jobs: Int
    public var quick: Bool
    /// `(index, count)`, 1-based: run only that shard of every study's cells, and write no report.
    public var shard: (Int, Int)?
    public var progress: Bool
    /// When set (output is not a terminal: Slurm logs, nohup), a progress line at least this often, in seconds.
    public var logInterval: Double?
    /// Ignore cached cells (used by `verify`, which must recompute).
    public var useCache: Bool

    public init(outputDirectory: String, jobs: Int, quick: Bool, shard: (Int, Int)? = nil, progress: Bool,
                logInterval: Double? = nil, useCache: Bool = true) {
        self.outputDirectory = outputDirectory; self.jobs = jobs; self.quick = quick; self.shard = shard
        self.progress = progress; self.logInterval = logInterval; self.useCache = useCache
    }
}

/// Runs the cells of a study in parallel (one BLAS thread each), caching each finished cell.
///
/// Determinism: a cell's result is a function of its configuration only (seeded generators, fixed
/// summation orders, one BLAS thread, its own stochastic-rounding context), so neither `--jobs` nor the
/// order in which cells finish changes any bit; results are assembled by key, not by completion order.
public struct StudyRunner: Sendable {
    public let options: RunOptions

    public init(_ options: RunOptions) { self.options = options }

    /// Runs every cell of `plan` (or of the selected shard) and returns all results found in the cache
    /// afterwards, keyed by cell key: the tuning stage's cells first (if the study has one), then, once
    /// every tuning cell exists, the cells of the plan resolved by it. A shard whose tuning stage is not
    /// complete yet (other shards still running) returns after its tuning cells; running the shards
    /// again then runs the cells proper.
    public func run(_ plan: StudyPlan) throws -> [String: CellResult] {
        BLAS.ensureSingleThreaded()
        let cache = ResultCache(root: options.outputDirectory, study: plan.spec.name)
        let data: ProblemData? = try plan.spec.training.map { t throws(StudyError) in try ProblemData(t.problem, file: plan.spec.file) }
        var all = [String: CellResult]()
        var resolved = plan
        if plan.awaitsTuning {
            // Round by round: a round that continues a grid exists only once the previous one is decided.
            while case .needs(let round) = plan.tuningProgress(with: all) {
                let selected = options.shard.map { StudyPlan.shard(round, $0.0, of: $0.1) } ?? round
                let got = try runCells(selected, of: plan, everything: round, data: data, cache: cache, title: "tuning")
                all.merge(got) { a, _ in a }
                guard got.count == round.count else { return all }
            }
            resolved = try plan.resolved(with: all)
        }
        let selected = options.shard.map { resolved.shard($0.0, of: $0.1) } ?? resolved.cells
        all.merge(try runCells(selected, of: resolved, everything: resolved.cells, data: data, cache: cache, title: "cells")) { a, _ in a }
        return all
    }

    /// Runs `cells` of `plan` (with the MPFR references they need, first) and returns the results of
    /// `everything` that exist afterwards, from this run or the cache.
    func runCells(_ cells: [PlannedCell], of plan: StudyPlan, everything: [PlannedCell], data: ProblemData?, cache: ResultCache,
                  title: String) throws -> [String: CellResult] {
        // Phase 1: the MPFR references the selected cells need (tuning cells need none).
        var neededRefs = [String: (OptimizerConfig, Int)]()
        for c in cells where !c.tuning {
            if let o = c.optimizer, let k = plan.referenceKey(o, seed: c.seed) { neededRefs[k] = plan.references[k]! }
        }
        let refKeys = neededRefs
        let pendingRefs = refKeys.keys.sorted().filter { !options.useCache || cache.load(ReferenceTrajectory.self, kind: "refs", key: $0) == nil }
        let refLock = Mutex<[String: ReferenceTrajectory]>([:])
        let referenceName = plan.spec.training.map { ReferenceCatalogue.name(bits: $0.referenceBits) } ?? "MPFR"
        try parallel(pendingRefs, title: "\(plan.spec.name): \(referenceName) references") { key in
            let (o, seed) = refKeys[key]!
            let t = plan.spec.training!
            let ref = try ReferenceCatalogue.visit(bits: t.referenceBits, ReferenceVisitor(spec: t, data: data!, optimizer: o, seed: seed))
            try cache.store(ref, kind: "refs", key: key)
            refLock.withLock { $0[key] = ref }
        }
        let memoryRefs = refLock.withLock { $0 }

        // Phase 2: the cells.
        let pending = cells.filter { !options.useCache || cache.load(CellResult.self, kind: "cells", key: $0.key) == nil }
        let byKey = Dictionary(pending.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let resultLock = Mutex<[String: CellResult]>([:])
        try parallel(pending.map(\.key), title: "\(plan.spec.name): \(title)") { key in
            let cell = byKey[key]!
            let result: CellResult
            if let t = plan.spec.training, let o = cell.optimizer {
                var ref: ReferenceTrajectory? = nil
                if !cell.tuning, let rk = plan.referenceKey(o, seed: cell.seed) {
                    ref = memoryRefs[rk] ?? cache.load(ReferenceTrajectory.self, kind: "refs", key: rk)
                }
                let job = TrainingJob(spec: t, data: data!, optimizer: o, precision: cell.precision, seed: cell.seed, key: cell.key, reference: ref)
                result = try t.visitPrecision(cell.precision, TrainingVisitor(job: job))
            } else {
                result = try ExperimentCatalogue.run(plan.spec, cell)
            }
            try cache.store(result, kind: "cells", key: key)
            resultLock.withLock { $0[key] = result }
        }
        var all = resultLock.withLock { $0 }
        for c in everything where all[c.key] == nil {
            if let r = cache.load(CellResult.self, kind: "cells", key: c.key) { all[c.key] = r }
        }
        return all
    }

    /// How many cells of `plan` are already cached (so a wall time can say whether it measured a full computation).
    public func cachedCellCount(_ plan: StudyPlan) -> Int {
        guard options.useCache else { return 0 }
        guard plan.awaitsTuning else {
            let cache = ResultCache(root: options.outputDirectory, study: plan.spec.name)
            return plan.cells.filter { cache.contains(kind: "cells", key: $0.key) }.count
        }
        return (try? cached(plan).count) ?? 0
    }

    /// The cached results of every cell of `plan` (for `merge` after sharded runs); missing cells are absent.
    public func cached(_ plan: StudyPlan) throws -> [String: CellResult] {
        let cache = ResultCache(root: options.outputDirectory, study: plan.spec.name)
        var all = [String: CellResult]()
        while case .needs(let round) = plan.tuningProgress(with: all) {
            let before = all.count
            for c in round where all[c.key] == nil { if let r = cache.load(CellResult.self, kind: "cells", key: c.key) { all[c.key] = r } }
            if all.count == before { break }      // this round is not (entirely) cached
        }
        let resolved = (try? plan.resolved(with: all)) ?? plan
        for c in resolved.cells { if let r = cache.load(CellResult.self, kind: "cells", key: c.key) { all[c.key] = r } }
        return all
    }

    /// Runs `work` for each key on `options.jobs` workers; the first error stops the run and is rethrown.
    func parallel(_ keys: [String], title: String, _ work: @escaping @Sendable (String) throws -> Void) throws {
        guard !keys.isEmpty else { return }
        let counters = ParallelCounters()
        let failure = Mutex<Error?>(nil)
        let start = ContinuousClock.now
        let progress = options.progress
        let workers = max(1, min(options.jobs, keys.count))
        // Without a terminal, a reporter thread prints a line every `logInterval` seconds, also while a
        // long cell (an MPFR reference) keeps `done` from moving.
        if let interval = options.logInterval {
            let total = keys.count
            Thread.detachNewThread {
                var last = ContinuousClock.now
                while !counters.finished.load(ordering: .relaxed) {
                    Thread.sleep(forTimeInterval: 0.25)
                    guard Self.seconds(since: last) >= interval, !counters.finished.load(ordering: .relaxed) else { continue }
                    last = ContinuousClock.now
                    FileHandle.standardError.write(Data((Self.progressText(title: title, done: counters.done.load(ordering: .relaxed), total: total, start: start) + "\n").utf8))
                }
            }
        }
        defer { counters.finished.store(true, ordering: .relaxed) }
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while failure.withLock({ $0 == nil }) {
                let i = counters.next.add(1, ordering: .relaxed).oldValue
                guard i < keys.count else { return }
                do { try work(keys[i]) } catch { failure.withLock { if $0 == nil { $0 = error } } }
                let d = counters.done.add(1, ordering: .relaxed).newValue
                if progress { Self.drawProgress(title: title, done: d, total: keys.count, start: start) }
            }
        }
        if progress { FileHandle.standardError.write(Data("\n".utf8)) }
        if options.logInterval != nil {
            FileHandle.standardError.write(Data((Self.progressText(title: title, done: counters.done.load(ordering: .relaxed), total: keys.count, start: start) + "\n").utf8))
        }
        if let e = failure.withLock({ $0 }) { throw e }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// "done/total cells, elapsed, ETA": the ETA extrapolates the mean time per finished cell (with
    /// sub-second resolution: whole seconds made it 0 for studies of fast cells); unknown before the first.
    public static func progressText(title: String, done: Int, total: Int, start: ContinuousClock.Instant) -> String {
        let elapsed = seconds(since: start)
        let eta = done > 0 ? "ETA \(Int((elapsed / Double(done) * Double(total - done)).rounded()))s" : "ETA unknown"
        return "\(title): \(done)/\(total) cells, \(Int(elapsed.rounded()))s elapsed, \(eta)"
    }

    static func drawProgress(title: String, done: Int, total: Int, start: ContinuousClock.Instant) {
        let width = 30, filled = width * done / max(total, 1)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(progressText(title: title, done: done, total: total, start: start)) ".utf8))
    }
}

/// The shared counters of one `parallel` call, in a class so the progress reporter thread can read them.
final class ParallelCounters: Sendable {
    let next = Atomic<Int>(0)
    let done = Atomic<Int>(0)
    let finished = Atomic<Bool>(false)
}
