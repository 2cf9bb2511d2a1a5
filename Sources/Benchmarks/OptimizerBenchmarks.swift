#if canImport(Glibc)
import Glibc
#endif
import Scalars
import LinearAlgebra
import Networks
import Optimizers

/// A type-erased optimizer with its own state and step counter.
final class Stepper<T: Scalar> {
    private let body: (inout [Matrix<T>], [LayerStatistics<T>], Int) -> Void
    private var t = 0
    /// Iteration counts reported by the step (monitors `newton_iterations_*`, e.g. Shampoo's coupled
    /// Newton roots), so the report can say how much work a step did.
    private(set) var iterationCounts: [Double] = []
    init<O: Optimizer>(_ optimizer: O) where O.Policy.Weights == T {
        var o = optimizer
        var counts: (Double) -> Void = { _ in }
        body = { w, layers, t in
            let report = try! o.step(weights: &w, layers: layers, step: t)
            for m in report.monitors where m.name.hasPrefix("newton_iterations") { counts(m.value) }
            blackHole(UInt64(report.monitors.count &+ report.events.count))
        }
        counts = { [unowned self] in self.iterationCounts.append($0) }
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
    /// THE LIST: every optimizer of Sources/Optimizers. One line per method; every method runs its full
    /// step every call (curvature statistics and inverses/roots/factor updates refreshed each step,
    /// expensive monitors off), in `Uniform<T>` with the default arithmetic (per-operation accumulation).
    /// To add an optimizer: add one line `Method("name") { Stepper(…) }`.
    static func methods<T: Scalar>(_: T.Type) -> [Method<T>] {
        [
            Method("sgd-momentum") { Stepper(SGD<Uniform<T>>(.init(learningRate: 0.1, momentum: 0.9))) },
            Method("adam") { Stepper(Adam<Uniform<T>>()) },
            Method("kfac-f") { Stepper(KFAC<Uniform<T>>(kfacHyperparameters(inverseInterval: 1))) },
            Method("kfac-f (no inversion)") { Stepper(KFAC<Uniform<T>>(kfacHyperparameters(inverseInterval: Int.max))) },
            Method("singd-dense") { Stepper(SINGD<Uniform<T>>(singdHyperparameters(kfacLike: false))) },
            Method("ikfac-dense") { Stepper(SINGD<Uniform<T>>(singdHyperparameters(kfacLike: true))) },
            Method("shampoo") { Stepper(Shampoo<Uniform<T>>(shampooHyperparameters())) },
            Method("jorge") { Stepper(Jorge<Uniform<T>>(jorgeHyperparameters())) },
            Method("mkor") { Stepper(try! MKOR<Uniform<T>>(mkorHyperparameters())) },
            Method("rllc") { Stepper(try! RLLC<Uniform<T>>(rllcHyperparameters())) },
        ]
    }

    static func kfacHyperparameters<P: PrecisionPolicy>(inverseInterval: Int) -> KFAC<P>.Hyperparameters {
        var h = KFAC<P>.Hyperparameters()
        h.statisticsInterval = 1
        h.inverseInterval = inverseInterval     // Int.max: the only inversion is at t = 1 (the warm-up call)
        h.expensiveMonitors = false
        return h
    }

    static func singdHyperparameters<P: PrecisionPolicy>(kfacLike: Bool) -> SINGD<P>.Hyperparameters {
        var h = SINGD<P>.Hyperparameters()
        h.interval = 1
        h.kfacLike = kfacLike
        h.expensiveMonitors = false
        return h
    }

    /// Statistics and inverse 4th roots (coupled Newton, the reference's default) every step.
    static func shampooHyperparameters<P: PrecisionPolicy>() -> Shampoo<P>.Hyperparameters {
        var h = Shampoo<P>.Hyperparameters()
        h.statisticsComputeSteps = 1
        h.preconditioningComputeSteps = 1
        h.expensiveMonitors = false
        return h
    }

    /// The root update (products only) every step.
    static func jorgeHyperparameters<P: PrecisionPolicy>() -> Jorge<P>.Hyperparameters {
        var h = Jorge<P>.Hyperparameters()
        h.preconditionerInterval = 1
        h.expensiveMonitors = false
        return h
    }

    /// Sherman–Morrison inverse updates every step.
    static func mkorHyperparameters<P: PrecisionPolicy>() -> MKOR<P>.Hyperparameters {
        var h = MKOR<P>.Hyperparameters()
        h.inverseInterval = 1
        h.expensiveMonitors = false
        return h
    }

    static func rllcHyperparameters<P: PrecisionPolicy>() -> RLLC<P>.Hyperparameters {
        var h = RLLC<P>.Hyperparameters()
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
        /// Per width; nil where the step was skipped (predicted too slow, see `maxStepSeconds`).
        var seconds: [Double?]
        /// Mean `newton_iterations_*` per root over the measured steps, per width (nil: none reported).
        var iterations: [Double?]
    }

    /// A method is measured at width d only if its time at the previous width, scaled by (d/d_prev)^3.5,
    /// stays below this: a step that takes tens of seconds (Shampoo's 100-iteration Newton roots at
    /// d = 256 in fp32) would take the full run far beyond its few minutes.
    static func maxStepSeconds(_ settings: Settings) -> Double { settings.quick ? 0.3 : 10 }

    static func run<T: Scalar>(_ settings: Settings, _: T.Type, widths: [Int]) -> [Result] {
        let list = methods(T.self)
        var results = list.map { Result(method: $0.name, format: T.formatName, seconds: [], iterations: []) }
        for (w, d) in widths.enumerated() {
            let (w0, layers) = problem(d, T.self)
            let active = list.indices.filter { k in
                guard w > 0 else { return true }
                guard let previous = results[k].seconds[w - 1] else { return false }
                return previous * pow(Double(d) / Double(widths[w - 1]), 3.5) <= maxStepSeconds(settings)
            }
            // the active methods at this width side by side (interleaved samples)
            let steppers = active.map { list[$0].make() }
            let bodies: [() -> Void] = steppers.map { stepper in
                { var w = w0; stepper.step(&w, layers); blackHole(w[0][0, 0].doubleValue) }
            }
            // slow steps get fewer samples, so the full run stays within minutes
            let r = measure(settings, bodies, budgetSeconds: settings.quick ? 0.5 : 2.5)
            for k in list.indices {
                if let j = active.firstIndex(of: k) {
                    results[k].seconds.append(r[j].best)
                    let c = steppers[j].iterationCounts
                    results[k].iterations.append(c.isEmpty ? nil : c.reduce(0, +) / Double(c.count))
                } else {
                    results[k].seconds.append(nil)
                    results[k].iterations.append(nil)
                }
            }
        }
        return results
    }
}

enum OptimizerReport {
    /// Slopes of log(time) against log(d) over the measured widths, and between the two largest widths
    /// when both were measured.
    static func exponents(_ widths: [Int], _ seconds: [Double?]) -> (all: Double?, top: Double?) {
        let points = zip(widths, seconds).compactMap { d, s in s.map { (Double(d), $0) } }
        let all = points.count >= 2 ? logLogSlope(points.map(\.0), points.map(\.1)) : nil
        let n = widths.count
        let top = seconds[n - 1] != nil && seconds[n - 2] != nil
            ? logLogSlope([Double(widths[n - 2]), Double(widths[n - 1])], [seconds[n - 2]!, seconds[n - 1]!]) : nil
        return (all, top)
    }

