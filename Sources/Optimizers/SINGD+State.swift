import Scalars
import LinearAlgebra

/// SINGD's (and IKFAC's) state (§5.4): the factors K (`d_i×d_i`), C (`d_o×d_o`) and their Riemannian
/// momenta m_K, m_C (`Inverses`, the role KFAC's inverses play), and the momentum buffer (`Moments`).
extension SINGD {
    @inlinable
    public func exportState() -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: buffer.map(OptimizerState.Shape.init))
        s.set("K", k); s.set("C", c); s.set("m_K", mK); s.set("m_C", mC); s.set("buffer", buffer)
        return s
    }

    @inlinable
    public mutating func importState(_ state: OptimizerState) throws(OptimizerStateError) {
        var r = try StateReader(state, optimizer: name)
        let nk: [Matrix<F>] = try r.layers("K") { $0.inputSquare }
        let nc: [Matrix<F>] = try r.layers("C") { $0.outputSquare }
        let nmk: [Matrix<F>] = try r.layers("m_K") { $0.inputSquare }
        let nmc: [Matrix<F>] = try r.layers("m_C") { $0.outputSquare }
        let b: [Matrix<M>] = try r.layers("buffer") { $0 }
        try r.finish()
        k = nk; c = nc; mK = nmk; mC = nmc; buffer = b
    }
}
