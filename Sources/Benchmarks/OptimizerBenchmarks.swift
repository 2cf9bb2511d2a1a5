import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// A type-erased optimizer with its own state and step counter.
final class Stepper<T: Scalar> {
    private let body: (inout [Matrix<T>], [LayerStatistics<T>], Int) -> Void
    private var t = 0
    init<O: Optimizer>(_ optimizer: O) where O.Policy.Weights == T {
        var o = optimizer
        body = { w, layers, t in
            let report = try! o.step(weights: &w, layers: layers, step: t)
            blackHole(UInt64(report.monitors.count &+ report.events.count))
        }
    }
    func step(_ weights: inout [Matrix<T>], _ layers: [LayerStatistics<T>]) {
        t += 1
        body(&weights, layers, t)
    }
}

/// One benchmarked method: a name and a factory for a fresh optimizer in scalar type `T`.
struct Method<T: Scalar> {
    var name: String
    var make: () -> Stepper<T>
    init(_ name: String, _ make: @escaping () -> Stepper<T>) { self.name = name; self.make = make }
}

/// Issue 5: one optimizer step per method × width × precision.
enum OptimizerBenchmarks {
    /// THE LIST. One line per method; every method runs its full step every call (curvature
    /// statistics and inverses/factor updates refreshed each step, expensive monitors off), in
    /// `Uniform<T>` with the default arithmetic (per-operation accumulation).
    /// To add an optimizer (Shampoo, Jorge, MKOR, RLLC…): add one line
    ///     Method("shampoo") { Stepper(Shampoo<Uniform<T>>(…)) },
    static func methods<T: Scalar>(_: T.Type) -> [Method<T>] {
        [
            Method("sgd-momentum") { Stepper(SGD<Uniform<T>>(.init(learningRate: 0.1, momentum: 0.9))) },
            Method("adam") { Stepper(Adam<Uniform<T>>()) },
            Method("kfac-f") { Stepper(KFAC<Uniform<T>>(kfacHyperparameters(inverseInterval: 1))) },
            Method("kfac-f (no inversion)") { Stepper(KFAC<Uniform<T>>(kfacHyperparameters(inverseInterval: Int.max))) },
            Method("singd-dense") { Stepper(SINGD<Uniform<T>>(singdHyperparameters())) },
        ]
    }

    static func kfacHyperparameters<P: PrecisionPolicy>(inverseInterval: Int) -> KFAC<P>.Hyperparameters {
        var h = KFAC<P>.Hyperparameters()
        h.statisticsInterval = 1
        h.inverseInterval = inverseInterval     // Int.max: the only inversion is at t = 1 (the warm-up call)
        h.expensiveMonitors = false
        return h
    }

    static func singdHyperparameters<P: PrecisionPolicy>() -> SINGD<P>.Hyperparameters {
        var h = SINGD<P>.Hyperparameters()
        h.interval = 1
        h.expensiveMonitors = false
        return h
    }

    static let batch = 64

    /// A single layer `d × (d+1)` (bias column), batch 64: random Ā (last row ones), Ĝ, ∇W = ĜĀᵀ/N.
    static func problem<T: Scalar>(_ d: Int, _: T.Type) -> (weights: [Matrix<T>], layers: [LayerStatistics<T>]) {
        var gen = DataGenerator(seed: 0x5EED_0500 &+ UInt64(d))
        let a = Matrix<Double>(rows: d + 1, columns: batch) { i, _ in i == d ? 1 : gen.uniform() }
        let g = Matrix<Double>(rows: d, columns: batch) { _, _ in gen.uniform() * 0.1 }
        let grad = try! Matrix.product(g, .none, a, .transposed, accumulation: .perOperation).map { $0 / Double(batch) }
        let w = Matrix<Double>(rows: d, columns: d + 1) { _, _ in gen.uniform() / Double(d).squareRoot() }
        let layer = LayerStatistics(inputs: a.converted(to: T.self), outputGradients: g.converted(to: T.self),
                                    gradient: grad.converted(to: T.self))
        return ([w.converted(to: T.self)], [layer])
    }

