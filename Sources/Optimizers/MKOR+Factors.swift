import Scalars
import LinearAlgebra
import Networks

/// MKOR's factor recursion (Docs/Optimizers.md §8.4 step 1, §8.5), its Double shadow for `invRes`, and the
/// MKOR-H window bookkeeping (§8.7).
extension MKOR {
    /// Step 1 for one layer: clamped batch means, then `R⁻` (input side) first, `L⁻` second — the
    /// order matters because a trigger on `R⁻` sets `L⁻`'s flag before `L⁻` is processed.
    @inlinable
    mutating func updateFactors(layer l: Int, statistics s: LayerStatistics<W>, step t: Int, report: inout StepReport) throws(ShapeError) {
        var clamped = 0
        let r = clampedMean(s.inputs, unscale: 1, clamped: &clamped)
        let q = clampedMean(s.outputGradients, unscale: s.outputGradientScale, clamped: &clamped)
        if clamped > 0 {
            report.events.append(OptimizerEvent(.clamp, step: t, layer: l, "\(clamped) entries of ā, ĝ clamped to ±\(clip)", value: Double(clamped)))
        }
        try updateFactors(layer: l, inputMean: r, outputMean: q, step: t, report: &report)
    }

    /// Step 1b for one layer from its (already clamped and averaged) vectors `r` (input side) and `q`.
    @inlinable
    mutating func updateFactors(layer l: Int, inputMean r: [I], outputMean q: [I], step t: Int, report: inout StepReport) throws(ShapeError) {
        var xr = inverseR[l], fr = shadowR[l]
        try updateFactor(&xr, shadow: &fr, r, side: "R", layer: l, step: t, report: &report)
        inverseR[l] = xr; shadowR[l] = fr
        var xl = inverseL[l], fl = shadowL[l]
        try updateFactor(&xl, shadow: &fl, q, side: "L", layer: l, step: t, report: &report)
        inverseL[l] = xl; shadowL[l] = fl
        report.monitor("reset_count", layer: l, Double(resetCounts[l]))
    }

    /// `mean_n clamp(x_n, ±c)` per row, summed under the accumulation model in `Weights`, divided by N
    /// in `Weights`, then (if Ĝ carries a loss scale S) divided by S in Double, and rounded once to
    /// `Inverses` ("cast r, q to the factor type").
    @inlinable
    func clampedMean(_ x: Matrix<W>, unscale: Double, clamped: inout Int) -> [I] {
        let n = W(Double(x.columns))
        let limit = hyperparameters.clippingValue == nil ? nil : clip
        return (0..<x.rows).map { i in
            let row = (0..<x.columns).map { j -> W in
                let v = x[i, j]
                guard let c = limit else { return v }
                if v > c { clamped += 1; return c }
                if v < -c { clamped += 1; return -c }
                return v
            }
            let mean = Reduction.sum(row, accumulation: settings.accumulation) / n
            return unscale == 1 ? I(mean.doubleValue) : I(mean.doubleValue / unscale)
        }
    }

