import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks

/// A network's forward and backward pass with run-time formats (`RuntimeFloat`) against the compile-time
/// `SimulatedFloat` of the same format: the loss, every gradient and every curvature statistic agree bit
/// for bit, for each activation and loss, in tf32 (nearest-even) and in bf16 with stochastic rounding.
@Suite struct RuntimeFormatNetworks {
    typealias R = RuntimeFloat<RuntimeSlot0>

    static func pass<T: Scalar>(_: T.Type, loss: LossFunction, activation: Activation) throws -> [UInt64] {
        try StochasticRounding.withContext(seed: 4, stream: 6) {
            let spec = try MLPSpec(widths: [5, 7, 6, 3], activation: activation, loss: loss)
            let net = MLP<Double>(spec: spec, seed: 3, accumulation: .perOperation).converted(to: T.self)
            var rng = SplitMix64(seed: 12)
            let x = Matrix<Double>(rows: 5, columns: 9) { _, _ in rng.nextGaussian() }.converted(to: T.self)
            let targets: Targets<T> = loss == .crossEntropy
                ? .classes((0..<9).map { $0 % 3 })
                : .values(Matrix<Double>(rows: 3, columns: 9) { _, _ in rng.nextGaussian() }.converted(to: T.self))
            let r = try net.backward(x, targets: targets)
            var bits = [r.loss.doubleValue.bitPattern]
            for layer in r.layers {
                for m in [layer.inputs, layer.outputGradients, layer.gradient] { bits += m.elements.map { $0.doubleValue.bitPattern } }
            }
            return bits
        }
    }

    static let cases: [(LossFunction, Activation)] = [(.crossEntropy, .tanh), (.crossEntropy, .gelu), (.meanSquaredError, .relu), (.meanSquaredError, .sigmoid)]

    @Test(arguments: cases)
    func backwardPassesAgreeBitForBit(loss: LossFunction, activation: Activation) throws {
        let tf32 = try Self.pass(TF32.self, loss: loss, activation: activation)
        #expect(try RuntimeFormats.withFormats([try RuntimeFormat.named("tf32")]) { try Self.pass(R.self, loss: loss, activation: activation) } == tf32)
        let sr = try Self.pass(SimulatedFloat<Rounded<BFloat16Format, Stochastic>>.self, loss: loss, activation: activation)
        #expect(try RuntimeFormats.withFormats([try RuntimeFormat.named("bf16+sr")]) { try Self.pass(R.self, loss: loss, activation: activation) } == sr)
        #expect(sr != tf32)
    }
}
