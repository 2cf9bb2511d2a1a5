import ArgumentParser
import Foundation
import StudyKit

/// `swift run -c release Studies`: regenerates every default study into `reports/`.
@main
struct Studies: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Mantissa's precision studies and write reproducible reports.",
        subcommands: [Run.self, List.self, Check.self, Verify.self, Merge.self],
        defaultSubcommand: Run.self)
}

/// Options shared by the commands that run studies.
struct CommonOptions: ParsableArguments {
    @Argument(help: "Studies to run: names of the study directory's files without .toml, or paths to study files (default: all in the study directory).")
    var studies: [String] = []

    @Flag(help: "Quick tier: every study at the reduced sizes of its [quick] table (what CI runs).")
    var quick = false

    @Option(help: "Directory of study files (default: Studies/ of the project).")
    var studyDirectory: String?

    @Option(name: .customLong("out"), help: "Output directory for reports (default: reports/ next to Studies/ for the full tier, reports-quick/ for --quick).")
    var output: String?

    @Flag(help: "Run a study even if its estimated memory or work exceeds the limits (8 GiB, 1e14 weighted operations).")
    var allowLarge = false

    @Option(help: "Cells run in parallel (each uses one BLAS thread); results never depend on it.")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    var directory: String { studyDirectory ?? StudyCatalogue.defaultDirectory() }
    /// Each tier has its own default place, so a quick run never overwrites the committed full-tier reports.
    var outputDirectory: String { output ?? outputDirectory(quick: quick) }

    /// The default folder of a tier.
    func outputDirectory(quick: Bool) -> String {
        URL(fileURLWithPath: directory).deletingLastPathComponent().appendingPathComponent(quick ? "reports-quick" : "reports").path
    }

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    /// A bad study file is reported as itself (file, field, value), without the usage text.
    func load() throws -> [StudySpec] {
        try StudyCatalogue.load(directory: directory, only: studies, quick: quick)
    }

    /// Refuses, before anything runs, a study whose estimate exceeds the limits (unless `--allow-large`).
    func checkResources(_ plan: StudyPlan) throws {
        guard let estimate = ResourceEstimate.of(plan, jobs: jobs), estimate.exceedsLimits, !allowLarge else { return }
        throw StudyError(file: plan.spec.file, field: "", value: estimate.summary,
                         reason: "the study exceeds the resource limits; shrink it, or pass --allow-large to run it anyway")
    }
}

