import Foundation
import Testing
import StudyKit
import Optimizers

/// Every file of `Tests/Malformed/` is a study with one thing wrong; `expected.tsv` holds, for each,
/// the tier it fails in and the exact error (file, field, value and reason). Parsing must give that
/// error — not a crash, not a run, not a verdict.
@Suite struct MalformedCorpus {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Malformed").path

    static let expected: [String: (tier: String, error: String)] = {
        guard let text = try? String(contentsOfFile: directory + "/expected.tsv", encoding: .utf8) else { return [:] }
        var out = [String: (String, String)]()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t", maxSplits: 2).map(String.init)
            if parts.count == 3 { out[parts[0]] = (parts[1], parts[2].replacingOccurrences(of: "\\n", with: "\n")) }
        }
        return out
    }()

    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".toml") }.sorted()

    @Test func theCorpusHasAtLeastAHundredFilesEachWithItsExpectedError() {
        #expect(Self.files.count >= 100)
        #expect(Set(Self.files) == Set(Self.expected.keys))
    }

    @Test(arguments: files)
    func aMalformedStudyGetsItsExactError(_ name: String) throws {
        let text = try String(contentsOfFile: "\(Self.directory)/\(name)", encoding: .utf8)
        guard let want = Self.expected[name] else { Issue.record("\(name) has no line in expected.tsv"); return }
        do {
            _ = try StudyPlan(try StudyParser.parse(text, file: name, quick: false))
            #expect(want.tier == "quick", "\(name) parses in the full tier")
            do {
                _ = try StudyPlan(try StudyParser.parse(text, file: name, quick: true))
                Issue.record("\(name): no error in either tier")
            } catch { #expect(error.description == want.error) }
        } catch {
            #expect(want.tier == "full", "\(name) fails in the full tier: \(error)")
            #expect(error.description == want.error)
        }
    }
}

@Suite struct InputValidation {
    func parse(_ text: String) throws(StudyError) -> StudySpec { try StudyParser.parse(text, file: "t.toml", quick: false) }

    /// A rule over a method absent from the results (cells lost, say) is an error, never a verdict.
    @Test func aVerdictWithNoCellsToJudgeIsAnError() throws {
        let spec = try parse(tinyStudy)
        let results = [CellResult]()
        #expect(throws: StudyError.self) { try Verdict.training(spec, results) }
    }

    @Test func aStudyBeyondTheResourceLimitsIsFlaggedAndATinyOneIsNot() throws {
        let huge = tinyStudy.replacingOccurrences(of: "samples = 96", with: "samples = 100000")
            .replacingOccurrences(of: "features = 6", with: "features = 4096")
            .replacingOccurrences(of: "hidden = [5]", with: "hidden = [4096, 4096, 4096]")
        let big = try #require(ResourceEstimate.of(try StudyPlan(try parse(huge)), jobs: 2))
        // The data alone: 100,000 × 4099 Doubles, three copies = 9.8 GB, above the 8 GiB limit.
        #expect(big.memoryBytes >= 3 * 100_000 * 4099 * 8)
        #expect(big.exceedsLimits)
        let small = try #require(ResourceEstimate.of(try StudyPlan(try parse(tinyStudy)), jobs: 2))
        #expect(!small.exceedsLimits)
    }

    /// Every monitor any catalogue optimizer emits (each method, each value of each of its choices) is
    /// an instance of a `MonitorCatalogue` template, so the parser's check of `monitors` cannot go stale.
    @Test func everyEmittedMonitorIsInTheCatalogue() throws {
        var emitted = Set<String>(), runnerMetrics: Set<String> = ["departure"]
        var ran = 0
        for d in OptimizerCatalogue.descriptors {
            var configs = [""]
            for p in d.parameters { if case .choice(let values) = p.kind { configs += values.map { "\(p.key) = \"\($0)\"" } } }
            for c in configs {
                let study = """
                    title = "monitors"
                    claim = "T"
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
                    steps = 12
                    batch_size = 16
                    seeds = [1]
                    precisions = ["fp64"]
                    monitors = ["*"]
                    [[optimizer]]
                    method = "\(d.name)"
                    \(c)
                    [[optimizer]]
                    method = "adamw"
                    label = "first-order"
                    [verdict]
                    rule = "converges-across-grid"
                    converges = ["\(d.name)"]
                    diverges = ["adamw"]
                    precision = ["fp64"]
                    """
                guard let spec = try? parse(study) else { continue }   // a choice that needs other keys set
                ran += 1
                let out = temporaryDirectory("monitors")
                defer { try? FileManager.default.removeItem(atPath: out) }
                let results = try StudyRunner(RunOptions(outputDirectory: out, jobs: 2, quick: false, progress: false)).run(try StudyPlan(spec))
                // What the runner records for a method without monitors (AdamW) is not a monitor.
                runnerMetrics.formUnion(results.values.filter { $0.optimizer == "first-order" }.flatMap { $0.records.map(\.metric) })
                for r in results.values where r.optimizer != "first-order" { emitted.formUnion(r.records.map(\.metric)) }
            }
        }
        #expect(ran >= OptimizerCatalogue.descriptors.count)
        #expect(runnerMetrics.isSuperset(of: ["loss", "test_loss", "test_accuracy"]))
        emitted.subtract(runnerMetrics)
        #expect(emitted.count > 20)
        for name in emitted.sorted() {
            #expect(MonitorCatalogue.templates.contains { MonitorCatalogue.matches(name, template: $0) }, "\(name) is emitted but not catalogued")
        }
    }