    static func run(_ settings: Settings) -> (String, [Row]) {
        let widths = settings.quick ? [16, 32, 64] : [32, 64, 128, 256]
        let results = OptimizerBenchmarks.run(settings, Float.self, widths: widths)
            + OptimizerBenchmarks.run(settings, BFloat16.self, widths: widths)
        let top = "\(widths[widths.count - 2])→\(widths[widths.count - 1])"
        func time(_ s: Double?) -> String { s.map(fmtTime) ?? "skipped" }
        func number(_ x: Double?) -> String { x.map { fmt($0, 3) } ?? "—" }
        var t = "## Optimizer step (issue 5)\n\n"
        t += "One `step` of a single layer d × (d+1), batch \(OptimizerBenchmarks.batch), policy `Uniform<T>`, default arithmetic "
        t += "(per-operation accumulation and elementwise rounding), curvature refreshed every step (KFAC statistics and inverses, "
        t += "SINGD/IKFAC factors, Shampoo statistics and coupled-Newton inverse 4th roots, Jorge's root update, MKOR's "
        t += "Sherman–Morrison inverses), hyperparameters otherwise at their defaults, expensive monitors off. "
        t += "`kfac-f (no inversion)` is the same step with the inverse kept from t = 1, so kfac-f minus it is the inversion cost. "
        t += "Exponent = least-squares slope of log(time) against log(d) over the measured widths; the last column is the slope "
        t += "between the two largest widths (closer to the asymptotic order: small widths carry fixed costs). "
        t += "All methods of one (format, d) are sampled side by side; where \(settings.samples) samples of the slowest method "
        t += "would exceed \(settings.quick ? "0.5" : "2.5") s, that (format, d) gets fewer samples (at least 3). "
        t += "`skipped`: the time at the previous width times (d/d_prev)^3.5 exceeds \(fmt(OptimizerBenchmarks.maxStepSeconds(settings), 2)) s "
        t += "per step, too long for this run.\n\n"
        t += "| Method | Format | " + widths.map { "d = \($0)" }.joined(separator: " | ") + " | Exponent | Exponent \(top) |\n"
        t += "| --- | --- | " + widths.map { _ in "---" }.joined(separator: " | ") + " | --- | --- |\n"
        for r in results {
            let (all, local) = exponents(widths, r.seconds)
            t += "| \(r.method) | \(r.format) | " + r.seconds.map(time).joined(separator: " | ") + " | \(number(all)) | \(number(local)) |\n"
            printErr("  \(r.method) \(r.format): \(r.seconds.map(time)) exponent \(number(all)) (\(top): \(number(local)))")
        }
        let counted = results.filter { $0.iterations.contains { $0 != nil } }
        if !counted.isEmpty {
            t += "\nMean Newton iterations per inverse root and step (`newton_iterations_*` monitors; Shampoo's cap is "
            t += "`newtonMaxIterations` = 100, tolerance 1e-6): "
            t += counted.map { r in
                "\(r.method) \(r.format) " + zip(widths, r.iterations).compactMap { d, i in i.map { "d = \(d): \(fmt($0, 3))" } }.joined(separator: ", ")
            }.joined(separator: "; ") + ".\n"
        }
        var rows = [Row]()
        for format in [Float.formatName, BFloat16.formatName] {
            func seconds(_ m: String) -> [Double?] { results.first { $0.method == m && $0.format == format }!.seconds }
            let kfac = seconds("kfac-f"), noInv = seconds("kfac-f (no inversion)")
            let singd = seconds("singd-dense"), jorge = seconds("jorge")
            let inversion: [Double?] = zip(kfac, noInv).map { k, n in k.flatMap { k in n.map { k - $0 } } }
            func ratio(_ a: Double?, _ b: Double?) -> String { a.flatMap { a in b.map { fmt(a / $0) + "×" } } ?? "—" }
            for (k, width) in widths.enumerated() {
                rows.append(Row(issue: "5", name: "KFAC inversion vs the matmul-only updates of SINGD and Jorge, \(format), d = \(width)",
                                measured: "kfac-f step " + time(kfac[k]) + ", of which inversion " + time(inversion[k]),
                                baseline: "singd-dense step " + time(singd[k]) + ", jorge step " + time(jorge[k]),
                                ratio: "inversion/singd " + ratio(inversion[k], singd[k]) + ", inversion/jorge " + ratio(inversion[k], jorge[k])
                                    + ", kfac/singd " + ratio(kfac[k], singd[k]) + ", kfac/jorge " + ratio(kfac[k], jorge[k]),
                                target: "report", verdict: .info))
            }
            for (m, s) in [("kfac-f step", kfac), ("KFAC inversion", inversion), ("singd-dense step", singd), ("jorge step", jorge)] {
                let (all, local) = exponents(widths, s)
                rows.append(Row(issue: "5", name: "growth exponent of \(m) in d, \(format)",
                                measured: number(all) + " (\(top): " + number(local) + ")",
                                baseline: "—", ratio: "—", target: "report", verdict: .info))
            }
        }
        return (t, rows)
    }
}
