import Foundation
import Testing
import StudyKit

/// The `some-beats-all` rule on constructed cells: each outcome, for the loss part and the trend part.
@Suite struct SomeBeatsAllTests {
    static let study = """
        title = "t"
        claim = "T"
        kind = "training"
        question = "q"
        prediction = "p"

        [problem]
        dataset = "synthetic-classification"
        samples = 64
        features = 4
        outputs = 2
        hidden = [3]

        [training]
        steps = 20
        batch_size = 8
        seeds = [1, 2, 3, 4, 5, 6, 7]
        precisions = ["fp64"]

        [[optimizer]]
        method = "sgd"

        [[optimizer]]
        method = "adam"

        [[optimizer]]
        method = "rllc"

        [verdict]
        rule = "some-beats-all"
        candidates = ["rllc"]
        baselines = ["sgd", "adam"]
        precision = "fp64"
        trend_metric = "kappa_MtM"
        trend = "grows"
        """

    /// Cells for seeds 1…7: sgd at 1 + small seed noise, adam at 0.9 + noise (the best baseline),
    /// rllc at `0.9 + offset(seed)`, with κ going from 10 to `10·kappaGrowth`.
    static func cells(rllc offset: (Int) -> Double, kappaGrowth: Double) throws -> [CellResult] {
        var out = [CellResult]()
        for seed in 1...7 {
            let noise = 0.001 * Double(seed % 3)
            out.append(try constructedCell("sgd", method: "sgd", "fp64", seed: seed, loss: 1 + noise))
            out.append(try constructedCell("adam", method: "adam", "fp64", seed: seed, loss: 0.9 + noise))
            var r = try constructedCell("rllc", method: "rllc", "fp64", seed: seed, loss: 0.9 + noise + offset(seed))
            r.records += [MetricRecord(step: 1, metric: "kappa_MtM", layer: -1, value: 10),
                         MetricRecord(step: 20, metric: "kappa_MtM", layer: -1, value: 10 * kappaGrowth * (1 + 0.01 * Double(seed)))]
            out.append(r)
        }
        return out
    }

    static func verdict(_ cells: [CellResult], _ text: String = study) throws -> Bool? {
        try Verdict.training(try StudyParser.parse(text, file: "t.toml", quick: false), cells).reproduced
    }

    @Test func aCandidateWhoseWholeIntervalIsBelowTheBestBaselineReproduces() throws {
        #expect(try Self.verdict(try Self.cells(rllc: { _ in -0.05 }, kappaGrowth: 3)) == true)
    }

    @Test func everyCandidateAboveTheBestBaselineIsNotReproduced() throws {
        #expect(try Self.verdict(try Self.cells(rllc: { _ in 0.05 }, kappaGrowth: 3)) == false)
    }

    /// Lower in 4 of 7 seeds by a hair, higher in 3: a tie with its effect size, not "not reproduced".
    @Test func aTieIsUndecided() throws {
        let cells = try Self.cells(rllc: { $0 % 2 == 0 ? 0.01 : -0.01 }, kappaGrowth: 3)
        let spec = try StudyParser.parse(Self.study, file: "t.toml", quick: false)
        let v = try Verdict.training(spec, cells)
        #expect(v.reproduced == nil)
        #expect(v.evidence.contains("ties: rllc"))
    }

    /// The loss claim holds but κ falls: the trend part fails the verdict; a flat κ leaves it undecided.
    @Test func theTrendPartIsJudgedToo() throws {
        #expect(try Self.verdict(try Self.cells(rllc: { _ in -0.05 }, kappaGrowth: 0.2)) == false)
        let flat = try Self.cells(rllc: { _ in -0.05 }, kappaGrowth: 1).map { c -> CellResult in
            var c = c
            if c.method == "rllc" { c.records[c.records.count - 1].value = c.seed % 2 == 0 ? 10.5 : 9.5 }
            return c
        }
        #expect(try Self.verdict(flat) == nil)
    }

    @Test func aBadTrendNamesTheField() throws {
        do { _ = try StudyParser.parse(Self.study.replacingOccurrences(of: "trend = \"grows\"", with: "trend = \"up\""), file: "t.toml", quick: false); Issue.record("accepted") }
        catch { #expect(error.field == "verdict.trend") }
        do { _ = try StudyParser.parse(Self.study.replacingOccurrences(of: "precision = \"fp64\"\ntrend_metric", with: "precision = \"fp16\"\ntrend_metric"), file: "t.toml", quick: false); Issue.record("accepted") }
        catch { #expect(error.field == "verdict.precision") }
    }
}
