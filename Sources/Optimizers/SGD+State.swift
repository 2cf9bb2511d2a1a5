import Scalars
import LinearAlgebra

/// SGD's state (§3.1): the momentum buffers `b` (zeros, never read, when μ = 0). The buffer is
/// reset from `d` at t = 1, so the step number carries the only other information.
extension SGD {
    @inlinable
    public func exportState() -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: buffers.map(OptimizerState.Shape.init))
        s.set("buffers", buffers)
        return s
    }

    @inlinable
    public mutating func importState(_ state: OptimizerState) throws(OptimizerStateError) {
        var r = try StateReader(state, optimizer: name)
        let b: [Matrix<M>] = try r.layers("buffers", lazy: true) { $0 }
        try r.finish()
        buffers = b
    }
}

/// Adam's state (§3.2): the moments `m`, `v`. The bias corrections are functions of the step number.
extension Adam {
    @inlinable
    public func exportState() -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: m.map(OptimizerState.Shape.init))
        s.set("m", m); s.set("v", v)
        return s
    }

    @inlinable
    public mutating func importState(_ state: OptimizerState) throws(OptimizerStateError) {
        var r = try StateReader(state, optimizer: name)
        let newM: [Matrix<M>] = try r.layers("m", lazy: true) { $0 }
        let newV: [Matrix<M>] = try r.layers("v", lazy: true) { $0 }
        guard newM.count == newV.count else { throw r.fail("v", "\(newV.count) matrices, m has \(newM.count)") }
        try r.finish()
        m = newM; v = newV
    }
}
