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

    /// Two seeds of kfac and adamw in fp32 and bf16; each closure gives a seed's final loss.
    func scenario(kfac32: (Int) -> Double, kfac16: (Int) -> Double, adamw32: (Int) -> Double, adamw16: (Int) -> Double,
                  failingKFACSeed: Int? = nil) throws -> Verdict {
        var results = [CellResult]()
        for seed in 1...2 {
            results.append(try cell("kfac", method: "kfac", "fp32", seed: seed, loss: kfac32(seed)))
            results.append(try cell("kfac", method: "kfac", "bf16", seed: seed, loss: kfac16(seed), choleskyFailure: seed == failingKFACSeed))
            results.append(try cell("adamw", method: "adamw", "fp32", seed: seed, loss: adamw32(seed)))
            results.append(try cell("adamw", method: "adamw", "bf16", seed: seed, loss: adamw16(seed)))
        }
        return try Verdict.training(spec, results)
    }

    /// kfac in bf16 ends at 3× its own fp32 loss but below adamw's much larger fp32 loss: pooling the
    /// baselines (the old rule) hid this; per-configuration ranges must catch it.
    @Test func eachConfigurationIsJudgedAgainstItsOwnBaseline() throws {
        let v = try scenario(kfac32: { 0.10 + 0.01 * Double($0) }, kfac16: { _ in 0.35 },
                             adamw32: { 1.0 + 0.01 * Double($0) }, adamw16: { _ in 1.0 })
        #expect(v.reproduced == true, "\(v.evidence)")
        #expect(v.evidence.contains("kfac in bf16: 2 of 2 cells"))
        #expect(v.evidence.contains("adamw in bf16: 0 of 2 cells"))
    }

    /// A stable method whose bf16 cells end above their own fp32 range, and an unstable one that
    /// matches fp32: the prediction fails on both counts.
    @Test func matchingLossesAreNotInstability() throws {
        let v = try scenario(kfac32: { 0.10 + 0.01 * Double($0) }, kfac16: { _ in 0.11 },
                             adamw32: { 0.20 + 0.01 * Double($0) }, adamw16: { _ in 0.60 })
        #expect(v.reproduced == false, "\(v.evidence)")
        #expect(v.evidence.contains("kfac in bf16: 0 of 2 cells"))
        #expect(v.evidence.contains("adamw in bf16: 2 of 2 cells"))
    }

    /// A Cholesky failure counts as instability even when the final loss recovered.
    @Test func choleskyFailureCountsAsFailure() throws {
        let v = try scenario(kfac32: { _ in 0.1 }, kfac16: { _ in 0.1 }, adamw32: { _ in 0.2 }, adamw16: { _ in 0.2 }, failingKFACSeed: 1)
        #expect(v.reproduced == true, "\(v.evidence)")
        #expect(v.evidence.contains("kfac in bf16: 1 of 2 cells"))
    }
}
