import Testing
import Foundation
import StudyKit

/// The focused experiments R1, R7, R8, R10: their study files parse in both tiers, malformed
/// parameters are rejected with the field named, and each quick tier runs to a decided verdict.
@Suite(.serialized) struct ExperimentsTests {
    struct Case: Sendable, CustomStringConvertible {
        let study: String
        let kind: StudyKind
        /// (text to replace in the file, replacement, field the error must name)
        let malformed: [(String, String, String)]
        let plots: [String]
        var description: String { study }
    }

    static let cases: [Case] = [
        Case(study: "r1-ikfac-tracking", kind: .ikfacTracking,
             malformed: [("damping = 1e-3", "damping = \"small\"", "experiment.damping"),
                         ("slope_band = [1.8, 2.2]", "slope_band = [2.2, 1.8]", "experiment.slope_band"),
                         ("formats = [\"mpfr113\", \"mpfr256\", \"fp32\", \"bf16\"]", "formats = [\"mpfr113\", \"bf17\"]", "experiment.formats[1]")],
             plots: ["gap-vs-beta1.svg", "trajectory-gap-vs-beta1.svg"]),
        Case(study: "r7-update-swamping", kind: .updateSwamping,
             malformed: [("variants = [\"fp64\", \"fp32\", \"fp32-master\", \"kahan\", \"sr\", \"rne\"]", "variants = [\"fp64\", \"nearest\"]", "experiment.variants[1]"),
                         ("learning_rate = 0.05", "learning_rate = -1", "experiment.learning_rate"),
                         ("steps = 2000", "steps = 2000.5", "experiment.steps")],
             plots: ["loss.svg", "stall-fraction.svg", "spread-vs-n.svg"]),
        Case(study: "r8-loss-scaling-overflow", kind: .lossScalingOverflow,
             malformed: [("modes = [\"unscale-after\", \"unscale-before\", \"fp32-factors\"]", "modes = [\"unscale-sometimes\"]", "experiment.modes[0]"),
                         ("batch = 32", "batch = 0", "experiment.batch"),
                         ("beta2 = 0.999", "beta2 = \"high\"", "experiment.beta2")],
             plots: ["max-square-by-scale.svg"]),
        Case(study: "r10-kfac-exactness", kind: .kfacExactness,
             malformed: [("bias = [\"without\", \"with\"]", "bias = [\"maybe\"]", "experiment.bias[0]"),
                         ("control_activation = \"tanh\"", "control_activation = \"softsign\"", "experiment.control_activation"),
                         ("samples = 8", "samples = [8]", "experiment.samples")],
             plots: ["bound-ratio.svg"]),
    ]

    static var studiesDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Studies").path
    }

    func text(_ c: Case) throws -> String {
        try String(contentsOfFile: "\(Self.studiesDirectory)/\(c.study).toml", encoding: .utf8)
    }

    @Test(arguments: cases)
    func studyFileParsesInBothTiers(_ c: Case) throws {
        for quick in [false, true] {
            let spec = try StudyCatalogue.loadFile("\(Self.studiesDirectory)/\(c.study).toml", quick: quick)
            #expect(spec.kind == c.kind)
            let plan = try StudyPlan(spec)
            #expect(!plan.cells.isEmpty)
            #expect(Set(plan.cells.map(\.key)).count == plan.cells.count, "cell keys must be distinct")
        }
        let full = try StudyPlan(StudyCatalogue.loadFile("\(Self.studiesDirectory)/\(c.study).toml", quick: false))
        let quick = try StudyPlan(StudyCatalogue.loadFile("\(Self.studiesDirectory)/\(c.study).toml", quick: true))
        #expect(Set(full.cells.map(\.key)) != Set(quick.cells.map(\.key)), "the quick tier must change the cells")
    }

    @Test(arguments: cases)
    func malformedParametersNameTheField(_ c: Case) throws {
        let original = try text(c)
        var edits = c.malformed
        edits.append(("[experiment]\n", "[experiment]\nbogus_key = 1\n", "experiment.bogus_key"))
        for (old, new, field) in edits {
            #expect(original.contains(old), "the study file no longer contains \(old)")
            let bad = original.replacingOccurrences(of: old, with: new)
            guard let e = Self.planningError(bad, file: "\(c.study).toml") else {
                Issue.record("\(c.study): \(new) was accepted"); continue
            }
            #expect(e.field == field, "\(e)")
            #expect(e.file == "\(c.study).toml")
            #expect(!e.value.isEmpty)
        }
    }

    /// The error that parsing and planning `text` raise, or nil when it is accepted.
    static func planningError(_ text: String, file: String) -> StudyError? {
        do throws(StudyError) {
            _ = try StudyPlan(try StudyParser.parse(text, file: file, quick: false))
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: cases)
    func quickTierRunsToADecidedVerdict(_ c: Case) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mantissa-experiments-\(c.study)-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try StudyCatalogue.loadFile("\(Self.studiesDirectory)/\(c.study).toml", quick: true)
        let plan = try StudyPlan(spec)
        let results = try StudyRunner(RunOptions(outputDirectory: dir, jobs: 2, quick: true, progress: false)).run(plan)
        #expect(results.count == plan.cells.count)
        let verdict = try ReportWriter.write(plan, results: results, quick: true, to: dir)
        #expect(verdict.reproduced != nil, "\(c.study): \(verdict.evidence)")
        let hasNumber = verdict.evidence.contains { $0.isNumber }
        #expect(hasNumber)
        for f in ["README.md", "results.csv", "events.csv", "manifest.json"] + c.plots.map({ "plots/\($0)" }) {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(c.study)/\(f)"), "\(c.study)/\(f)")
        }
        let readme = try String(contentsOfFile: "\(dir)/\(c.study)/README.md", encoding: .utf8)
        #expect(readme.contains("|---"), "at least one Markdown table")
        // Determinism: a second run without the cache gives the same results.
        let again = try StudyRunner(RunOptions(outputDirectory: dir + "-again", jobs: 1, quick: true, progress: false, useCache: false)).run(plan)
        defer { try? FileManager.default.removeItem(atPath: dir + "-again") }
        for (k, r) in results { #expect(again[k]?.records == r.records, "\(c.study) cell \(r.optimizer) is not deterministic") }
    }
}
