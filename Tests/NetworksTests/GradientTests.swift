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

    /// Suprema over ℝ of |φ'|, |φ''|, |φ'''| for each activation, from closed forms:
    /// * identity: 1, 0, 0.
    /// * tanh, with T = tanh x ∈ (−1, 1): φ' = 1 − T², φ'' = −2T(1 − T²), φ''' = −2 + 8T² − 6T⁴.
    ///   |φ''| is largest at T² = 1/3: 4/(3√3); φ''' ranges over [−2, 2/3] (extremes at T = 0 and
    ///   T² = 2/3), so |φ'''| ≤ 2.
    /// * sigmoid σ(x) = (1 + tanh(x/2))/2, so σ⁽ᵏ⁾(x) = 2^(−k−1)·tanh⁽ᵏ⁾(x/2): 1/4, 1/(6√3), 1/8.
    /// * gelu x·Φ(x) (ϕ the standard normal density): φ' = Φ + xϕ, φ'' = ϕ(x)(2 − x²),
    ///   φ''' = ϕ(x)(x³ − 4x). φ' rises on (−√2, √2) and tends to 1 (x → ∞) and 0 (x → −∞), so
    ///   sup|φ'| = Φ(√2) + √2ϕ(√2). |φ''| has its critical points at x = 0 and x² = 4: 2ϕ(0) > 2ϕ(2).
    ///   |φ'''| has its critical points where x⁴ − 7x² + 4 = 0, x² = (7 ± √33)/2: the larger value.
    static func derivativeBounds(_ a: Activation) -> (Double, Double, Double) {
        let phi = { (x: Double) in Double.exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
        switch a {
        case .identity: return (1, 0, 0)
        case .tanh: return (1, 4 / (3 * 3.0.squareRoot()), 2)
        case .sigmoid: return (0.25, 1 / (6 * 3.0.squareRoot()), 0.125)
        case .gelu:
            let r2 = 2.0.squareRoot()
            let d1 = (1 + Double.erf(1)) / 2 + r2 * phi(r2)        // Φ(√2) = (1 + erf(1))/2
            let d3 = [(7 - 33.0.squareRoot()) / 2, (7 + 33.0.squareRoot()) / 2].map { x2 -> Double in
                let x = x2.squareRoot()
                return phi(x) * abs(x * x * x - 4 * x)
            }.max()!
            return (d1, 2 * phi(0), d3)
        case .relu: return (.nan, .nan, .nan)      // not smooth: no finite-difference bound
        }
    }

    /// A bound on |f'''| on [w − h, w + h] for the mean loss f as a function of one weight of the
    /// two-layer network (widths d_0, d_1, d_2; W_1 is d_1×(d_0+1), W_2 is d_2×(d_1+1)). Per sample n
    /// (f is the mean of the g_n, so |f'''| ≤ mean |g_n'''|):
    /// * W_2[k, j]: g_n(t) = ℓ(z_n + t·a_jn e_k), a_jn the hidden activation (1 for the bias column).
    ///   MSE (ℓ = ½‖z − y‖², quadratic): g''' = 0. Cross-entropy (ℓ = lse(z) − z_y): g''' = a³·p_k(1 − p_k)(1 − 2p_k),
    ///   and |p(1 − p)(1 − 2p)| ≤ 1/(6√3) on [0, 1] (extremes at p = (3 ± √3)/6).
    /// * W_1[i, j]: with ā = ā_jn, s = s_in and c = W_2[:, i], z(t) = z_n + c·(ψ(t) − ψ(0)),
    ///   ψ(t) = φ(s + āt), ψ⁽ᵏ⁾ = āᵏφ⁽ᵏ⁾. Faà di Bruno: g''' = D³ℓ[cψ']³ + 3D²ℓ[cψ', cψ''] + Dℓ[cψ'''].
    ///   MSE: D³ℓ = 0, D²ℓ = I, Dℓ = (z(t) − y)ᵀ, and |(z(t) − y)·c| ≤ |(z_n − y_n)·c| + ‖c‖²|ā|hφ₁:
    ///   |g'''| ≤ |ā|³(3‖c‖²φ₁φ₂ + (|(z_n − y_n)·c| + ‖c‖²|ā|hφ₁)φ₃).
    ///   Cross-entropy, for all z: |Dℓ[v]| = |(p − e_y)·v| ≤ 2‖v‖_∞; D²ℓ[u, v] = Cov_p(u, v) ≤ ‖u‖_∞‖v‖_∞;
    ///   D³ℓ[u, u, u] = E_p[(u − E_p u)³] ≤ 2‖u‖_∞·Var_p(u) ≤ 2‖u‖³_∞:
    ///   |g'''| ≤ |ā|³(2‖c‖³_∞φ₁³ + 3‖c‖²_∞φ₁φ₂ + 2‖c‖_∞φ₃).
    /// φ₁, φ₂, φ₃ from `derivativeBounds`.
    static func thirdDerivativeBound(net: MLP<Double>, x: Matrix<Double>, targets: Targets<Double>,
                                     layer l: Int, row: Int, column: Int, h: Double) throws -> Double {
        let (phi1, phi2, phi3) = derivativeBounds(net.spec.activation)
        let r = try net.backward(x, targets: targets)
        var events = [NumericEvent]()
        let z = try net.forward(x, events: &events).outputs
        let n = x.columns, dOut = z.rows
        let cross = net.spec.loss == .crossEntropy
        var total = 0.0
        for s in 0..<n {
            if l == 1 {
                let a = abs(r.layers[1].inputs[column, s])
                total += cross ? a * a * a / (6 * 3.0.squareRoot()) : 0
            } else {
                let a = abs(r.layers[0].inputs[column, s])
                let c = (0..<dOut).map { net.weights[1][$0, row] }
                if cross {
                    let cm = c.map(abs).max()!
                    total += a * a * a * (2 * cm * cm * cm * phi1 * phi1 * phi1 + 3 * cm * cm * phi1 * phi2 + 2 * cm * phi3)
                } else {
                    guard case .values(let y) = targets else { preconditionFailure("MSE with value targets") }
                    let c2 = c.reduce(0) { $0 + $1 * $1 }
                    let rc = abs((0..<dOut).reduce(0.0) { $0 + (z[$1, s] - y[$1, s]) * c[$1] })
                    total += a * a * a * (3 * c2 * phi1 * phi2 + (rc + c2 * a * h * phi1) * phi3)
                }
            }
        }
        return total / Double(n)
    }

    /// Central differences in Double with h = 2⁻¹⁷ (≈ u^{1/3}). The error of (f(w+h) − f(w−h))/2h
    /// against f'(w) is at most h²/6·sup|f'''| (Taylor with the Lagrange remainder; the bound B of
    /// `thirdDerivativeBound`, derived from the activation's and the loss's derivatives and the
    /// network's actual weights and activations) plus the rounding of f: each loss is a forward pass
    /// of ≲ 10 dependent roundings per entry from O(1) data, error ≤ 10·u·max(|f|, 1), which the
    /// difference quotient divides by h. w ± h must be exact (checked by TwoSum), so the step is 2h.
    @Test(arguments: [(LossFunction.crossEntropy, Activation.tanh), (.meanSquaredError, .sigmoid),
                      (.crossEntropy, .gelu), (.meanSquaredError, .identity), (.meanSquaredError, .tanh)])
    func backpropMatchesCentralDifferences(loss: LossFunction, activation: Activation) throws {
        let (net, x, targets) = try Self.tinyProblem(loss: loss, activation: activation)
        let result = try net.backward(x, targets: targets)
        let h = 0x1p-17
        /// Whether a + b is exact (TwoSum's error term is zero).
        func exactSum(_ a: Double, _ b: Double) -> Bool {
            let s = a + b, bb = s - a
            return (a - (s - bb)) + (b - bb) == 0
        }
        for l in 0..<net.weights.count {
            for idx in 0..<net.weights[l].count {
                let w = net.weights[l].elements[idx]
                try #require(exactSum(w, h) && exactSum(w, -h), "w ± h inexact at layer \(l) entry \(idx)")
                var plus = net, minus = net
                plus.weights[l].withUnsafeMutableElements { $0[idx] += h }
                minus.weights[l].withUnsafeMutableElements { $0[idx] -= h }
                let fp = try plus.backward(x, targets: targets).loss
                let fm = try minus.backward(x, targets: targets).loss
                let numeric = (fp - fm) / (2 * h)
                let columns = net.weights[l].columns
                let b3 = try Self.thirdDerivativeBound(net: net, x: x, targets: targets, layer: l,
                                                       row: idx / columns, column: idx % columns, h: h)
                let bound = b3 * h * h / 6 + 10 * Double.unitRoundoff * max(abs(result.loss), 1) / h
                #expect(abs(result.layers[l].gradient.elements[idx] - numeric) <= bound,
                        "layer \(l) entry \(idx): backprop \(result.layers[l].gradient.elements[idx]) vs \(numeric), bound \(bound)")
            }
        }
    }

    /// ∇W = (1/N) Ĝ Āᵀ and Ā carries the ones row (§1.1). The reference is a plain loop over the
    /// samples in MPFR-256 (no library product); the Double statistic may differ from it by the
    /// rounding of an N-term dot product and one division: ≤ γ_{N+1}·(1/N)Σ_n |ĝ_in||ā_jn|.
    @Test func statisticsFollowConventions() throws {
        let (net, x, targets) = try Self.tinyProblem(loss: .crossEntropy, activation: .tanh)
        let r = try net.backward(x, targets: targets)
        for s in r.layers {
            #expect((0..<s.inputs.columns).allSatisfy { s.inputs[s.inputs.rows - 1, $0] == 1 })
            let n = s.inputs.columns
            for i in 0..<s.gradient.rows {
                for j in 0..<s.gradient.columns {
                    var exact = BigFloat256(0), magnitude = 0.0
                    for k in 0..<n {
                        exact += BigFloat256(s.outputGradients[i, k]) * BigFloat256(s.inputs[j, k])
                        magnitude += abs(s.outputGradients[i, k] * s.inputs[j, k])
                    }
                    exact /= BigFloat256(Double(n))
                    let bound = Double.gammaBound(n + 1) * magnitude / Double(n)
                    #expect(abs(s.gradient[i, j] - exact.doubleValue) <= bound, "∇W[\(i), \(j)]: \(s.gradient[i, j]) vs \(exact.doubleValue)")
                }
            }
        }
        // for softmax cross-entropy every column of Ĝ_L sums to zero (p − onehot)
        let top = r.layers.last!.outputGradients
        for j in 0..<top.columns {
            let s = (0..<top.rows).reduce(0.0) { $0 + top[$1, j] }
            #expect(abs(s) <= Double.gammaBound(top.rows + 2))
        }
    }

    /// Claim R10 of Docs/Claims.md (calibration): for a deep linear network with MSE (ℓ = ½‖f − y‖², loss
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