    @Test func monitorPatternsMatchTemplates() {
        #expect(MonitorCatalogue.matches("kappa_A", template: "kappa_{side}"))
        #expect(MonitorCatalogue.matches("inv_res_Ginv", template: "inv_res_{side}inv"))
        #expect(!MonitorCatalogue.matches("kappa_", template: "kappa_{side}"))
        #expect(MonitorCatalogue.matchesSome("kappa*") && MonitorCatalogue.matchesSome("kappa_A*") && MonitorCatalogue.matchesSome("law_norm"))
        #expect(!MonitorCatalogue.matchesSome("kapa*") && !MonitorCatalogue.matchesSome("kappa_Q_damped"))
    }

    @Test func aStudyFileCanBeRunByPath() throws {
        let dir = temporaryDirectory("bypath")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tinyStudy.write(toFile: "\(dir)/mine.toml", atomically: true, encoding: .utf8)
        let specs = try StudyCatalogue.load(directory: "/nonexistent", only: ["\(dir)/mine.toml"], quick: false)
        #expect(specs.map(\.name) == ["mine"])
    }
}

@Suite struct TrustInResults {
    /// An entry edited by hand (still valid JSON) or filed under another key is not used.
    @Test func aCacheEntryIsBoundToItsKeyAndContent() throws {
        let payload = Array("{\"loss\":0.5}".utf8)
        let stored = ResultCache.wrap(payload, key: "cell-A")
        #expect(try ResultCache.unwrap(stored, key: "cell-A").get() == payload)
        var edited = stored
        edited[edited.count - 3] = UInt8(ascii: "6")                 // 0.5 → 0.6, still JSON
        #expect((try? ResultCache.unwrap(edited, key: "cell-A").get()) == nil)
        #expect((try? ResultCache.unwrap(stored, key: "cell-B").get()) == nil)
        #expect((try? ResultCache.unwrap(payload, key: "cell-A").get()) == nil)   // no integrity line
    }

    /// A study run whose cache entry was edited recomputes the cell: the report equals a clean run's.
    @Test func anEditedCacheEntryNeverReachesAReport() throws {
        let a = temporaryDirectory("clean"), b = temporaryDirectory("edited")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let clean = try runStudy(tinyStudy, out: a, jobs: 2)
        _ = try runStudy(tinyStudy, out: b, jobs: 2)
        let dir = "\(b)/.cache/tiny/cells"
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) {
            var text = try String(contentsOfFile: "\(dir)/\(f)", encoding: .utf8)
            #expect(text.contains("\"finalLoss\" : "))
            text = text.replacingOccurrences(of: "\"finalLoss\" : ", with: "\"finalLoss\" : 1")
            try text.write(toFile: "\(dir)/\(f)", atomically: true, encoding: .utf8)
        }
        #expect(try runStudy(tinyStudy, out: b, jobs: 2) == clean)
    }

    /// Provenance lives apart from the content `verify` compares; a changed machine is named.
    @Test func provenanceIsKeptApartFromTheManifest() throws {
        let out = temporaryDirectory("prov")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try runStudy(tinyStudy, out: out, jobs: 2)
        let manifest = try JSONParser.parse(bytes: try AtomicFile.read("\(out)/tiny/manifest.json"))
        #expect(manifest["git_commit"] == nil && manifest["cpu"] == nil)
        let provenance = try JSONParser.parse(bytes: try AtomicFile.read("\(out)/tiny/provenance.json"))
        #expect(provenance["git_commit"]?.stringValue != nil)
        #expect(Provenance.differences(from: provenance).isEmpty)
        guard case .object(var fields) = provenance else { Issue.record("not an object"); return }
        fields["cpu"] = .string("Another CPU")
        #expect(Provenance.differences(from: .object(fields)).first?.hasPrefix("cpu: Another CPU → ") == true)
    }

    /// A quick-tier report is never written over a full-tier one (nor the reverse).
    @Test func tiersDoNotMixInOneDirectory() throws {
        let out = temporaryDirectory("tiers")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try runStudy(tinyStudy, out: out, jobs: 2)
        let plan = try StudyPlan(try StudyParser.parse(tinyStudy, file: "tiny.toml", quick: true))
        let results = try StudyRunner(RunOptions(outputDirectory: out, jobs: 2, quick: true, progress: false)).run(plan)
        #expect(throws: StudyError.self) { try ReportWriter.write(plan, results: results, quick: true, to: out) }
    }

    /// cells.csv: one row per cell, numeric columns numeric, and a variant column.
    @Test func cellsCSVHasOneTypedRowPerCell() throws {
        let out = temporaryDirectory("cells")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try runStudy(tinyStudy, out: out, jobs: 2)
        let lines = try String(contentsOfFile: "\(out)/tiny/cells.csv", encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "study,cell,method,variant,precision,seed,inverse_interval,learning_rate")
        #expect(lines.count == 1 + 8)
        #expect(lines.contains("tiny,kfac,kfac,kfac,bf16,2,2,0.05"))
        #expect(lines.contains("tiny,adamw,adamw,adamw,fp32,1,,0.01"))
    }

    /// The ETA extrapolates the mean time per finished cell, with sub-second resolution.
    @Test func progressLinesCarryDoneTotalAndETA() {
        let start = ContinuousClock.now - .seconds(10)
        let text = StudyRunner.progressText(title: "r9: cells", done: 1, total: 3, start: start)
        #expect(text.hasPrefix("r9: cells: 1/3 cells, 10s elapsed, ETA 20s"), "\(text)")
        #expect(StudyRunner.progressText(title: "x", done: 0, total: 3, start: start).hasSuffix("ETA unknown"))
    }
}
