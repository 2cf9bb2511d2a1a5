import Testing
import Scalars
import LinearAlgebra
import TestSupport
import Networks

/// `MLP.ggnProduct` against an independent dense evaluation of `(1/N) Σ J_nᵀ H_n J_n v`.
@Suite struct GGNProducts {
    typealias B = BigFloat256

    static func problem(loss: LossFunction, activation: Activation) throws -> (MLP<B>, Matrix<B>, Targets<B>, [Matrix<B>]) {
        let spec = try MLPSpec(widths: [3, 4, 3], activation: activation, loss: loss)
        let net = MLP<Double>(spec: spec, seed: 21, accumulation: .perOperation).converted(to: B.self)
        var rng = SplitMix64(seed: 8)
        let x = Matrix<Double>(rows: 3, columns: 5) { _, _ in rng.nextGaussian() }.converted(to: B.self)
        let targets: Targets<B> = loss == .crossEntropy
            ? .classes([0, 2, 1, 0, 2])
            : .values(Matrix<Double>(rows: 3, columns: 5) { _, _ in rng.nextGaussian() }.converted(to: B.self))
        let v = (0..<spec.layerCount).map { l in
            Matrix<Double>(rows: spec.weightShape(l).rows, columns: spec.weightShape(l).columns) { _, _ in rng.nextGaussian() }.converted(to: B.self)
        }
        return (net, x, targets, v)
    }

    /// J_n is built column by column from the output Jacobians `Bₗᵀ = (∂f/∂sₗ)ᵀ` of
    /// `outputJacobianTransposes`: the column of parameter `W_l[i, j]` is `Bₗ[:, i] · ā_l[j]`, with the
    /// augmented inputs ā_l from a forward pass written here; H_n is written out (`diag(p) − ppᵀ` with
    /// p = softmax computed here, or I for MSE); the dense P×P matrix `(1/N) Σ J_nᵀ H_n J_n` then
    /// multiplies vec(v). Both sides run in MPFR-256 through sums of at most k = P + N·d_L terms of
    /// O(1) products, so the difference is at most 2γ_k times the same sums over absolute values.
    @Test(arguments: [(LossFunction.crossEntropy, Activation.tanh), (.meanSquaredError, .sigmoid)])
    func ggnProductMatchesDenseJacobianEvaluation(loss: LossFunction, activation: Activation) throws {
        let (net, x, targets, v) = try Self.problem(loss: loss, activation: activation)
        let spec = net.spec
        let got = try net.ggnProduct(x, targets: targets, direction: v)
        let p = spec.parameterCount, dL = spec.widths.last!, n = x.columns
        var dense = Matrix<B>(rows: p, columns: p), absDense = dense
        for s in 0..<n {
            let xs = Matrix<B>(rows: x.rows, columns: 1) { i, _ in x[i, s] }
            let bt = try net.outputJacobianTransposes(xs)
            // independent forward pass: augmented inputs per layer, outputs
            var a = xs.elements, abars = [[B]]()
            for l in 0..<spec.layerCount {
                let abar = a + [B(1)]
                abars.append(abar)
                let w = net.weights[l]
                let sv = (0..<w.rows).map { i in (0..<w.columns).reduce(B.zero) { $0 + w[i, $1] * abar[$1] } }
                a = l == spec.layerCount - 1 ? sv : sv.map { activation.apply($0) }
            }
            var h = Matrix<B>.identity(dL)
            if loss == .crossEntropy {
                let m = a.max()!, z = a.reduce(B.zero) { $0 + B.exp($1 - m) }
                let prob = a.map { B.exp($0 - m) / z }
                h = Matrix(rows: dL, columns: dL) { i, j in (i == j ? prob[i] : 0) - prob[i] * prob[j] }
            }
            // J (d_L × P), parameters in layer order, each layer's entries row-major (as `elements`)
            var j = Matrix<B>(rows: dL, columns: p), col = 0
            for l in 0..<spec.layerCount {
                let (rows, cols) = spec.weightShape(l)
                for i in 0..<rows { for jj in 0..<cols {
                    for c in 0..<dL { j[c, col] = bt[l][i, c] * abars[l][jj] }
                    col += 1
                } }
            }
            let jt = Matrix(rows: p, columns: dL) { j[$1, $0] }
            let block = DenseOracle.product(jt, DenseOracle.product(h, j))
            let absBlock = DenseOracle.product(jt.map { $0.magnitude }, DenseOracle.product(h.map { $0.magnitude }, j.map { $0.magnitude }))
            dense = try dense.adding(block.map { $0 / B(Double(n)) })
            absDense = try absDense.adding(absBlock.map { $0 / B(Double(n)) })
        }
        let vec = try Matrix<B>(rows: p, columns: 1, elements: v.flatMap(\.elements))
        let want = DenseOracle.product(dense, vec).elements
        let scale = DenseOracle.product(absDense, vec.map { $0.magnitude }).elements
        let flat = got.flatMap(\.elements)
        let k = Double(p + n * dL), u = B.unitRoundoff
        let gamma = B(2 * k * u / (1 - k * u))
        for i in 0..<p {
            #expect((flat[i] - want[i]).magnitude <= gamma * scale[i], "entry \(i): \(flat[i]) vs \(want[i])")
        }
        #expect(flat.contains { $0.magnitude > B(1e-3) })     // not vacuous
    }

    /// A single linear layer with MSE: the loss is quadratic, so the GGN is the exact Hessian,
    /// `H vec(V) = vec(V ĀĀᵀ/N)` (closed form). In Double the library forms `(VĀ)Āᵀ/N` with two
    /// sums (d_i, then N terms) and a division: |error| ≤ γ_{d_i+N+1} (|V||Ā||Ā|ᵀ)/N entrywise; the
    /// closed form is evaluated in MPFR-256.
    @Test func linearMSEProductIsTheExactHessianProduct() throws {
        let spec = try MLPSpec(widths: [3, 2], activation: .tanh, loss: .meanSquaredError)
        var rng = SplitMix64(seed: 31)
        let w = Matrix<Double>(rows: 2, columns: 4) { _, _ in rng.nextGaussian() }
        let x = Matrix<Double>(rows: 3, columns: 6) { _, _ in rng.nextGaussian() }
        let y = Matrix<Double>(rows: 2, columns: 6) { _, _ in rng.nextGaussian() }
        let v = Matrix<Double>(rows: 2, columns: 4) { _, _ in rng.nextGaussian() }
        let net = try MLP<Double>(spec: spec, weights: [w], accumulation: .perOperation)
        let got = try net.ggnProduct(x, targets: .values(y), direction: [v])[0]
        let abar = Matrix<Double>(rows: 4, columns: 6) { i, j in i < 3 ? x[i, j] : 1 }
        let ab = abar.converted(to: B.self), abT = Matrix(rows: 6, columns: 4) { ab[$1, $0] }
        let want = DenseOracle.product(v.converted(to: B.self), DenseOracle.product(ab, abT)).map { $0 / 6 }
        let absA = abar.map { abs($0) }, absAT = Matrix(rows: 6, columns: 4) { absA[$1, $0] }
        let bound = DenseOracle.product(DenseOracle.product(v.map { abs($0) }, absA), absAT).map { $0 / 6 }
        let k = Double(4 + 6 + 1), g = k * Double.unitRoundoff / (1 - k * Double.unitRoundoff)
        for i in 0..<got.count {
            #expect(abs(got.elements[i] - want.elements[i].doubleValue) <= g * bound.elements[i])
        }
    }
}
