import Foundation
import Testing
import StudyKit

/// A small training study: two optimizers × two precisions × two seeds, with an MPFR shadow.
let tinyStudy = """
    title = "tiny"
    claim = "T1"
    kind = "training"
    question = "q"
    prediction = "p"

    [problem]
    dataset = "synthetic-classification"
    samples = 96
    features = 6
    outputs = 3
    hidden = [5]

    [training]
    steps = 6
    batch_size = 8
    seeds = [1, 2]
    precisions = ["fp32", "bf16"]
    monitors = ["kappa*"]

    [reference]
    bits = 113
    steps = 3

    [[optimizer]]
    method = "kfac"
    learning_rate = 0.05
    inverse_interval = 2

    [[optimizer]]
    method = "adamw"
    learning_rate = 0.01

    [verdict]
    rule = "unstable-vs-stable"
    unstable = ["kfac"]
    stable = ["adamw"]
    low = ["bf16"]
    baseline = ["fp32"]
    """

extension String {
    /// The tiny study with other precisions (and `extra` lines after them); the verdict judges the last
    /// precision against the first, so it names only precisions the study has.
    func withPrecisions(_ list: [String], extra: String = "") -> String {
        let quoted = list.map { "\"\($0)\"" }.joined(separator: ", ")
        return replacingOccurrences(of: "precisions = [\"fp32\", \"bf16\"]", with: "precisions = [\(quoted)]" + (extra.isEmpty ? "" : "\n" + extra))
            .replacingOccurrences(of: "low = [\"bf16\"]\nbaseline = [\"fp32\"]", with: "low = [\"\(list.last!)\"]\nbaseline = [\"\(list.first!)\"]")
    }
}

