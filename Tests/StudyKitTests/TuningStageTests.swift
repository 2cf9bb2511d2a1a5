import Foundation
import Testing
import StudyKit

/// A study whose learning rates are a tuning grid: KFAC over two dampings, AdamW at one setting.
let tuningStudy = tinyStudy
    .replacingOccurrences(of: "seeds = [1, 2]", with: "seeds = [1, 2, 3]")
    .replacingOccurrences(of: """
        method = "kfac"
        learning_rate = 0.05
        """, with: """
        method = "kfac"
        learning_rate = [0.1, 0.01]
        damping = [0.001, 0.1]
        """)
    .replacingOccurrences(of: """
        method = "adamw"
        learning_rate = 0.01
        """, with: """
        method = "adamw"
        learning_rate = [0.01, 0.001]
        """)
    + "\n[tuning]\nparameter = \"learning_rate\"\nprecision = \"fp32\"\nwindow = 0.5\n"

/// A finished (or diverged) tuning cell whose training loss is `loss` at every step.
func tuningCell(_ cell: PlannedCell, loss: Double, diverged: Int? = nil, steps: Int = 6) throws -> CellResult {
    let o = cell.optimizer!
    let last = diverged.map { $0 - 1 } ?? steps
    let object: [String: Any] = [
        "key": cell.key, "optimizer": o.label, "method": o.method, "precision": cell.precision, "seed": cell.seed,
        "parameters": o.parameters.mapValues(\.description), "events": [[String: Any]](),
        "records": (1...max(1, last)).map { ["step": $0, "metric": "loss", "layer": -1, "value": loss] },
        "stepsCompleted": last, "finalLoss": loss, "finalTestLoss": loss, "finalTestAccuracy": 0.5, "roundedConstants": [String](),
    ].merging(diverged.map { ["divergenceStep": $0, "divergenceReason": "constructed"] } ?? [:]) { a, _ in a }
    return try JSONDecoder().decode(CellResult.self, from: JSONSerialization.data(withJSONObject: object))
}

@Suite struct TuningStageTests {
    static func plan(_ text: String = tuningStudy) throws -> StudyPlan {
        try StudyPlan(try StudyParser.parse(text, file: "tune.toml", quick: false))
    }

    @Test func candidatesDifferingOnlyInTheTunedKeyFormOneGroup() throws {
        let plan = try Self.plan()
        #expect(plan.tuningGroups.map(\.label) == ["kfac damping=0.001", "kfac damping=0.1", "adamw"])
        #expect(plan.tuningGroups.map(\.candidates.count) == [2, 2, 2])
        #expect(plan.tuningCells.count == 6 * 3)
        #expect(plan.tuningCells.allSatisfy { $0.tuning && $0.precision == "fp32" })
        #expect(plan.awaitsTuning && plan.cells.isEmpty && plan.references.isEmpty)
        #expect(plan.plannedCellCount == 3 * 3 * 2)   // groups × seeds × precisions
    }

    /// lr 0.1 has the lowest losses but diverges in one seed, so 0.01 wins for KFAC; AdamW's two
    /// candidates tie exactly, so the smaller rate wins. The resolved plan runs only the chosen ones.
    @Test func theRuleExcludesDivergingCandidatesAndBreaksTiesToTheSmallerValue() throws {
        let plan = try Self.plan()
        var results = [String: CellResult]()
        for c in plan.tuningCells {
            let lr = c.optimizer!.parameters["learning_rate"]!.description
            let loss = c.optimizer!.method == "adamw" ? 0.7 : (lr == "0.1" ? 0.2 : 0.4 + 0.01 * Double(c.seed))
            let diverged = c.optimizer!.method == "kfac" && lr == "0.1" && c.seed == 2 ? 4 : nil
            results[c.key] = try tuningCell(c, loss: loss, diverged: diverged)
        }
        let resolved = try plan.resolved(with: results)
        #expect(!resolved.awaitsTuning)
        #expect(resolved.tuningChoices.map(\.chosen) == ["0.01", "0.01", "0.001"])
        #expect(resolved.tuningChoices[0].scores.map(\.divergedSeeds) == [1, 0])
        // Seed 2's score: the mean of three equal losses 0.42, within a rounding or two of it.
        #expect(abs(resolved.tuningChoices[0].scores[1].medianScore - 0.42) <= 4 * 0.42.ulp)
        #expect(resolved.tuningChoices.allSatisfy { $0.caveat == nil })
        let configs = resolved.spec.training!.optimizers
        #expect(configs.map(\.label) == ["kfac damping=0.001", "kfac damping=0.1", "adamw"])
        #expect(configs.map { $0.parameters["learning_rate"]!.description } == ["0.01", "0.01", "0.001"])
        #expect(resolved.cells.count == 3 * 3 * 2)
        #expect(Set(resolved.cells.compactMap(\.optimizer)) == Set(configs))
        #expect(resolved.references.count == 3 * 3)
        // The chosen fp32 cells are new cells (with the MPFR shadow), not the tuning cells.
        #expect(Set(resolved.cells.map(\.key)).isDisjoint(with: plan.tuningCells.map(\.key)))
    }

