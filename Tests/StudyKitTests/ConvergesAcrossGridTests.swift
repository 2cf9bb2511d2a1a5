import Foundation
import Testing
import StudyKit

/// The `converges-across-grid` rule on constructed cells: reproduced, not reproduced, and undecided
/// when a cell that peaked just under the divergence threshold would flip the verdict.
@Suite struct ConvergesAcrossGridTests {
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
        seeds = [1, 2]
        precisions = ["fp32"]
        divergence_factor = 10

        [[optimizer]]
        method = "mkor"

        [[optimizer]]
        method = "sgd"

        [verdict]
        rule = "converges-across-grid"
        converges = ["mkor"]
        diverges = ["sgd"]
        precision = ["fp32"]
        """

    /// A cell with losses 1, `peak`, 0.5 (or diverged at step 2).
    static func cell(_ method: String, seed: Int, peak: Double, diverged: Bool = false) throws -> CellResult {
        var c = try constructedCell(method, method: method, "fp32", seed: seed, loss: diverged ? .nan : 0.5, diverged: diverged ? 2 : nil)
        c.records = [1.0, peak, 0.5].enumerated().map { MetricRecord(step: $0.offset + 1, metric: "loss", layer: -1, value: $0.element) }
        return c
    }

    static func verdict(_ cells: [CellResult]) throws -> Bool? {
        try Verdict.training(try StudyParser.parse(study, file: "t.toml", quick: false), cells).reproduced
    }

    @Test func outcomes() throws {
        let sgdDiverges = [try Self.cell("sgd", seed: 1, peak: 50, diverged: true), try Self.cell("sgd", seed: 2, peak: 1)]
        let mkorCalm = [try Self.cell("mkor", seed: 1, peak: 1.2), try Self.cell("mkor", seed: 2, peak: 2)]
        #expect(try Self.verdict(mkorCalm + sgdDiverges) == true)
        #expect(try Self.verdict([try Self.cell("mkor", seed: 1, peak: 50, diverged: true), mkorCalm[1]] + sgdDiverges) == false)
        // MKOR peaked at 9.6× without crossing 10×: counted as diverged, the verdict would flip.
        #expect(try Self.verdict([try Self.cell("mkor", seed: 1, peak: 9.6), mkorCalm[1]] + sgdDiverges) == nil)
        // SGD never crossed, but one seed peaked at 7×: the claim about SGD rests on the threshold.
        #expect(try Self.verdict(mkorCalm + [try Self.cell("sgd", seed: 1, peak: 7), try Self.cell("sgd", seed: 2, peak: 1)]) == nil)
        // Nothing near the threshold and SGD never diverges: not reproduced.
        #expect(try Self.verdict(mkorCalm + [try Self.cell("sgd", seed: 1, peak: 2), try Self.cell("sgd", seed: 2, peak: 1)]) == false)
    }
}
