import Foundation
import Testing
import Scalars
import LinearAlgebra
import Networks
import Optimizers
import StudyKit

/// Comparable roles in comparable precisions, and loss scaling that changes nothing it should not.
@Suite struct PolicyRolesTests {
    /// `bf16/fp32-inverses` must give SINGD's K and C fp32, like KFAC's inverses (review rule 6 of Docs/Reports.md).
    @Test func singdKeepsKAndCInTheInversesRole() {
        typealias Setting = MixedPolicy<BFloat16, BFloat16, Float, BFloat16>
        #expect(SINGD<Setting>.F.self == Float.self)
        #expect(KFAC<Setting>.I.self == Float.self)
        #expect(Jorge<Setting>.I.self == Float.self && Shampoo<Setting>.I.self == Float.self)
    }

    /// A power-of-two loss scale must not change fp16 gradients beyond what subnormals explain. Before the
    /// fix the divisor N·S was formed in fp16 and overflowed for N·S > 65504 (here 128·1024), zeroing
    /// every gradient. Derivation of the last layer's bound (no backpropagation involved): scaling by
    /// S = 2¹⁰ is exact, so a product ĝ·a rounds identically scaled or not unless the unscaled product is
    /// subnormal, where the two differ by at most the subnormal spacing 2⁻²⁴; summed over N products and
    /// divided by N that is ≤ 2⁻²⁴, plus one rounding of the quotient (u = 2⁻¹¹ of |g|) on each side.
    @Test func aPowerOfTwoLossScaleLeavesFp16GradientsWithinSubnormalEffects() throws {
        let spec = try MLPSpec(widths: [4, 6, 3])
        let net = MLP<Float16>(spec: spec, seed: 3, accumulation: .perOperation)
        let x = Matrix<Float16>(rows: 4, columns: 128) { i, j in Float16(Double((i * 7 + j * 3) % 11) / 11 - 0.5) }
        let labels = (0..<128).map { $0 % 3 }
        let plain = try net.backward(x, targets: .classes(labels))
        for unscale in LossScaling.UnscalePoint.allCases {
            let scaled = try net.backward(x, targets: .classes(labels), lossScaling: LossScaling(scale: 1024, unscale: unscale))
            let last = plain.layers.count - 1
            for (a, b) in zip(scaled.layers[last].gradient.elements, plain.layers[last].gradient.elements) {
                let (da, db) = (Double(a), Double(b))
                #expect(abs(da - db) <= 0x1p-24 + 0x1p-10 * abs(db))
            }
            for l in plain.layers.indices {
                let p = plain.layers[l].gradient.elements.map(Double.init), s = scaled.layers[l].gradient.elements.map(Double.init)
                let norm = p.map { $0 * $0 }.reduce(0, +).squareRoot()
                let difference = zip(p, s).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                #expect(norm > 0 && difference <= 0x1p-6 * norm)
            }
        }
    }
}