    @Test func whenEveryCandidateDivergesTheLeastUnstableIsKeptWithACaveat() throws {
        let plan = try Self.plan()
        var results = [String: CellResult]()
        for c in plan.tuningCells {
            let lr = c.optimizer!.parameters["learning_rate"]!.description
            // 0.1 diverges in every seed, the smaller rate in one seed only.
            let diverged = lr == "0.1" || c.seed == 1 ? 3 : nil
            results[c.key] = try tuningCell(c, loss: 0.5, diverged: diverged)
        }
        let resolved = try plan.resolved(with: results)
        #expect(resolved.tuningChoices[0].chosen == "0.01")
        #expect(resolved.tuningChoices[0].caveat?.contains("1 of 3 seeds") == true)
    }

    @Test func anIncompleteTuningStageCannotBeResolved() throws {
        let plan = try Self.plan()
        var results = [String: CellResult]()
        for c in plan.tuningCells.dropLast() { results[c.key] = try tuningCell(c, loss: 0.5) }
        #expect { try plan.resolved(with: results) } throws: { ($0 as? StudyError)?.field == "tuning" }
    }

    @Test func aBadTuningTableNamesTheField() throws {
        func field(_ text: String) -> String? {
            do { _ = try StudyParser.parse(text, file: "t.toml", quick: false); return nil } catch { return error.field }
        }
        #expect(field(tuningStudy.replacingOccurrences(of: "parameter = \"learning_rate\"", with: "parameter = \"momentum\"")) == "tuning.parameter")
        #expect(field(tuningStudy.replacingOccurrences(of: "precision = \"fp32\"\nwindow", with: "precision = \"fp31\"\nwindow")) == "tuning.precision")
        #expect(field(tuningStudy.replacingOccurrences(of: "window = 0.5", with: "window = 2")) == "tuning.window")
        #expect(field(tuningStudy.replacingOccurrences(of: "window = 0.5", with: "window = 0.5\nrule = \"x\"")) == "tuning.rule")
    }

    /// The whole path: tuning cells, resolution, the cells proper, the report's tuning section and
    /// `tuning.csv`, the manifest's record of the choice — the same bits from a sharded run.
    @Test func aTunedStudyRunsReportsAndShards() throws {
        let text = tuningStudy.replacingOccurrences(of: "seeds = [1, 2, 3]", with: "seeds = [1, 2]")
        let whole = temporaryDirectory("tune-whole"), sharded = temporaryDirectory("tune-sharded")
        defer { try? FileManager.default.removeItem(atPath: whole); try? FileManager.default.removeItem(atPath: sharded) }
        let expected = try runStudy(text, name: "tune", out: whole, jobs: 2)
        #expect(expected["tuning.csv"] != nil && expected["plots/summary.svg"] != nil)
        let readme = try String(contentsOfFile: "\(whole)/tune/README.md", encoding: .utf8)
        #expect(readme.contains("## Tuning stage") && readme.contains("## Ranking per precision"))
        let manifest = try JSONParser.parse(bytes: try AtomicFile.read("\(whole)/tune/manifest.json"))
        #expect(manifest["tuning"]?.arrayValue?.count == 3)
        // Two shards: the first pass runs the tuning cells (and, once all exist, the cells proper).
        for pass in 0..<2 { for i in 1...2 { _ = try runStudy(text, name: "tune", out: sharded, jobs: 1, shard: (i, 2)); _ = pass } }
        let spec = try StudyParser.parse(text, file: "tune.toml", quick: false)
        let cached = try StudyRunner(RunOptions(outputDirectory: sharded, jobs: 1, quick: false, progress: false)).cached(try StudyPlan(spec))
        _ = try ReportWriter.write(try StudyPlan(spec), results: cached, quick: false, to: sharded)
        let shardedManifest = try JSONParser.parse(bytes: try AtomicFile.read("\(sharded)/tune/manifest.json"))
        #expect(shardedManifest["files"]!.objectValue!.mapValues { $0.stringValue! } == expected)
    }
}

@Suite struct DynamicLossScalingTests {
    static let study = tinyStudy
        .replacingOccurrences(of: "steps = 6", with: "steps = 12")
        .withPrecisions(["fp32", "fp16"], extra: """
            loss_scaling = "dynamic"
            loss_scale_initial = 262144
            loss_scale_growth_interval = 1000
            loss_scaling_precisions = ["fp16"]
            """)

