import Glibc   // log10

/// The non-NaN values of a sample, sorted, with the number of NaNs that were set aside.
///
/// *NaN policy:* NaNs are **excluded and counted** (``nanCount``), never propagated: over seeds, a
/// diverged run should show up as "3 of 10 runs failed" next to the statistics of the others, not
/// turn every statistic into NaN. ±∞ are ordinary ordered values and stay in (a loss that overflowed
/// is larger than every finite loss), so a median can be `inf`.
public struct Sample: Sendable, Equatable {
    /// The non-NaN values in ascending order.
    public let sorted: [Double]
    /// How many NaNs the input held.
    public let nanCount: Int

    public init(_ values: [Double]) {
        let kept = values.filter { !$0.isNaN }
        sorted = kept.sorted()
        nanCount = values.count - kept.count
    }

    public var count: Int { sorted.count }
    public var isEmpty: Bool { sorted.isEmpty }

    /// The `p`-quantile by linear interpolation between order statistics: Hyndman & Fan type 7,
    /// the default of R's `quantile` and numpy's `quantile`/`percentile` (`method="linear"`).
    ///
    /// With `h = (n−1)·p`, `j = ⌊h⌋`, `g = h − j`, the result interpolates `x[j]` and `x[j+1]`
    /// using numpy's `_lerp` (`a + (b−a)·g` for `g < 0.5`, `b − (b−a)·(1−g)` otherwise), so results
    /// agree with numpy bit for bit for finite data. Interpolating towards ±∞ gives that infinity
    /// (numpy gives NaN there); between −∞ and +∞ the result is NaN. `nil` when no non-NaN value
    /// is left.
    public func quantile(_ p: Double) -> Double? {
        precondition(p >= 0 && p <= 1, "quantile level must be in [0, 1]")
        guard let first = sorted.first else { return nil }
        if sorted.count == 1 { return first }
        let h = Double(sorted.count - 1) * p
        let j = min(Int(h.rounded(.down)), sorted.count - 1)
        let g = h - Double(j)
        let a = sorted[j]
        guard j + 1 < sorted.count, g != 0 else { return a }   // avoids 0·∞ = NaN on an exact index
        let b = sorted[j + 1]
        if a == b { return a }
        // Towards an infinity the line reaches it (numpy's formula would give ∞ − ∞ = NaN);
        // between −∞ and +∞ there is no answer.
        if a.isInfinite || b.isInfinite { return a.isInfinite && b.isInfinite ? .nan : (a.isInfinite ? a : b) }
        let difference = b - a
        return g < 0.5 ? a + difference * g : b - difference * (1 - g)
    }

    /// The 0.5-quantile (the mean of the two middle values for an even count).
    public var median: Double? { quantile(0.5) }

    /// `(q1, median, q3)` at levels 0.25, 0.5, 0.75.
    public var quartiles: (lower: Double, median: Double, upper: Double)? {
        guard let l = quantile(0.25), let m = quantile(0.5), let u = quantile(0.75) else { return nil }
        return (l, m, u)
    }

    /// `q3 − q1`.
    public var interquartileRange: Double? {
        guard let q = quartiles else { return nil }
        return q.upper - q.lower
    }

    public var minimum: Double? { sorted.first }
    public var maximum: Double? { sorted.last }
}

/// A least-squares line `y ≈ slope·x + intercept`.
public struct LinearFit: Sendable, Equatable {
    public let slope: Double
    public let intercept: Double
    /// Coefficient of determination `S_xy² / (S_xx·S_yy)`; `1` when all `y` are equal (a
    /// horizontal line fits exactly).
    public let rSquared: Double
    /// Points used.
    public let count: Int
    /// Points left out (non-finite, or non-positive for a log-log fit).
    public let excludedCount: Int
    /// The smallest and largest x that entered the fit, in the fit's own space (log10 x for a
    /// log–log fit): a plot draws the line over this range only, never extrapolated across the axis.
    public let fittedDomain: ClosedRange<Double>

    /// The fitted value at `x`.
    public func callAsFunction(_ x: Double) -> Double { slope * x + intercept }
}

/// Summary statistics with stated methods; see ``Sample`` for the NaN policy.
public enum Statistics {
    public static func quantile(_ values: [Double], _ p: Double) -> Double? { Sample(values).quantile(p) }
    public static func median(_ values: [Double]) -> Double? { Sample(values).median }
    public static func interquartileRange(_ values: [Double]) -> Double? { Sample(values).interquartileRange }

    /// Ordinary least squares of `y` on `x`, over the pairs where both are finite (the others are
    /// counted in ``LinearFit/excludedCount``).
    ///
    /// Two passes in input order (means, then centred sums `S_xx`, `S_xy`, `S_yy`), a fixed
    /// summation order so that the result does not depend on anything but the input; centring
    /// first avoids the cancellation of the one-pass `Σx² − n·x̄²` formula. `nil` when fewer than two
    /// pairs remain or all remaining `x` are equal (the slope is undefined).
    public static func linearFit(x: [Double], y: [Double]) throws(ReportError) -> LinearFit? {
        guard x.count == y.count else { throw .lengthMismatch(what: "linearFit x and y", first: x.count, second: y.count) }
        var xs: [Double] = [], ys: [Double] = []
        for i in x.indices where x[i].isFinite && y[i].isFinite { xs.append(x[i]); ys.append(y[i]) }
        return fit(xs, ys, excluded: x.count - xs.count)
    }

    /// The exponent `k` of a power law `y ≈ C·x^k`: least squares of `log10 y` on `log10 x` over the
    /// pairs with both values finite and positive. `intercept` is `log10 C`. This is how a report
    /// states "error grows like n^k" or "failure probability scales with (κ·n·u)^k".
    public static func logLogSlope(x: [Double], y: [Double]) throws(ReportError) -> LinearFit? {
        guard x.count == y.count else { throw .lengthMismatch(what: "logLogSlope x and y", first: x.count, second: y.count) }
        var lx: [Double] = [], ly: [Double] = []
        for i in x.indices where x[i].isFinite && y[i].isFinite && x[i] > 0 && y[i] > 0 {
            lx.append(log10(x[i])); ly.append(log10(y[i]))
        }
        return fit(lx, ly, excluded: x.count - lx.count)
    }

    static func fit(_ x: [Double], _ y: [Double], excluded: Int) -> LinearFit? {
        let n = x.count
        guard n >= 2 else { return nil }
        var sx = 0.0, sy = 0.0
        for i in 0..<n { sx += x[i]; sy += y[i] }
        let mx = sx / Double(n), my = sy / Double(n)
        var sxx = 0.0, sxy = 0.0, syy = 0.0
        for i in 0..<n {
            let dx = x[i] - mx, dy = y[i] - my
            sxx += dx * dx; sxy += dx * dy; syy += dy * dy
        }
        guard sxx > 0 else { return nil }
        let slope = sxy / sxx
        let r2 = syy == 0 ? 1 : min(1, (sxy * sxy) / (sxx * syy))
        return LinearFit(slope: slope, intercept: my - slope * mx, rSquared: r2, count: n, excludedCount: excluded,
                         fittedDomain: x.min()!...x.max()!)
    }
}
