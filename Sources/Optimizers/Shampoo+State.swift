import Scalars
import LinearAlgebra

/// Shampoo's state (§6.4): the statistics L, R (`Factors`), the roots L̂, R̂ held between refreshes
/// (`Inverses`), both momentum buffers and the AdaGrad accumulators (`Moments`; the accumulators only
/// with `graftType = .adagrad`), the cumulative Newton guard stops and the raw-gradient layers.
extension Shampoo {
    @inlinable
    public func exportState() -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: momentumBuffers.map(OptimizerState.Shape.init))
        s.set("statistics_L", statisticsL); s.set("statistics_R", statisticsR)
        s.set("roots_L", rootsL); s.set("roots_R", rootsR)
        s.set("momentum", momentumBuffers); s.set("graft_momentum", graftMomentumBuffers)
        s.set("graft_accumulators", graftAccumulators)
        s.set("guard_stops", integers: guardStops)
        s.set("raw_layers", integers: rawLayers.sorted())
        return s
    }

    @inlinable
    public mutating func importState(_ state: OptimizerState) throws(OptimizerStateError) {
        var r = try StateReader(state, optimizer: name)
        let sl: [Matrix<F>] = try r.layers("statistics_L") { $0.outputSquare }
        let sr: [Matrix<F>] = try r.layers("statistics_R") { $0.inputSquare }
        let rl: [Matrix<I>] = try r.layers("roots_L") { $0.outputSquare }
        let rr: [Matrix<I>] = try r.layers("roots_R") { $0.inputSquare }
        let mb: [Matrix<M>] = try r.layers("momentum") { $0 }
        let gb: [Matrix<M>] = try r.layers("graft_momentum") { $0 }
        let acc: [Matrix<M>]
        if effectiveGraft == .adagrad {
            acc = try r.layers("graft_accumulators") { $0 }
        } else {
            guard try r.matrices("graft_accumulators").isEmpty else { throw r.fail("graft_accumulators", "present, but graft type is \(effectiveGraft.rawValue)") }
            acc = []
        }
        let stops = try r.integers("guard_stops", count: r.layerCount)
        let raw = try r.layerSet("raw_layers")
        try r.finish()
        statisticsL = sl; statisticsR = sr; rootsL = rl; rootsR = rr
        momentumBuffers = mb; graftMomentumBuffers = gb; graftAccumulators = acc
        _guardStops = stops; rawLayers = raw
    }
}

/// Jorge's state (§7.4): the roots L̂, R̂ (`Inverses`) and the momentum buffers (`Moments`).
extension Jorge {
    @inlinable
    public func exportState() -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: buffers.map(OptimizerState.Shape.init))
        s.set("roots_L", rootsL); s.set("roots_R", rootsR); s.set("buffers", buffers)
        return s
    }

    @inlinable
    public mutating func importState(_ state: OptimizerState) throws(OptimizerStateError) {
        var r = try StateReader(state, optimizer: name)
        let rl: [Matrix<I>] = try r.layers("roots_L") { $0.outputSquare }
        let rr: [Matrix<I>] = try r.layers("roots_R") { $0.inputSquare }
        let b: [Matrix<M>] = try r.layers("buffers") { $0 }
        try r.finish()
        rootsL = rl; rootsR = rr; buffers = b
    }
}
