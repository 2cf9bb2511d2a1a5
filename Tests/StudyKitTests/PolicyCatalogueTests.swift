import Testing
import Scalars
import Optimizers
import StudyKit

/// The precision catalogue: every name a study may use reaches the policy type it describes, through
/// the one name-to-type switch.
@Suite struct PolicyCatalogueTests {
    /// What a visit sees: the four roles' format names and the weights' unit roundoff.
    struct Roles: PolicyVisitor {
        func visit<P: PrecisionPolicy>(_: P.Type) -> [String] {
            [P.Weights.formatName, P.Factors.formatName, P.Inverses.formatName, P.Moments.formatName]
        }
    }

    @Test func everyNameReachesTheTypesItsSummarySays() throws {
        let expected: [String: [String]] = [
            "fp64": ["fp64", "fp64", "fp64", "fp64"],
            "fp32": ["fp32", "fp32", "fp32", "fp32"],
            "tf32": [TF32.formatName, TF32.formatName, TF32.formatName, TF32.formatName],
            "fp16": ["fp16", "fp16", "fp16", "fp16"],
            "fp16-sim+sr": [Float16SR.formatName, Float16SR.formatName, Float16SR.formatName, Float16SR.formatName],
            "bf16": ["bf16", "bf16", "bf16", "bf16"],
            "bf16-sim+sr": [BFloat16SR.formatName, BFloat16SR.formatName, BFloat16SR.formatName, BFloat16SR.formatName],
            "bf16/fp32-inverses": ["bf16", "bf16", "fp32", "bf16"],
            "bf16/fp32-curvature": ["bf16", "fp32", "fp32", "bf16"],
            "fp16/fp32-curvature": ["fp16", "fp32", "fp32", "fp16"],
            "fp8-e4m3/fp32-curvature": [FP8E4M3.formatName, "fp32", "fp32", FP8E4M3.formatName],
        ]
        #expect(Set(PolicyCatalogue.names) == Set(expected.keys))
        #expect(PolicyCatalogue.names.count == expected.count)          // no name twice
        for entry in PolicyCatalogue.entries {
            let roles = try PolicyCatalogue.visit(entry.name, Roles())
            #expect(roles == expected[entry.name], "\(entry.name): \(roles)")
        }
        #expect(PolicyCatalogue.entry(named: "bf16")?.weightUnitRoundoff == BFloat16.unitRoundoff)
        #expect(PolicyCatalogue.entry(named: "fp8-e4m3/fp32-curvature")?.weightUnitRoundoff == FP8E4M3.unitRoundoff)
        #expect(PolicyCatalogue.entry(named: "bf17") == nil)
    }
}