func temporaryDirectory(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "mantissa-test-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs `text` as a study into `out` and returns the manifest's file hashes.
func runStudy(_ text: String, name: String = "tiny", out: String, jobs: Int, shard: (Int, Int)? = nil) throws -> [String: String] {
    let spec = try StudyParser.parse(text, file: "\(name).toml", quick: false)
    let plan = try StudyPlan(spec)
    let results = try StudyRunner(RunOptions(outputDirectory: out, jobs: jobs, quick: false, shard: shard, progress: false)).run(plan)
    if shard != nil { return [:] }
    _ = try ReportWriter.write(plan, results: results, quick: false, to: out)
    let manifest = try JSONParser.parse(bytes: try AtomicFile.read("\(out)/\(name)/manifest.json"))
    return manifest["files"]!.objectValue!.mapValues { $0.stringValue! }
}

@Suite struct EndToEnd {
    @Test func aStudyProducesReportCSVPlotsAndManifest() throws {
        let out = temporaryDirectory("files")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let hashes = try runStudy(tinyStudy, out: out, jobs: 2)
        #expect(Set(hashes.keys).isSuperset(of: ["README.md", "results.csv", "cells.csv", "events.csv", "plots/loss-fp32.svg", "plots/drift-bf16.svg"]))
        for (path, hash) in hashes { #expect(try sha256Hex(ofFileAt: "\(out)/tiny/\(path)") == hash) }
        let csv = try String(contentsOfFile: "\(out)/tiny/results.csv", encoding: .utf8)
        #expect(csv.hasPrefix("study,cell,method,precision,seed,step,metric,layer,value\n"))
        let cells = try String(contentsOfFile: "\(out)/tiny/cells.csv", encoding: .utf8)
        #expect(cells.hasPrefix("study,cell,method,variant,precision,seed,inverse_interval,learning_rate\n"))
        #expect(cells.contains("tiny,kfac,kfac,kfac,bf16,2,2,0.05\n"), "\(cells)")
        #expect(csv.contains(",drift,") && csv.contains(",local_gradient_error,") && csv.contains(",loss,"))
        let report = try String(contentsOfFile: "\(out)/tiny/README.md", encoding: .utf8)
        #expect(report.contains("**Verdict: "))
    }

    /// Reports follow the study's grid, not the cell keys (which hash the executable and change with
    /// every build): otherwise `verify` from a rebuilt binary would see reordered rows as a mismatch.
    @Test func cellsAreInGridOrderAndShardsPartitionThem() throws {
        let plan = try StudyPlan(try StudyParser.parse(tinyStudy, file: "tiny.toml", quick: false))
        var expected = [String]()
        for o in ["kfac", "adamw"] { for seed in [1, 2] { for p in ["fp32", "bf16"] { expected.append("\(o) | \(p) | seed \(seed)") } } }
        #expect(plan.cells.map(\.label) == expected)
        let shards = (1...3).flatMap { plan.shard($0, of: 3) }.map(\.key)
        #expect(shards.count == plan.cells.count && Set(shards) == Set(plan.cells.map(\.key)))
    }

    @Test func resultsDoNotDependOnJobs() throws {
        let a = temporaryDirectory("jobs1"), b = temporaryDirectory("jobs2")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let one = try runStudy(tinyStudy, out: a, jobs: 1)
        let two = try runStudy(tinyStudy, out: b, jobs: 2)
        #expect(one == two)
        #expect(!one.isEmpty)
    }

    /// An interrupted run leaves only complete cells (atomic writes) plus, at worst, a stray temporary
    /// file; resuming computes the rest and must equal an uninterrupted run bit for bit.
    @Test func anInterruptedRunResumesToTheSameBits() throws {
        let fresh = temporaryDirectory("fresh"), resumed = temporaryDirectory("resumed")
        defer { try? FileManager.default.removeItem(atPath: fresh); try? FileManager.default.removeItem(atPath: resumed) }
        let expected = try runStudy(tinyStudy, out: fresh, jobs: 2)
        _ = try runStudy(tinyStudy, out: resumed, jobs: 2, shard: (1, 3))   // the part finished before the kill
        let cacheDir = "\(resumed)/.cache/tiny/cells"
        let before = try FileManager.default.contentsOfDirectory(atPath: cacheDir).count
        #expect(before > 0 && before < 8)
        _ = FileManager.default.createFile(atPath: "\(cacheDir)/.partial.json.123.tmp", contents: Data("{\"trunc".utf8))
        let after = try runStudy(tinyStudy, out: resumed, jobs: 2)
        #expect(after == expected)
    }

    /// A diverging cell is a result: the runner records the step and reason and carries on.
    @Test func aDivergenceIsRecordedNotThrown() throws {
        let diverging = tinyStudy.replacingOccurrences(of: "learning_rate = 0.01", with: "learning_rate = 1000")
            .withPrecisions(["fp16"])
        let out = temporaryDirectory("diverge")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let spec = try StudyParser.parse(diverging, file: "tiny.toml", quick: false)
        let results = try StudyRunner(RunOptions(outputDirectory: out, jobs: 2, quick: false, progress: false)).run(try StudyPlan(spec))
        let adam = results.values.filter { $0.method == "adamw" }
        #expect(adam.count == 2)
        #expect(adam.allSatisfy { $0.divergenceStep != nil && $0.divergenceReason != nil })
    }

    @Test func theDefaultCatalogueParsesInBothTiers() throws {
        let dir = StudyCatalogue.defaultDirectory()
        for quick in [false, true] {
            let specs = try StudyCatalogue.load(directory: dir, quick: quick)
            #expect(specs.count >= 2)
            for s in specs {
                let plan = try StudyPlan(s)
                // A study with a tuning stage plans its cells once the tuning cells exist.
                #expect(plan.plannedCellCount > 0 && (plan.awaitsTuning ? !plan.tuningCells.isEmpty : !plan.cells.isEmpty))
            }
        }
    }
}

/// The one-step local error (`local_error`): the reference step from the cell's own weights and
/// optimizer state, on the same batch.
@Suite struct LocalError {
    /// The tiny study in binary64 and in bf16 with stochastic rounding (KFAC with momentum and held
    /// inverses, AdamW with moments: state that a reference starting afresh would not have).
    static let study = tinyStudy.withPrecisions(["fp64", "fp32", "bf16-sim+sr"])

    static func plan() throws -> StudyPlan { try StudyPlan(try StudyParser.parse(study, file: "tiny.toml", quick: false)) }

    @Test func theLocalErrorIsRecordedForTheShadowedStepsAndIsAtTheLevelOfThePrecision() throws {
        let plan = try Self.plan()
        for cell in plan.cells {
            let r = try plan.runTrainingCell(cell)
            let local = r.series("local_error")
            #expect(local.map(\.0) == [1, 2, 3], "\(cell.label)")
            #expect(r.series("local_gradient_error").count == 3)
            #expect(!r.events.contains { $0.kind == "local-error-unavailable" }, "\(cell.label): \(r.events)")
            // one rounding of the weights per step dominates: u·‖θ‖/‖Δθ‖ (‖θ‖/‖Δθ‖ is a few hundred here)
            let bound: Double = switch cell.precision { case "fp64": 1e-11; case "fp32": 1e-3; default: 1 }
            for (t, e) in local { #expect(e.isFinite && e > 0 && e < bound, "\(cell.label) step \(t): local error \(e)") }
        }
    }

    /// The reference step runs in a stochastic-rounding context of its own: with or without it, the
    /// low-precision trajectory (losses, accuracies, monitors, drift, events) is the same bit for bit.
    @Test func recordingTheLocalErrorLeavesAStochasticRoundingTrajectoryBitIdentical() throws {
        let plan = try Self.plan()
        let cells = plan.cells.filter { $0.precision == "bf16-sim+sr" }
        #expect(cells.count == 4)
        func trajectory(_ r: CellResult) -> [String] {
            r.records.filter { !$0.metric.hasPrefix("local_") }.map { "\($0.metric)|\($0.layer)|\($0.step)|\($0.value.bitPattern)" }
                + r.events.filter { $0.kind != "local-error-unavailable" }.map { "\($0.kind)|\($0.layer)|\($0.step)|\($0.detail)|\($0.value.bitPattern)" }
                + ["\(r.stepsCompleted)|\(r.divergenceStep ?? -1)|\(r.finalLoss.bitPattern)|\(r.finalTestAccuracy.bitPattern)"]
        }
        for cell in cells {
            let with = try plan.runTrainingCell(cell, localError: true)
            let without = try plan.runTrainingCell(cell, localError: false)
            #expect(with.series("local_error").count == 3 && without.series("local_error").isEmpty)
            #expect(without.series("drift").count == 3)
            #expect(trajectory(with) == trajectory(without), "\(cell.label)")
        }
    }

    /// Adam with ε = 0 divides 0/0 on an exactly zero gradient entry (a dead ReLU unit of a one-sample
    /// batch): the reference update is NaN, which is recorded as NaN plus an event, not thrown.
    @Test func aNonFiniteReferenceStepIsRecordedAsNaNAndAnEvent() throws {
        let text = tinyStudy.replacingOccurrences(of: "hidden = [5]", with: "hidden = [16]\nactivation = \"relu\"")
            .replacingOccurrences(of: "batch_size = 8", with: "batch_size = 1")
            .replacingOccurrences(of: "learning_rate = 0.01", with: "learning_rate = 0.01\nepsilon = 0")
            .withPrecisions(["fp32"])
        let plan = try StudyPlan(try StudyParser.parse(text, file: "tiny.toml", quick: false))
        let cells = plan.cells.filter { $0.optimizer?.method == "adamw" }
        #expect(cells.count == 2)
        for cell in cells {
            let r = try plan.runTrainingCell(cell)
            #expect(r.series("local_error").count == 1 && r.series("local_error")[0].1.isNaN, "\(r.records.filter { $0.metric.hasPrefix("local") })")
            #expect(r.series("local_gradient_error").first?.1.isFinite == true)
            #expect(r.events.contains { $0.kind == "local-error-unavailable" && $0.step == 1 && $0.detail.contains("non-finite") }, "\(r.events)")
            #expect(r.divergenceStep == 1)
        }
    }

    @Test func theReportShowsTheLocalError() throws {
        let out = temporaryDirectory("local")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let hashes = try runStudy(tinyStudy, out: out, jobs: 2)
        #expect(hashes.keys.contains("plots/local_error-bf16.svg"))
        let csv = try String(contentsOfFile: "\(out)/tiny/results.csv", encoding: .utf8)
        #expect(csv.contains(",local_error,"))
        let report = try String(contentsOfFile: "\(out)/tiny/README.md", encoding: .utf8)
        #expect(report.contains("| local error ") && report.contains("| local gradient error "))
        #expect(report.contains("The local error is the one-step error"))
    }
}
