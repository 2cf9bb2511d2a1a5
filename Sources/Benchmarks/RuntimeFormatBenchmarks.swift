import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// Issue 16: one optimizer step with the format chosen at run time (`RuntimeFloat`, parameters loaded
/// from the thread's table on every rounding) against the same step with the compile-time
/// `SimulatedFloat` of the same format (parameters folded into the code), side by side in one run.
enum RuntimeFormatBenchmarks {
    typealias R = RuntimeFloat<RuntimeSlot0>
    static let width = 64

    static func methods<T: Scalar>(_: T.Type) -> [(name: String, make: () -> Stepper<T>)] {
        [
            ("kfac-f", { Stepper(KFAC<Uniform<T>>(OptimizerBenchmarks.kfacHyperparameters(inverseInterval: 1))) }),
            ("singd-dense", { Stepper(SINGD<Uniform<T>>(OptimizerBenchmarks.singdHyperparameters(kfacLike: false))) }),
            ("jorge", { Stepper(Jorge<Uniform<T>>(OptimizerBenchmarks.jorgeHyperparameters())) }),
        ]
    }

    static func compare<C: Scalar>(_ settings: Settings, _: C.Type, _ format: RuntimeFormat) -> [Row] {
        let d = settings.quick ? 32 : width
        return try! RuntimeFormats.withFormats([format]) {
            StochasticRounding.withContext(seed: 1, stream: 16) {
                let (wc, lc) = OptimizerBenchmarks.problem(d, C.self)
                let (wr, lr) = OptimizerBenchmarks.problem(d, R.self)
                return zip(methods(C.self), methods(R.self)).map { c, r in
                    let compiled = c.make(), runtime = r.make()
                    let samples = measure(settings, [
                        { var w = wc; compiled.step(&w, lc); blackHole(w[0][0, 0].doubleValue) },
                        { var w = wr; runtime.step(&w, lr); blackHole(w[0][0, 0].doubleValue) },
                    ], budgetSeconds: settings.quick ? 0.5 : 2.5)
                    let ratio = samples[1].best / samples[0].best
                    let row = Row(issue: "16", name: "\(c.name) step, d = \(d), \(format.name): RuntimeFloat against SimulatedFloat<\(C.formatName)>",
                                  measured: fmtTime(samples[1].best), baseline: fmtTime(samples[0].best),
                                  ratio: fmt(ratio) + "×", target: "≤ 1.5×", verdict: ratio <= 1.5 ? .pass : .miss)
                    printErr("  \(row.name): \(row.measured) | \(row.baseline) | \(row.ratio)")
                    return row
                }
            }
        }
    }

    static func run(_ settings: Settings) -> [Row] {
        compare(settings, SimulatedFloat<BFloat16Format>.self, try! RuntimeFormat.named("bf16"))
            + compare(settings, SimulatedFloat<Rounded<BFloat16Format, Stochastic>>.self, try! RuntimeFormat.named("bf16+sr"))
            + compare(settings, FP8E5M2.self, try! RuntimeFormat.named("fp8-e5m2"))
    }
}
