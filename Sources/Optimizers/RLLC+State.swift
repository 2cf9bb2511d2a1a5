import Scalars
import LinearAlgebra

/// RLLC's state (§9.5): the `k` memory units (flat parameter vectors, `n×1`; none before the first
/// step) and the learning law `L` (`Moments`). The state has no layer shapes: the memory is flat.
extension RLLC {
    @inlinable
    public func exportState() -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: [])
        s.set("units", units.map { Matrix.column($0) })
        s.set("law", scalars: law.map(\.doubleValue))
        return s
    }

    @inlinable
    public mutating func importState(_ state: OptimizerState) throws(OptimizerStateError) {
        var r = try StateReader(state, optimizer: name)
        let k = unitCount
        let u = try r.matrices("units")
        guard u.isEmpty || u.count == k else { throw r.fail("units", "\(u.count) units, this rule has \(k)") }
        if let n = u.first?.rows, let bad = u.firstIndex(where: { $0.columns != 1 || $0.rows != n }) {
            throw r.fail("units", "unit \(bad): expected \(n)×1, got \(u[bad].rows)×\(u[bad].columns)")
        }
        let l = try r.scalars("law", count: k)
        try r.finish()
        units = u.map { $0.elements.map { M($0) } }
        law = l.map { M($0) }
    }
}
