import Foundation
import Testing
import StudyKit

/// The `unstable-vs-stable` rule on constructed cells whose outcome is known by design.
@Suite struct TrainingVerdictTests {
    let spec: StudySpec

    init() throws {
        spec = try StudyParser.parse(tinyStudy, file: "tiny.toml", quick: false)
    }

    /// A finished cell with the given final loss and optional Cholesky failure, decoded through the
    /// cache format (the same path real results take).
    func cell(_ label: String, method: String, _ precision: String, seed: Int, loss: Double, choleskyFailure: Bool = false) throws -> CellResult {
        let events: [[String: Any]] = choleskyFailure ? [["step": 1, "layer": 0, "kind": "cholesky-failure", "detail": "pivot 3 of A", "value": -1e-3]] : []
        let object: [String: Any] = ["key": "\(label)-\(precision)-\(seed)", "optimizer": label, "method": method, "precision": precision,
                                     "seed": seed, "parameters": [String: String](), "records": [[String: Any]](), "events": events,
                                     "stepsCompleted": 6, "finalLoss": loss, "finalTestLoss": loss, "finalTestAccuracy": 0.5,
                                     "roundedConstants": [String]()]
        return try JSONDecoder().decode(CellResult.self, from: JSONSerialization.data(withJSONObject: object))
    }

    /// kfac in bf16 ends at 3× its own fp32 loss but below adamw's much larger fp32 loss: pooling the
    /// baselines (the old rule) hid this; per-configuration ranges must catch it.
    @Test func eachConfigurationIsJudgedAgainstItsOwnBaseline() throws {
        var results = [CellResult]()
        for seed in 1...2 {
            results.append(try cell("kfac", method: "kfac", "fp32", seed: seed, loss: 0.10 + 0.01 * Double(seed)))
            results.append(try cell("kfac", method: "kfac", "bf16", seed: seed, loss: 0.35))
            results.append(try cell("adamw", method: "adamw", "fp32", seed: seed, loss: 1.0 + 0.01 * Double(seed)))
            results.append(try cell("adamw", method: "adamw", "bf16", seed: seed, loss: 1.0))
        }
        let v = Verdict.training(spec, results)
        #expect(v.reproduced == true, "\(v.evidence)")
        #expect(v.evidence.contains("kfac in bf16: 2 of 2 cells"))
        #expect(v.evidence.contains("adamw in bf16: 0 of 2 cells"))
    }

    /// A stable method whose bf16 cells end above their own fp32 range, and an unstable one that
    /// matches fp32: the prediction fails on both counts.
    @Test func matchingLossesAreNotInstability() throws {
        var results = [CellResult]()
        for seed in 1...2 {
            results.append(try cell("kfac", method: "kfac", "fp32", seed: seed, loss: 0.10 + 0.01 * Double(seed)))
            results.append(try cell("kfac", method: "kfac", "bf16", seed: seed, loss: 0.11))
            results.append(try cell("adamw", method: "adamw", "fp32", seed: seed, loss: 0.20 + 0.01 * Double(seed)))
            results.append(try cell("adamw", method: "adamw", "bf16", seed: seed, loss: 0.60))
        }
        let v = Verdict.training(spec, results)
        #expect(v.reproduced == false, "\(v.evidence)")
        #expect(v.evidence.contains("kfac in bf16: 0 of 2 cells"))
        #expect(v.evidence.contains("adamw in bf16: 2 of 2 cells"))
    }

    /// A Cholesky failure counts as instability even when the final loss recovered.
    @Test func choleskyFailureCountsAsFailure() throws {
        var results = [CellResult]()
        for seed in 1...2 {
            results.append(try cell("kfac", method: "kfac", "fp32", seed: seed, loss: 0.1))
            results.append(try cell("kfac", method: "kfac", "bf16", seed: seed, loss: 0.1, choleskyFailure: seed == 1))
            results.append(try cell("adamw", method: "adamw", "fp32", seed: seed, loss: 0.2))
            results.append(try cell("adamw", method: "adamw", "bf16", seed: seed, loss: 0.2))
        }
        let v = Verdict.training(spec, results)
        #expect(v.reproduced == true, "\(v.evidence)")
        #expect(v.evidence.contains("kfac in bf16: 1 of 2 cells"))
    }
}
