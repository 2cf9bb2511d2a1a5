import Scalars
import LinearAlgebra

/// Curvature products of the mini-batch loss, for second-order finishes (KFAC-LM, Docs/Optimizers.md §4.4
/// steps 4'–6').
///
/// Precision policy: every operation in `T`, every product under the network's `accumulation` (the
/// same kernels and summation orders as `forward`/`backward`).
extension MLP {
    /// Mean loss of the batch at the network's weights (the `loss` of `backward`, without the gradient).
    @inlinable
    public func loss(_ x: Matrix<T>, targets: Targets<T>) throws(NetworkError) -> T {
        var events = [NumericEvent]()
        let (out, _, _) = try forward(x, events: &events)
        return try Self.lossAndOutputGradient(out, targets: targets, loss: spec.loss).0
    }

    /// The generalised Gauss–Newton matrix of the mean loss times a direction: `G v` with
    /// `G = (1/N) Σ_n J_nᵀ H_n J_n`, `J_n = ∂f(x_n)/∂θ`, `H_n` the Hessian of the per-sample loss
    /// with respect to the outputs (no second-order terms of the network).
    ///
    /// Three passes: the forward pass with its directional derivative (R-op, Pearlmutter 1994)
    /// `R s_l = V_l ā_l + W_l R ā_l`, `R a_l = φ'(s_l) ⊙ R s_l`, giving `J_n v = R f_n`; then
    /// `u_n = H_n R f_n` — softmax cross-entropy: `H_n = diag(p_n) − p_n p_nᵀ`, so
    /// `u_n = p_n ⊙ R f_n − p_n (p_nᵀ R f_n)`; MSE (`½‖f − y‖²` per sample): `H_n = I`; then the backward
    /// pass of `backward` with `u_n` in place of `ĝ_n`, so block `l` of the result is `(1/N) U_l Āᵀ`.
    /// For cross-entropy this is the exact Fisher of the model's predictive distribution.
    /// `direction[l]` has the shape of `weights[l]`; the result has the same shapes.
    @inlinable
    public func ggnProduct(_ x: Matrix<T>, targets: Targets<T>, direction v: [Matrix<T>]) throws(NetworkError) -> [Matrix<T>] {
        guard v.count == spec.layerCount else {
            throw NetworkError(field: "direction", value: "\(v.count) matrices", reason: "network has \(spec.layerCount) layers")
        }
        for (l, m) in v.enumerated() where (m.rows, m.columns) != spec.weightShape(l) {
            throw NetworkError(field: "direction[\(l)]", value: "\(m.rows)×\(m.columns)",
                               reason: "expected \(spec.weightShape(l).rows)×\(spec.weightShape(l).columns)")
        }
        guard x.rows == spec.widths[0] else {
            throw NetworkError(field: "inputs", value: "\(x.rows)×\(x.columns)", reason: "expected \(spec.widths[0]) rows (features) × N")
        }
        let n = x.columns
        // forward with the R-op; the bias row of Rā is 0 (the constant input has no derivative)
        var a = x, ra = Matrix<T>(rows: x.rows, columns: n)
        var inputs = [Matrix<T>](), pre = [Matrix<T>]()
        for l in 0..<spec.layerCount {
            let abar = augmented(a)
            let rabar = spec.bias ? Matrix(rows: ra.rows + 1, columns: n) { i, j in i < ra.rows ? ra[i, j] : 0 } : ra
            let s = try! Matrix.product(weights[l], .none, abar, .none, accumulation: accumulation)
            let rs = try! Matrix.product(v[l], .none, abar, .none, accumulation: accumulation)
                .adding(try! Matrix.product(weights[l], .none, rabar, .none, accumulation: accumulation))
            inputs.append(abar); pre.append(s)
            if l == spec.layerCount - 1 { a = s; ra = rs; break }
            a = s.map { spec.activation.apply($0) }
            ra = Matrix(rows: s.rows, columns: n) { i, j in
                let sv = s[i, j]
                return spec.activation.derivative(preActivation: sv, activation: spec.activation.apply(sv)) * rs[i, j]
            }
        }
        // u_n = H_n R f_n
        var u: Matrix<T>
        switch spec.loss {
        case .meanSquaredError:
            u = ra
        case .crossEntropy:
            u = Matrix(rows: a.rows, columns: n)
            for j in 0..<n {
                var m = a[0, j]
                for c in 1..<a.rows where a[c, j] > m { m = a[c, j] }
                var sum = T.zero
                for c in 0..<a.rows { sum = sum + T.exp(a[c, j] - m) }
                let lse = m + T.log(sum)
                let p = (0..<a.rows).map { T.exp(a[$0, j] - lse) }
                let pr = Reduction.dot(a.rows, { p[$0] }, { ra[$0, j] }, accumulation: accumulation)
                for c in 0..<a.rows { u[c, j] = p[c] * ra[c, j] - p[c] * pr }
            }
        }
        // backward pass of `backward` with u in place of ĝ
        var out = [Matrix<T>?](repeating: nil, count: spec.layerCount)
        let nT = T(Double(n))
        for l in stride(from: spec.layerCount - 1, through: 0, by: -1) {
            out[l] = try! Matrix.product(u, .none, inputs[l], .transposed, accumulation: accumulation).map { $0 / nT }
            if l > 0 {
                let s = pre[l - 1]
                u = backpropagated(u, below: l) { s[$0, $1] }
            }
        }
        return out.map { $0! }
    }
}