    /// S = 2¹⁸ overflows fp16's scaled output gradients (|ĝ|·S > 65504) at once, so step 1 is skipped;
    /// from then on the scaler's rule holds step by step: a skipped step halves S for the next one, an
    /// applied step keeps it (growth interval 1000 is never reached), every skip is one backoff event,
    /// and S is recorded at every step the cell ran. fp32 is not loss-scaled at all.
    @Test func anOverflowingScaleBacksOffAndSkipsSteps() throws {
        let plan = try StudyPlan(try StudyParser.parse(Self.study, file: "dls.toml", quick: false))
        let out = temporaryDirectory("dls")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let results = try StudyRunner(RunOptions(outputDirectory: out, jobs: 2, quick: false, progress: false)).run(plan)
        for c in plan.cells {
            let r = try #require(results[c.key])
            let scales = r.series("loss_scale")
            let skipped = Set(r.events.filter { $0.kind == "skipped-step" }.map(\.step))
            if c.precision == "fp32" {
                #expect(scales.isEmpty && skipped.isEmpty)
                continue
            }
            #expect(skipped.contains(1))
            #expect(r.events.filter { $0.kind == "loss-scale-backoff" }.count == skipped.count)
            #expect(scales.map(\.0) == Array(1...(r.divergenceStep ?? 12)))
            for (i, (step, s)) in scales.enumerated().dropLast() {
                #expect(scales[i + 1].1 == (skipped.contains(step) ? s / 2 : s), "step \(step)")
            }
        }
    }

    @Test func badLossScalingNamesTheField() throws {
        func field(_ text: String) -> String? {
            do { _ = try StudyParser.parse(text, file: "t.toml", quick: false); return nil } catch { return error.field }
        }
        #expect(field(Self.study.replacingOccurrences(of: "262144", with: "100000")) == "training.loss_scale_initial")
        #expect(field(Self.study.replacingOccurrences(of: "loss_scaling_precisions = [\"fp16\"]", with: "loss_scaling_precisions = [\"bf16\"]"))
                == "training.loss_scaling_precisions[0]")
        #expect(field(Self.study.replacingOccurrences(of: "loss_scaling = \"dynamic\"", with: "loss_scaling = \"static\"")) == "training.loss_scaling")
    }
}

@Suite struct SVGGridTests {
    @Test func cellsAreShadedLabelledAndMissingValuesHatched() throws {
        let panel = SVGGrid.Panel(title: "drift", values: [[1e-7, 1], [.nan, 1e-3]], labels: [["1e-07", "1"], ["–", "0.001"]],
                                  light: 1e-7, dark: 1, logScale: true, hue: 210)
        let grid = SVGGrid(title: "t", rows: ["kfac", "singd"], columns: ["fp32", "bf16"], panels: [panel, panel], note: "n")
        let svg = grid.render()
        #expect(svg == grid.render())
        let doc = try #require(ElementCollector.parse(svg))
        let cells = doc.elements.filter { $0.name == "rect" && $0.attributes["stroke"] == "#ffffff" }
        #expect(cells.count == 2 * 2 * 2)
        #expect(cells.filter { $0.attributes["fill"] == "url(#no-value)" }.count == 2)
        #expect(cells.contains { $0.attributes["fill"] == "hsl(210, 70%, 96.0%)" })   // the light end
        #expect(cells.contains { $0.attributes["fill"] == "hsl(210, 70%, 34.0%)" })   // the dark end
        #expect(cells.contains { $0.attributes["fill"] == "hsl(210, 70%, 60.6%)" })   // 1e-3 is 4/7 of the way: 96 − 62·4/7
        #expect(doc.text.contains("0.001") && doc.text.contains("singd"))
    }
}

/// A choice at an end of a grid of three continues the grid by its own ratio, round by round, until the
/// choice is interior or `extend` candidates were added.
@Suite struct TuningGridContinuation {
    static let study = tuningStudy.replacingOccurrences(of: "learning_rate = [0.01, 0.001]", with: "learning_rate = [0.1, 0.03, 0.01]")

    /// AdamW's constructed loss is lowest at 0.333, beyond the grid: rounds add 0.1 · (0.1/0.03) = 0.333,
    /// then 0.333 · (0.333/0.1) = 1.11; 0.333 wins.
    static func loss(_ lr: String) -> Double { ["0.01": 0.7, "0.03": 0.6, "0.1": 0.5, "0.333": 0.4, "1.11": 0.45, "3.7": 0.3][lr] ?? 9 }

    static func results(_ plan: StudyPlan) throws -> ([String: CellResult], rounds: Int) {
        var results = [String: CellResult](), rounds = 0
        while case .needs(let round) = plan.tuningProgress(with: results) {
            rounds += 1
            for c in round where results[c.key] == nil {
                let lr = c.optimizer!.parameters["learning_rate"]!.description
                results[c.key] = try tuningCell(c, loss: c.optimizer!.method == "adamw" ? loss(lr) : 0.5)
            }
        }
        return (results, rounds)
    }

