import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks
import Optimizers

/// Optimizers run with run-time formats (`RuntimeFloat` in every role) against the same optimizers with
/// the compile-time `SimulatedFloat` types of the same formats: bit-identical weights after several
/// steps of KFAC, SINGD and Jorge, for a uniform policy and for one with a different format in each
/// role, with stochastic rounding in some roles (so the random draws must also match one for one).
@Suite struct RuntimePolicyEqualsCompiledPolicy {
    typealias R0 = RuntimeFloat<RuntimeSlot0>
    typealias R1 = RuntimeFloat<RuntimeSlot1>
    typealias R2 = RuntimeFloat<RuntimeSlot2>
    typealias R3 = RuntimeFloat<RuntimeSlot3>

    /// Eight steps of `method` from two layers' statistics, the inverses refreshed every other step;
    /// the weights' bit patterns at the end.
    static func trajectory<P: PrecisionPolicy>(_: P.Type, _ method: String) throws -> [UInt64] {
        try StochasticRounding.withContext(seed: 9, stream: 2) {
            var out: [UInt64] = []
            for seed: UInt64 in 1...2 {
                let (abar, ghat, grad, w0) = Independent.layer(dOut: 4, dIn: 6, n: 8, seed: seed)
                typealias W = P.Weights
                let stats = [LayerStatistics(inputs: abar.converted(to: W.self), outputGradients: ghat.converted(to: W.self),
                                             gradient: grad.converted(to: W.self))]
                var w = [w0.converted(to: W.self)]
                switch method {
                case "kfac":
                    var h = KFAC<P>.Hyperparameters(); h.inverseInterval = 2; h.learningRate = 0.05
                    var o = KFAC<P>(h)
                    for t in 1...8 { _ = try o.step(weights: &w, layers: stats, step: t) }
                case "singd":
                    var h = SINGD<P>.Hyperparameters(); h.interval = 2; h.learningRate = 0.05; h.factorLearningRate = 0.1
                    var o = SINGD<P>(h)
                    for t in 1...8 { _ = try o.step(weights: &w, layers: stats, step: t) }
                default:
                    var h = Jorge<P>.Hyperparameters(); h.learningRate = 0.05
                    var o = Jorge<P>(h)
                    for t in 1...8 { _ = try o.step(weights: &w, layers: stats, step: t) }
                }
                out += w[0].elements.map { $0.doubleValue.bitPattern }
            }
            return out
        }
    }

    static let methods = ["kfac", "singd", "jorge"]

    @Test(arguments: methods)
    func uniformStochasticBFloat16(_ method: String) throws {
        typealias BF16SR = SimulatedFloat<Rounded<BFloat16Format, Stochastic>>
        let compiled = try Self.trajectory(Uniform<BF16SR>.self, method)
        let runtime = try RuntimeFormats.withFormats([try RuntimeFormat.named("bf16+sr")]) {
            try Self.trajectory(Uniform<R0>.self, method)
        }
        #expect(compiled == runtime)
        #expect(compiled.contains { Double(bitPattern: $0).isFinite })
    }

    /// A different format in every role: tf32 weights, fp16 factors with SR, bf16 inverses, e5m2 moments.
    @Test(arguments: methods)
    func mixedRoles(_ method: String) throws {
        typealias Mixed = MixedPolicy4<TF32, SimulatedFloat<Rounded<Float16Format, Stochastic>>,
                                       SimulatedFloat<BFloat16Format>, FP8E5M2>
        let compiled = try Self.trajectory(Mixed.self, method)
        let formats = [try RuntimeFormat.named("tf32"), try RuntimeFormat.named("fp16+sr"),
                       try RuntimeFormat.named("bf16"), try RuntimeFormat.named("fp8-e5m2")]
        let runtime = try RuntimeFormats.withFormats(formats) {
            try Self.trajectory(MixedPolicy4<R0, R1, R2, R3>.self, method)
        }
        #expect(compiled == runtime)
        // and the formats matter: the same run all in tf32 differs
        let uniform = try RuntimeFormats.withFormats([try RuntimeFormat.named("tf32")]) {
            try Self.trajectory(Uniform<R0>.self, method)
        }
        #expect(uniform != runtime)
    }
}

/// Four roles, four types (StudyKit's `MixedPolicy`, restated here: the tests do not import StudyKit).
enum MixedPolicy4<W: Scalar, F: Scalar, I: Scalar, M: Scalar>: PrecisionPolicy {
    typealias Weights = W
    typealias Factors = F
    typealias Inverses = I
    typealias Moments = M
}
