import Scalars
import LinearAlgebra

/// MKOR's state (§8.4–8.7): the inverse factors L⁻, R⁻ (`Inverses`), their Double shadows (read only by
/// the `inv_res` monitors), the reset flags and counts, the MKOR-H switch step and loss windows, and
/// the inner optimizer's state under `inner.`.
extension MKOR {
    @inlinable
    public func exportState() -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: zip(inverseL, inverseR).map { .init(rows: $0.rows, columns: $1.rows) })
        s.set("inverse_L", inverseL); s.set("inverse_R", inverseR)
        s.set("shadow_L", shadowL); s.set("shadow_R", shadowR)
        s.set("reset_flag_R", flags: resetFlags.map(\.r)); s.set("reset_flag_L", flags: resetFlags.map(\.l))
        s.set("reset_counts", integers: resetCounts)
        s.set("switch_step", integers: switchStep.map { [$0] } ?? [])
        let hs = hybridState
        s.set("hybrid.window_sum", scalars: [hs.windowSum])
        s.set("hybrid.window_count", integers: [hs.windowCount])
        s.set("hybrid.previous_mean", scalars: hs.previousMean.map { [$0] } ?? [])
        s.set("hybrid.stalled_windows", integers: [hs.stalledWindows])
        s.set("hybrid.switch_requested", flags: [hs.switchRequested])
        s.set("hybrid.last_relative_decrease", scalars: [hs.lastRelativeDecrease])
        if let sgd { s.nest(sgd.exportState(), prefix: "inner.") }
        if let adam { s.nest(adam.exportState(), prefix: "inner.") }
        return s
    }

    @inlinable
    public mutating func importState(_ state: OptimizerState) throws(OptimizerStateError) {
        var r = try StateReader(state, optimizer: name)
        let il: [Matrix<I>] = try r.layers("inverse_L") { $0.outputSquare }
        let ir: [Matrix<I>] = try r.layers("inverse_R") { $0.inputSquare }
        let sl: [Matrix<Double>] = try r.layers("shadow_L") { $0.outputSquare }
        let sr: [Matrix<Double>] = try r.layers("shadow_R") { $0.inputSquare }
        let fr = try r.flags("reset_flag_R", count: r.layerCount), fl = try r.flags("reset_flag_L", count: r.layerCount)
        let counts = try r.integers("reset_counts", count: r.layerCount)
        let sw = try r.integers("switch_step")
        guard sw.count <= 1 else { throw r.fail("switch_step", "\(sw.count) values, expected at most 1") }
        var hs = HybridState()
        hs.windowSum = try r.scalars("hybrid.window_sum", count: 1)[0]
        hs.windowCount = try r.integers("hybrid.window_count", count: 1)[0]
        let pm = try r.scalars("hybrid.previous_mean")
        guard pm.count <= 1 else { throw r.fail("hybrid.previous_mean", "\(pm.count) values, expected at most 1") }
        hs.previousMean = pm.first
        hs.stalledWindows = try r.integers("hybrid.stalled_windows", count: 1)[0]
        hs.switchRequested = try r.flags("hybrid.switch_requested", count: 1)[0]
        hs.lastRelativeDecrease = try r.scalars("hybrid.last_relative_decrease", count: 1)[0]
        var newSGD = sgd, newAdam = adam
        do {
            if var o = newSGD { try o.importState(r.nested(prefix: "inner.", optimizer: o.name)); newSGD = o }
            if var o = newAdam { try o.importState(r.nested(prefix: "inner.", optimizer: o.name)); newAdam = o }
        } catch { throw error.nested(in: name, prefix: "inner.") }
        try r.finish()
        inverseL = il; inverseR = ir; shadowL = sl; shadowR = sr
        resetFlags = zip(fr, fl).map { (r: $0, l: $1) }; _resetCounts = counts
        _switchStep = sw.first; hybridState = hs; sgd = newSGD; adam = newAdam
    }
}