    /// One factor's update for the configured variant, with its events and monitors.
    @inlinable
    mutating func updateFactor(_ x: inout Matrix<I>, shadow: inout Matrix<Double>, _ v: [I], side: String,
                               layer l: Int, step t: Int, report: inout StepReport) throws(ShapeError) {
        let h = hyperparameters
        let acc = settings.accumulation
        let track = h.expensiveMonitors
        switch h.variant {
        case .code:
            let flagSet = side == "R" ? resetFlags[l].r : resetFlags[l].l
            if flagSet {
                if h.resetMode == .identity {
                    x = .identity(x.rows)
                    if track { shadow = .identity(x.rows) }
                } else {
                    x = blended(x, keep: keepStabilizer, identity: identityStabilizer)
                    if track { shadow = Self.shadowBlend(shadow, keep: keepStabilizer.doubleValue, identity: identityStabilizer.doubleValue) }
                }
                if side == "R" { resetFlags[l].r = false } else { resetFlags[l].l = false }
            } else {
                let p = blended(x, keep: keepBlend, identity: identityBlend)
                let u = try shermanMorrison(p, v, ema: false, accumulation: acc)
                record(u.denominator, side: side, layer: l, step: t, report: &report)
                x = u.inverse
                if track {
                    let vd = v.map { $0.doubleValue }
                    shadow = Self.shadowRankOne(Self.shadowBlend(shadow, keep: keepBlend.doubleValue, identity: identityBlend.doubleValue), vd, keep: 1, weight: 1)
                }
                let maxEntry = x.maxNorm
                if !(maxEntry <= h.resetThreshold) {
                    resetFlags[l] = (true, true)
                    _resetCounts[l] += 1
                    report.events.append(OptimizerEvent(.reset, step: t, layer: l,
                        "‖\(side)⁻‖_max > \(h.resetThreshold): both factors reset at their next update", value: maxEntry))
                }
            }
        case .ema:
            let maxBefore = x.maxNorm
            if !(maxBefore <= h.resetThreshold) {
                x = blended(x, keep: keepStabilizer, identity: identityStabilizer)
                if track { shadow = Self.shadowBlend(shadow, keep: keepStabilizer.doubleValue, identity: identityStabilizer.doubleValue) }
                _resetCounts[l] += 1
                report.events.append(OptimizerEvent(.reset, step: t, layer: l, "stabilizer on \(side)⁻ (‖X‖_max > \(h.resetThreshold))", value: maxBefore))
            }
            let u = try shermanMorrison(x, v, ema: true, accumulation: acc)
            record(u.denominator, side: side, layer: l, step: t, report: &report)
            x = u.inverse
            if track { shadow = Self.shadowRankOne(shadow, v.map { $0.doubleValue }, keep: h.statDecay, weight: 1 - h.statDecay) }
        }
        UpdateDiagnostics.checkFinite(x, "\(side)inv", step: t, layer: l, into: &report)
        report.monitor("max_entry_\(side)inv", layer: l, x.maxNorm)
        if track {
            let health = MatrixHealth(x)
            report.monitor("lambda_min_\(side)inv", layer: l, health.lambdaMin)
            report.monitor("sym_err_\(side)inv", layer: l, health.symmetryError)
            report.monitor("inv_res_\(side)inv", layer: l, MatrixHealth.inverseResidual(x, shadow))
        }
    }

    /// `a X + b I` with `a`, `b` rounded once: off-diagonal `a·x` (one operation), diagonal `a·x + b`
    /// (one statement under `settings.elementwise`).
    @inlinable
    func blended(_ x: Matrix<I>, keep a: I, identity b: I) -> Matrix<I> {
        let fused = settings.elementwise == .fused
        var p = x.scaled(by: a)
        for i in 0..<p.rows { p[i, i] = Statement.axpy(fused, a, x[i, i], b) }
        return p
    }

