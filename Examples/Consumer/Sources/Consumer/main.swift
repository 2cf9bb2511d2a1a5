// One KFAC step on a tiny classification problem, in bfloat16 and in a 113-bit MPFR reference, through
// Mantissa's public API only.
import Foundation
import LinearAlgebra
import Networks
import Optimizers
import Scalars

/// Trains a 3-4-2 tanh network on four samples for one KFAC-F step with every role in `T`
/// (`Uniform<T>`), and returns the batch loss before and after the step and the step's events.
func oneKFACStep<T: Scalar>(in _: T.Type) throws -> (before: Double, after: Double, events: Int) {
    let spec = try MLPSpec(widths: [3, 4, 2], activation: .tanh, loss: .crossEntropy)
    var network = MLP<T>(spec: spec, seed: 17, accumulation: .perOperation)
    // features × samples, samples as columns
    let inputs = Matrix<T>(rows: 3, columns: 4) { i, j in T(Double(i + 1) * 0.5 - Double(j) * 0.375) }
    let targets = Targets<T>.classes([0, 1, 1, 0])
    let backward = try network.backward(inputs, targets: targets)

    var hyperparameters = KFAC<Uniform<T>>.Hyperparameters()
    hyperparameters.learningRate = 0.1
    hyperparameters.damping = 0.1
    var kfac = KFAC<Uniform<T>>(hyperparameters)
    let report = try kfac.step(weights: &network.weights, layers: backward.layers, step: 1)
    let after = try network.loss(inputs, targets: targets)
    return (backward.loss.doubleValue, after.doubleValue, report.events.count)
}

let runs: [(name: String, run: () throws -> (before: Double, after: Double, events: Int))] = [
    ("bf16", { try oneKFACStep(in: BFloat16.self) }),
    ("mpfr113", { try oneKFACStep(in: BigFloat113.self) }),
]
var failed = false
for (name, run) in runs {
    let r = try run()
    print("\(name): KFAC-F step 1: loss \(r.before) -> \(r.after), \(r.events) events")
    if !(r.after.isFinite && r.after < r.before) { failed = true }
}
if failed {
    print("consumer: a step did not lower the loss")
    exit(1)
}