/// Prints a line that reaches a log at once: `print` to a file or pipe (Slurm, nohup) is block-buffered,
/// which held every study's verdict line back until the whole run ended.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func warnIfDebug() {
    #if DEBUG
    FileHandle.standardError.write(Data("warning: this is a debug build; generic numerics run ~25× slower. Use `swift run -c release Studies`.\n".utf8))
    #endif
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run studies (all by default) and write their reports.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Run only shard i of N (e.g. 3/8) of every study's cells into the cache, and write no report; assemble with `merge`.")
    var shard: String?

    func run() throws {
        warnIfDebug()
        let specs = try common.load()
        var shardPair: (Int, Int)? = nil
        if let shard {
            let parts = shard.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] >= 1, (1...parts[1]).contains(parts[0]) else {
                throw ValidationError("--shard must be i/N with 1 ≤ i ≤ N, got \(shard)")
            }
            shardPair = (parts[0], parts[1])
        }
        let options = RunOptions(outputDirectory: common.outputDirectory, jobs: common.jobs, quick: common.quick,
                                 shard: shardPair, progress: isatty(2) != 0, logInterval: isatty(2) != 0 ? nil : 30)
        for spec in specs { try common.checkResources(try StudyPlan(spec)) }
        let start = ContinuousClock.now
        var index = [(StudySpec, Verdict, Double)]()
        var cachedCells = 0, cellCount = 0
        for spec in specs {
            let t0 = ContinuousClock.now
            let plan = try StudyPlan(spec)
            cachedCells += StudyRunner(options).cachedCellCount(plan)
            let results = try StudyRunner(options).run(plan)
            cellCount += results.count      // every round of a tuning stage included
            if shardPair != nil {
                let waiting = plan.awaitsTuning && (try? plan.resolved(with: results)) == nil
                say("\(spec.name): shard \(shard!) done" + (waiting ? " (tuning stage only: run the shards again once every shard finished it)" : ""))
                continue
            }
            let verdict = try ReportWriter.write(plan, results: results, quick: common.quick, to: options.outputDirectory)
            let seconds = Double((ContinuousClock.now - t0).components.attoseconds) / 1e18 + Double((ContinuousClock.now - t0).components.seconds)
            say("\(spec.name): \(verdict.label) — \(verdict.evidence) [\(results.count) cells, \(Int(seconds.rounded())) s]")
            index.append((spec, verdict, seconds))
        }
        if shardPair == nil, common.studies.isEmpty {
            let total = ContinuousClock.now - start
            let wall = ReportIndex.WallTime(seconds: Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18,
                                            jobs: common.jobs, cores: ProcessInfo.processInfo.activeProcessorCount,
                                            cpu: Provenance.cpu, cells: cellCount)
            // The other tier's wall time comes from its own default folder, so the index shows both measured.
            let otherTier = common.output == nil ? common.outputDirectory(quick: !common.quick) : nil
            try ReportIndex.write(index, tier: common.quick ? "quick" : "full", wallTime: wall, cachedCells: cachedCells,
                                  to: options.outputDirectory, otherTierRoot: otherTier)
        }
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Assemble reports from cells cached by `run --shard` (all shards must be done).")
    @OptionGroup var common: CommonOptions

    func run() throws {
        let options = RunOptions(outputDirectory: common.outputDirectory, jobs: 1, quick: common.quick, progress: false)
        for spec in try common.load() {
            let plan = try StudyPlan(spec)
            let results = try StudyRunner(options).cached(plan)
            let verdict = try ReportWriter.write(plan, results: results, quick: common.quick, to: options.outputDirectory)
            say("\(spec.name): \(verdict.label) — \(verdict.evidence)")
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the studies and the cells they would run.")
    @OptionGroup var common: CommonOptions

    func run() throws {
        for spec in try common.load() {
            let plan = try StudyPlan(spec)
            print("\(spec.name)  [\(spec.claim), \(spec.kind.rawValue)]  \(plan.plannedCellCount) cells\(plan.tuningCells.isEmpty ? "" : " after \(plan.tuningCells.count) tuning cells")\(plan.awaitsTuning ? "" : ", \(plan.references.count) MPFR references") — \(spec.title)")
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate study files (all, or the given paths) without running them.")
    @Argument(help: "Study files to check (default: every study of the study directory).")
    var files: [String] = []
    @Flag(help: "Check the quick tier.") var quick = false
    @Flag(help: "List every cell of each study.") var cells = false

    func run() throws {
        let directory = StudyCatalogue.defaultDirectory()
        let paths = files.isEmpty
            ? ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".toml") }.sorted().map { directory + "/" + $0 }
            : files
        if paths.isEmpty {
            print("error  no study files to check: none given, and no *.toml in \(directory) (looked for Studies/ with a data/ folder in the current directory and its ancestors)")
            throw ExitCode(1)
        }
        var failed = 0
        for path in paths {
            do {
                let spec = try StudyCatalogue.loadFile(path, quick: quick)
                let plan = try StudyPlan(spec)
                print("ok  \(path): \(plan.plannedCellCount) cells" + (plan.tuningCells.isEmpty ? "" : " after \(plan.tuningCells.count) tuning cells"))
                if let e = ResourceEstimate.of(plan, jobs: ProcessInfo.processInfo.activeProcessorCount), e.exceedsLimits {
                    print("    warning: \(e.summary); `run` will ask for --allow-large")
                }
                if cells { for c in plan.tuningCells { print("    \(c.label)") } }
                if cells { for c in plan.cells { print("    \(c.label)") } }
            } catch {
                failed += 1
                print("error  \(error)")
            }
        }
        print("checked \(paths.count) study file\(paths.count == 1 ? "" : "s")\(files.isEmpty ? " in \(directory)" : "")\(quick ? " (quick tier)" : ""): \(paths.count - failed) ok, \(failed) with errors")
        if failed > 0 { throw ExitCode(1) }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rerun studies from scratch and compare every output with its manifest.")
    @OptionGroup var common: CommonOptions

    func run() throws {
        warnIfDebug()
        let options = RunOptions(outputDirectory: common.outputDirectory, jobs: common.jobs, quick: common.quick,
                                 progress: isatty(2) != 0, logInterval: isatty(2) != 0 ? nil : 30)
        var bad = 0
        let specs = try common.load()
        for spec in specs { try common.checkResources(try StudyPlan(spec)) }
        for spec in specs {
            let outcome = try StudyVerifier.verify(spec, reports: common.outputDirectory, options: options)
            if outcome.mismatches.isEmpty {
                say("\(spec.name): bit-identical to its manifest" + (outcome.otherMachine.map { "; same results, other machine (\($0))" } ?? ""))
            }
            for m in outcome.mismatches { say("MISMATCH \(m)"); bad += 1 }
        }
        if bad > 0 { throw ExitCode(1) }
    }
}
