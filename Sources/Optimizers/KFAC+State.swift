import Scalars
import LinearAlgebra

/// KFAC's state (§4.4): the EMA factors A, G (`Factors`); the inverses and, for KFAC-E, the
/// eigendecompositions held between refreshes (`Inverses`; `0×0` before the first one); the layers on
/// the raw-gradient fallback; the number of statistics updates k (it sets ε_k = min(1 − 1/k, ε_max));
/// and the momentum SGD's buffers under `momentum.`. KFAC-LM adds `lm_lambda` and `lm_gamma` (the
/// adapted λ and γ, `Inverses`) and `lm_delta_previous` (δ_prev, `Moments`; an empty list when there is none).
extension KFAC {
    @inlinable
    public func exportState() -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: zip(factorsG, factorsA).map { .init(rows: $0.rows, columns: $1.rows) })
        s.set("factors_A", factorsA); s.set("factors_G", factorsG)
        s.set("inverse_A", inverseA); s.set("inverse_G", inverseG)
        s.set("eigen_A_vectors", eigenA.map { $0?.vectors ?? .absent })
        s.set("eigen_A_values", eigenA.map { $0.map { Matrix.column($0.values) } ?? .absent })
        s.set("eigen_G_vectors", eigenG.map { $0?.vectors ?? .absent })
        s.set("eigen_G_values", eigenG.map { $0.map { Matrix.column($0.values) } ?? .absent })
        s.set("raw_layers", integers: rawLayers.sorted())
        s.set("statistic_updates", integers: [statisticUpdates])
        s.nest(momentumSGD.exportState(), prefix: "momentum.")
        if hyperparameters.finish == .lm {
            s.set("lm_lambda", scalars: [lmLambda.doubleValue]); s.set("lm_gamma", scalars: [lmGamma.doubleValue])
            s.set("lm_delta_previous", deltaPrevious)
        }
        return s
    }

    @inlinable
    public mutating func importState(_ state: OptimizerState) throws(OptimizerStateError) {
        var r = try StateReader(state, optimizer: name)
        let a: [Matrix<F>] = try r.layers("factors_A") { $0.inputSquare }
        let g: [Matrix<F>] = try r.layers("factors_G") { $0.outputSquare }
        let ia: [Matrix<I>] = try r.layers("inverse_A") { $0.inputSquare }
        let ig: [Matrix<I>] = try r.layers("inverse_G") { $0.outputSquare }
        func eigen(_ side: String, _ square: (OptimizerState.Shape) -> OptimizerState.Shape) throws(OptimizerStateError) -> [SymmetricEigen<I>?] {
            let vectors: [Matrix<I>] = try r.layers("eigen_\(side)_vectors", absentAllowed: true, square)
            let values: [Matrix<I>] = try r.layers("eigen_\(side)_values", absentAllowed: true) { .vector(square($0).rows) }
            var out = [SymmetricEigen<I>?]()
            for (l, (v, e)) in zip(vectors, values).enumerated() {
                guard v.isAbsent == e.isAbsent else { throw r.fail("eigen_\(side)_values", "layer \(l): eigenvalues and eigenvectors must be both present or both absent") }
                out.append(v.isAbsent ? nil : SymmetricEigen(values: e.elements, vectors: v, sweeps: 0))
            }
            return out
        }
        let ea = try eigen("A") { $0.inputSquare }, eg = try eigen("G") { $0.outputSquare }
        let raw = try r.layerSet("raw_layers")
        let updates = try r.integer("statistic_updates")
        guard updates >= 0 else { throw r.fail("statistic_updates", "negative count \(updates)") }
        var inner = momentumSGD
        do { try inner.importState(r.nested(prefix: "momentum.", optimizer: inner.name)) } catch { throw error.nested(in: name, prefix: "momentum.") }
        var lm: (lambda: I, gamma: I, previous: [Matrix<M>])? = nil
        if hyperparameters.finish == .lm {
            let lambda = try r.scalars("lm_lambda", count: 1)[0], gamma = try r.scalars("lm_gamma", count: 1)[0]
            lm = (I(lambda), I(gamma), try r.layers("lm_delta_previous", lazy: true) { $0 })
        }
        try r.finish()
        if let lm { lmLambda = lm.lambda; lmGamma = lm.gamma; deltaPrevious = lm.previous }
        factorsA = a; factorsG = g; inverseA = ia; inverseG = ig; eigenA = ea; eigenG = eg
        rawLayers = raw; _statisticUpdates = updates; momentumSGD = inner
    }
}
