import Scalars
import LinearAlgebra
import Networks

/// MKOR's factor recursion alone (§8.4 step 1b, §8.5), driven by a stream of vectors — for studies
/// of the inverse factors in low precision (claim R4, Docs/Claims.md) that must run *the optimizer's* update,
/// not a copy of it.
extension MKOR {
    /// Updates the inverse factors of a single layer from its batch-mean vectors: `R⁻` from `inputMean`
    /// (`r`, length `d_i`) first, then `L⁻` from `outputMean` (`q`, length `d_o`), exactly as `step`
    /// does at a factor-update step (variant, blend, reset flags shared by both factors, stabilizer,
    /// events and monitors) — but without the clamp and averaging of step 1a (the caller passes the
    /// vectors already in `Inverses`), without preconditioning and without the inner optimizer.
    ///
    /// The first call sets up the state as `step` does: both factors `I`, both reset flags set.
    /// Throws when the vectors' lengths differ from the factors set up by an earlier call, or when
    /// the optimizer already holds more than one layer.
    @inlinable
    public mutating func updateFactors(inputMean r: [I], outputMean q: [I], step t: Int) throws(ShapeError) -> StepReport {
        if inverseL.isEmpty {
            // the same initial state as `step` (§8.4: identity factors, flags set)
            inverseL = [.identity(q.count)]; inverseR = [.identity(r.count)]
            shadowL = [.identity(q.count)]; shadowR = [.identity(r.count)]
            resetFlags = [(true, true)]; _resetCounts = [0]
        }
        guard inverseL.count == 1, inverseL[0].rows == q.count, inverseR[0].rows == r.count else {
            throw ShapeError(operation: "MKOR factor stream",
                             detail: "factors \(inverseR.map(\.rows)) (R) and \(inverseL.map(\.rows)) (L), vectors of length \(r.count) and \(q.count)")
        }
        var report = StepReport()
        try updateFactors(layer: 0, inputMean: r, outputMean: q, step: t, report: &report)
        return report
    }
}
