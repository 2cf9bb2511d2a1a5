import Testing
import Scalars
import LinearAlgebra
import Networks

/// Backpropagation against independent evaluations of the derivative.
@Suite struct Gradients {
    static func tinyProblem(loss: LossFunction, activation: Activation) throws -> (MLP<Double>, Matrix<Double>, Targets<Double>) {
        let spec = try MLPSpec(widths: [3, 4, 2], activation: activation, loss: loss)
        let net = MLP<Double>(spec: spec, seed: 11, accumulation: .perOperation)
        var rng = SplitMix64(seed: 5)
        let x = Matrix<Double>(rows: 3, columns: 5) { _, _ in rng.nextGaussian() }
        let targets: Targets<Double> = loss == .crossEntropy
            ? .classes([0, 1, 1, 0, 1])
            : .values(Matrix(rows: 2, columns: 5) { _, _ in rng.nextGaussian() })
        return (net, x, targets)
    }

    /// Central differences in Double with h = 2⁻¹⁷ (≈ u^{1/3}): the error of (f(w+h) − f(w−h))/2h is
    /// at most h²/6·|f'''| (truncation) + u·|f|/h (rounding of f, evaluated with error ≤ ~u|f| each).
    /// For these smooth, O(1)-scaled networks |f'''| ≤ 10 (a generous bound on the third derivative of
    /// a composition of tanh/sigmoid/softmax with weights |w| < 1), so the bound is
    /// 10·h²/6 + 10·u·max(|f|, 1)/h with the factor 10 covering the rounding error of a forward pass
    /// over ≤ 5 samples (γ_k with k ≈ 10 terms).
    @Test(arguments: [(LossFunction.crossEntropy, Activation.tanh), (.meanSquaredError, .sigmoid),
                      (.crossEntropy, .gelu), (.meanSquaredError, .identity)])
    func backpropMatchesCentralDifferences(loss: LossFunction, activation: Activation) throws {
        let (net, x, targets) = try Self.tinyProblem(loss: loss, activation: activation)
        let result = try net.backward(x, targets: targets)
        let h = 0x1p-17
        for l in 0..<net.weights.count {
            for idx in 0..<net.weights[l].count {
                var plus = net, minus = net
                plus.weights[l].withUnsafeMutableElements { $0[idx] += h }
                minus.weights[l].withUnsafeMutableElements { $0[idx] -= h }
                let fp = try plus.backward(x, targets: targets).loss
                let fm = try minus.backward(x, targets: targets).loss
                let numeric = (fp - fm) / (2 * h)
                let bound = 10 * h * h / 6 + 10 * Double.unitRoundoff * max(abs(result.loss), 1) / h
                #expect(abs(result.layers[l].gradient.elements[idx] - numeric) <= bound,
                        "layer \(l) entry \(idx): backprop \(result.layers[l].gradient.elements[idx]) vs \(numeric)")
            }
        }
    }

    /// ∇W = (1/N) Ĝ Āᵀ and Ā carries the ones row (§1.1).
    @Test func statisticsFollowConventions() throws {
        let (net, x, targets) = try Self.tinyProblem(loss: .crossEntropy, activation: .tanh)
        let r = try net.backward(x, targets: targets)
        for s in r.layers {
            #expect((0..<s.inputs.columns).allSatisfy { s.inputs[s.inputs.rows - 1, $0] == 1 })
            let g = try Matrix.product(s.outputGradients, .none, s.inputs, .transposed, accumulation: .perOperation).map { $0 / 5 }
            #expect(g == s.gradient)
        }
        // for softmax cross-entropy every column of Ĝ_L sums to zero (p − onehot)
        let top = r.layers.last!.outputGradients
        for j in 0..<top.columns {
            let s = (0..<top.rows).reduce(0.0) { $0 + top[$1, j] }
            #expect(abs(s) <= Double.gammaBound(top.rows + 2))
        }
    }

    /// PAPER-CLAIMS R10 (calibration): for a deep linear network with MSE (ℓ = ½‖f − y‖², loss
    /// Hessian I) and one sample, the exact GGN block of layer l is Jₗᵀ Jₗ, with the Jacobian
    /// Jₗ = ∂f/∂vec(Wₗ) built column by column in the test from the weights alone (Bₗ = W_L ⋯ W_{l+1}).
    /// KFAC's A ⊗ G with A = ā āᵀ from the exposed Ā and G = Ĝ Ĝᵀ from the backpropagated Jacobian
    /// statistic `outputJacobianTransposes` must equal it exactly: small integer weights and inputs make
    /// every product exact in Double, so equality is bitwise. The gradient statistic of `backward` must
    /// be Bₗᵀ (f − y).
    @Test func deepLinearKroneckerFactorsEqualExactGGN() throws {
        for bias in [false, true] {
            let spec = try MLPSpec(widths: [3, 5, 5, 2], activation: .identity, loss: .meanSquaredError, bias: bias)
            var rng = SplitMix64(seed: 3)
            let weights = (0..<3).map { l in
                Matrix<Double>(rows: spec.weightShape(l).rows, columns: spec.weightShape(l).columns) { _, _ in Double(rng.nextInt(below: 5)) - 2 }
            }
            let net = try MLP<Double>(spec: spec, weights: weights, accumulation: .perOperation)
            let x = try Matrix<Double>(rows: 3, columns: 1, elements: [1, -2, 3])
            let y = try Matrix<Double>(rows: 2, columns: 1, elements: [4, -1])
            let r = try net.backward(x, targets: .values(y))
            var events = [NumericEvent]()
            let f = try net.forward(x, events: &events).outputs
            let jt = try net.outputJacobianTransposes(x)
            for l in 0..<3 {
                var b = Matrix<Double>.identity(2)
                for k in stride(from: 2, to: l, by: -1) {
                    let wx = bias ? weights[k].columns(0..<spec.widths[k]) : weights[k]
                    b = try matmul(b, wx, accumulation: .perOperation)
                }
                let abar = r.layers[l].inputs
                let (dOut, dIn) = (weights[l].rows, weights[l].columns)
                // column c = j·d_o + i of J (column-stacking vec): ∂f/∂W_ij = B[:, i] · ā_j
                let jac = Matrix<Double>(rows: 2, columns: dOut * dIn) { o, c in b[o, c % dOut] * abar[c / dOut, 0] }
                let ggn = try Matrix.product(jac, .transposed, jac, .none, accumulation: .perOperation)
                let a = try Matrix.product(abar, .none, abar, .transposed, accumulation: .perOperation)
                let g = try Matrix.product(jt[l], .none, jt[l], .transposed, accumulation: .perOperation)
                #expect(a.kronecker(g) == ggn, "layer \(l), bias \(bias)")
                let residual = try f.subtracting(y)
                #expect(try Matrix.product(b, .transposed, residual, .none, accumulation: .perOperation) == r.layers[l].outputGradients)
            }
        }
    }
}

@Suite struct StableCrossEntropy {
    func check<T: Scalar>(_: T.Type) throws {
        let spec = try MLPSpec(widths: [1, 3], activation: .identity, loss: .crossEntropy, bias: false)
        let net = try MLP<T>(spec: spec, weights: [Matrix(rows: 3, columns: 1, elements: [T(1e4), T(-1e4), T(0)])], accumulation: .perOperation)
        for xv in [T(1), T(-1)] {
            let x = try Matrix<T>(rows: 1, columns: 1, elements: [xv])
            for label in 0..<3 {
                let r = try net.backward(x, targets: .classes([label]))
                #expect(r.loss.isFinite)
                #expect(r.layers[0].gradient.isFinite)
                #expect(r.events.filter { $0.kind != .subnormal }.isEmpty)
            }
        }
    }
    @Test func finiteForLogitsOfTenThousandInFloat() throws { try check(Float.self) }
    @Test func finiteForLogitsOfTenThousandInBFloat16() throws { try check(BFloat16.self) }
}