    /// K4 as `ShermanMorrison.update` (code) / `.scaledUpdate` (EMA, constants `1/γ`, `(1−γ)/γ²`, `(1−γ)/γ`
    /// rounded once) evaluate it — `u = Pv` and `w = vᵀP` as two separate products, `s = w·v`, all under
    /// `settings.accumulation` — with the elementwise statements under `settings.elementwise` (§1.3 item 2):
    /// the denominator `1 + s` (one operation) or `1 + ((1−γ)/γ)·s`, and each entry `P_ij − (u_i w_j)/den`
    /// or `(1/γ)P_ij − (((1−γ)/γ²)(u_i w_j))/den`. Per-op it is the library kernel operation for operation
    /// (so bit for bit, `MKORStatements` checks it); fused, each statement is evaluated in Float and rounded
    /// once for a format narrower than Float.
    @inlinable
    func shermanMorrison(_ p: Matrix<I>, _ v: [I], ema: Bool, accumulation acc: AccumulationModel) throws(ShapeError) -> ShermanMorrison.Update<I> {
        guard p.isSquare, v.count == p.rows else {
            throw ShapeError(operation: "Sherman–Morrison", detail: "P is \(p.rows)×\(p.columns), v has \(v.count) elements")
        }
        let fused = settings.elementwise == .fused
        let d = p.rows
        let u = try p.times(v, .none, accumulation: acc)          // P v
        let w = try p.times(v, .transposed, accumulation: acc)    // (vᵀ P)ᵀ, computed separately
        let s = try Reduction.dot(w, v, accumulation: acc)        // vᵀ P v
        let den: I = ema ? Statement.xpby(fused, 1, emaWeight, s) : 1 + s
        let (a, c) = (emaScale, emaCorrection)
        var x = p
        x.withUnsafeMutableElements { xb in
            for i in 0..<d {
                for j in 0..<d {
                    xb[i * d + j] = ema ? Statement.scaledMinusScaledProductOver(fused, a, xb[i * d + j], c, u[i], w[j], den)
                                        : Statement.minusProductOver(fused, xb[i * d + j], u[i], w[j], den)
                }
            }
        }
        return ShermanMorrison.Update(inverse: x, denominator: den)
    }

    /// Records the denominator monitor and the §10.3 event when it is ≤ 1, overflowed or non-finite.
    @inlinable
    func record(_ den: I, side: String, layer l: Int, step t: Int, report: inout StepReport) {
        let d = den.doubleValue
        report.monitor("sm_denominator_\(side)", layer: l, d)
        let what: String? = d == .infinity ? "overflow" : (!d.isFinite ? "non-finite" : (d <= 1 ? "≤ 1 (factor not positive definite)" : nil))
        if let what { report.events.append(OptimizerEvent(.shermanMorrisonDenominator, step: t, layer: l, "\(side): denominator \(what)", value: d)) }
    }

    /// Shadow of a blend `X ← aX + bI` on the exact factor: `F ← (a F⁻¹ + b I)⁻¹` (Double, Cholesky);
    /// a NaN matrix once `F` is not numerically SPD (the monitor then reads NaN).
    @inlinable
    static func shadowBlend(_ f: Matrix<Double>, keep a: Double, identity b: Double) -> Matrix<Double> {
        guard case .success(let finv)? = try? f.dampedSPDInverse(damping: 0),
              case .success(let r)? = try? finv.scaled(by: a).addingToDiagonal(b).dampedSPDInverse(damping: 0)
        else { return Matrix(rows: f.rows, columns: f.columns, repeating: .nan) }
        return r
    }

    /// Shadow of a Sherman–Morrison step: `F ← keep·F + weight·v vᵀ`.
    @inlinable
    static func shadowRankOne(_ f: Matrix<Double>, _ v: [Double], keep: Double, weight: Double) -> Matrix<Double> {
        Matrix(rows: f.rows, columns: f.columns) { i, j in keep * f[i, j] + weight * v[i] * v[j] }
    }
}

/// MKOR-H's loss windows (§8.7), accumulated in Double.
@usableFromInline
struct HybridState: Sendable {
    @usableFromInline var windowSum = 0.0
    @usableFromInline var windowCount = 0
    @usableFromInline var previousMean: Double? = nil
    @usableFromInline var stalledWindows = 0
    @usableFromInline var switchRequested = false
    @usableFromInline var lastRelativeDecrease = Double.nan

    @inlinable
    init() {}

    @inlinable
    mutating func observe(_ loss: Double, rule: MKORHybridRule) {
        windowSum += loss; windowCount += 1
        guard windowCount == rule.windowSteps else { return }
        let mean = windowSum / Double(windowCount)
        windowSum = 0; windowCount = 0
        if let prev = previousMean {
            lastRelativeDecrease = (prev - mean) / prev
            stalledWindows = lastRelativeDecrease < rule.threshold ? stalledWindows + 1 : 0
            if stalledWindows >= rule.patience { switchRequested = true }
        }
        previousMean = mean
    }
}