    @Test func aChoiceAtTheEndAddsCandidatesUntilItIsInterior() throws {
        let plan = try StudyPlan(try StudyParser.parse(Self.study, file: "tune.toml", quick: false))
        let (results, rounds) = try Self.results(plan)
        #expect(rounds == 3)
        let resolved = try plan.resolved(with: results)
        let adamw = resolved.tuningChoices.last!
        #expect(adamw.scores.map(\.value) == ["0.1", "0.03", "0.01", "0.333", "1.11"])
        #expect(adamw.chosen == "0.333" && adamw.caveat == nil)
        #expect(resolved.tuningGroups.last!.added == 2)
        #expect(resolved.tuningCells.count == plan.tuningCells.count + 2 * 3)
        // KFAC's grids have two values: a choice between two settings, never continued.
        #expect(resolved.tuningGroups.prefix(2).allSatisfy { $0.added == 0 })
        #expect(resolved.spec.training!.optimizers.last!.parameters["learning_rate"]!.description == "0.333")
    }

    /// With `extend = 1` the second continuation (1.11) is not tried: 0.333 is chosen at the end, with a caveat.
    @Test func theContinuationStopsAtExtend() throws {
        let plan = try StudyPlan(try StudyParser.parse(Self.study + "extend = 1\n", file: "tune.toml", quick: false))
        let (results, rounds) = try Self.results(plan)
        #expect(rounds == 2)
        let adamw = try plan.resolved(with: results).tuningChoices.last!
        #expect(adamw.scores.map(\.value) == ["0.1", "0.03", "0.01", "0.333"])
        #expect(adamw.chosen == "0.333")
        #expect(adamw.caveat?.contains("after 1 added candidate") == true)
    }

    /// The smallest end continues downwards by the grid's ratio (0.01 · 0.01/0.03 = 0.00333).
    @Test func theSmallestEndContinuesDownwards() throws {
        let plan = try StudyPlan(try StudyParser.parse(Self.study + "extend = 1\n", file: "tune.toml", quick: false))
        var results = [String: CellResult]()
        while case .needs(let round) = plan.tuningProgress(with: results) {
            for c in round where results[c.key] == nil {
                let lr = Double(c.optimizer!.parameters["learning_rate"]!.description)!
                results[c.key] = try tuningCell(c, loss: c.optimizer!.method == "adamw" ? lr : 0.5)
            }
        }
        let adamw = try plan.resolved(with: results).tuningChoices.last!
        #expect(adamw.scores.map(\.value) == ["0.1", "0.03", "0.01", "0.00333"])
        #expect(adamw.chosen == "0.00333")
    }

    /// Every candidate diverges in every seed (no median at all): the tie goes to the smallest value, and
    /// the grid continues downwards, where a rate may train: here 0.00333 and 0.00111 do, with equal scores.
    @Test func whenNothingTrainsTheSmallestIsChosenAndTheGridContinuesDownwards() throws {
        let plan = try StudyPlan(try StudyParser.parse(Self.study, file: "tune.toml", quick: false))
        var results = [String: CellResult]()
        while case .needs(let round) = plan.tuningProgress(with: results) {
            for c in round where results[c.key] == nil {
                let lr = Double(c.optimizer!.parameters["learning_rate"]!.description)!
                let trains = c.optimizer!.method != "adamw" || lr < 0.005
                results[c.key] = try tuningCell(c, loss: 0.5, diverged: trains ? nil : 2)
            }
        }
        let adamw = try plan.resolved(with: results).tuningChoices.last!
        #expect(adamw.scores.map(\.value) == ["0.1", "0.03", "0.01", "0.00333", "0.00111"])
        #expect(adamw.chosen == "0.00111", "equal scores: the tie goes to the smaller value")
        #expect(adamw.scores.prefix(3).allSatisfy { $0.divergedSeeds == 3 && $0.medianScore.isNaN })
    }

    /// The rounds run through the runner and its cache: the same report from one run and from a rerun.
    @Test func roundsRunThroughTheRunner() throws {
        let text = Self.study.replacingOccurrences(of: "seeds = [1, 2, 3]", with: "seeds = [1, 2]")
        let out = temporaryDirectory("tune-rounds")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let first = try runStudy(text, name: "tune", out: out, jobs: 2)
        #expect(try runStudy(text, name: "tune", out: out, jobs: 1) == first)
        let readme = try String(contentsOfFile: "\(out)/tune/README.md", encoding: .utf8)
        #expect(readme.contains("continues the grid one step beyond it"))
    }
}