    struct Result {
        var method: String
        var format: String
        var seconds: [Double]      // per width
    }

    static func run<T: Scalar>(_ settings: Settings, _: T.Type, widths: [Int]) -> [Result] {
        let list = methods(T.self)
        var results = list.map { Result(method: $0.name, format: T.formatName, seconds: []) }
        for d in widths {
            let (w0, layers) = problem(d, T.self)
            // all methods at this width side by side (interleaved samples)
            let bodies: [() -> Void] = list.map { m in
                let stepper = m.make()
                return { var w = w0; stepper.step(&w, layers); blackHole(w[0][0, 0].doubleValue) }
            }
            let r = measure(settings, bodies)
            for k in list.indices { results[k].seconds.append(r[k].best) }
        }
        return results
    }
}

enum OptimizerReport {
    static func run(_ settings: Settings) -> (String, [Row]) {
        let widths = settings.quick ? [16, 32, 64] : [32, 64, 128, 256]
        let results = OptimizerBenchmarks.run(settings, Float.self, widths: widths)
            + OptimizerBenchmarks.run(settings, BFloat16.self, widths: widths)
        var t = "## Optimizer step (issue 5)\n\n"
        t += "One `step` of a single layer d × (d+1), batch \(OptimizerBenchmarks.batch), policy `Uniform<T>`, default arithmetic "
        t += "(per-operation accumulation and elementwise rounding), curvature refreshed every step, expensive monitors off. "
        t += "`kfac-f (no inversion)` is the same step with the inverse kept from t = 1, so kfac-f minus it is the inversion cost. "
        t += "Exponent = least-squares slope of log(time) against log(d). All methods of one (format, d) are sampled side by side.\n\n"
        t += "| Method | Format | " + widths.map { "d = \($0)" }.joined(separator: " | ") + " | Exponent |\n"
        t += "| --- | --- | " + widths.map { _ in "---" }.joined(separator: " | ") + " | --- |\n"
        for r in results {
            let slope = logLogSlope(widths.map(Double.init), r.seconds)
            t += "| \(r.method) | \(r.format) | " + r.seconds.map(fmtTime).joined(separator: " | ") + " | \(fmt(slope, 3)) |\n"
            printErr("  \(r.method) \(r.format): \(r.seconds.map(fmtTime)) exponent \(fmt(slope, 3))")
        }
        var rows = [Row]()
        for format in [Float.formatName, BFloat16.formatName] {
            func seconds(_ m: String) -> [Double] { results.first { $0.method == m && $0.format == format }!.seconds }
            let kfac = seconds("kfac-f"), noInv = seconds("kfac-f (no inversion)"), singd = seconds("singd-dense")
            for (k, d) in widths.enumerated() {
                let inversion = kfac[k] - noInv[k]
                rows.append(Row(issue: "5", name: "KFAC inversion cost vs SINGD matmul-only update, \(format), d = \(d)",
                                measured: "kfac-f step " + fmtTime(kfac[k]) + ", of which inversion " + fmtTime(inversion),
                                baseline: "singd-dense step " + fmtTime(singd[k]),
                                ratio: "kfac/singd " + fmt(kfac[k] / singd[k]) + "×, inversion/singd " + fmt(inversion / singd[k]) + "×",
                                target: "report", verdict: .info))
            }
            for m in ["kfac-f", "singd-dense"] {
                let s = seconds(m)
                rows.append(Row(issue: "5", name: "growth exponent of \(m) step in d, \(format)",
                                measured: fmt(logLogSlope(widths.map(Double.init), s), 3),
                                baseline: "—", ratio: "—", target: "report", verdict: .info))
            }
        }
        return (t, rows)
    }
}
