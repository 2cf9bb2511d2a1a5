import Glibc   // pow

/// One (x, y) point of a series. Non-finite coordinates are allowed: they are gaps.
public struct PlotPoint: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// One x of a shaded band (e.g. the interquartile range over seeds).
public struct BandPoint: Sendable, Equatable {
    public var x: Double
    public var lower: Double
    public var upper: Double
    public init(x: Double, lower: Double, upper: Double) { self.x = x; self.lower = lower; self.upper = upper }
}

/// How a series is drawn.
public enum SeriesStyle: Sendable, Equatable {
    case line
    /// Points only (a scatter plot).
    case markers
    case lineAndMarkers
    /// A dashed line, for fitted or reference lines.
    case dashedLine
}

/// A named series of points, with an optional shaded band drawn beneath it.
///
/// A point with a NaN or infinite coordinate (and, on a log axis, a non-positive one) is not drawn
/// and breaks the line there: joining across it would draw values that were never measured. If
/// ``marksDivergence`` is set and the *last* point's y is NaN or ±∞ (the run diverged), an × is
/// drawn at the last drawable point before it.
public struct PlotSeries: Sendable, Equatable {
    public var name: String
    public var points: [PlotPoint]
    public var style: SeriesStyle
    public var band: [BandPoint]
    /// The style index k: colour ``SVGPlot/palette``[k mod 8], line pattern and marker shape from ⌊k/8⌋
    /// (``SVGPlot/dashPatterns``); `nil` means the series' position in the plot.
    public var colorIndex: Int?
    public var marksDivergence: Bool

    public init(name: String, points: [PlotPoint], style: SeriesStyle = .line, band: [BandPoint] = [],
                colorIndex: Int? = nil, marksDivergence: Bool = true) {
        self.name = name; self.points = points; self.style = style; self.band = band
        self.colorIndex = colorIndex; self.marksDivergence = marksDivergence
    }

    /// A series from parallel arrays.
    public init(name: String, x: [Double], y: [Double], style: SeriesStyle = .line,
                colorIndex: Int? = nil) throws(ReportError) {
        guard x.count == y.count else { throw .lengthMismatch(what: "series \(name) x and y", first: x.count, second: y.count) }
        self.init(name: name, points: zip(x, y).map { PlotPoint(x: $0, y: $1) }, style: style, colorIndex: colorIndex)
    }

    /// Whether the run diverged: its last point has a NaN or infinite y.
    public var diverged: Bool { points.last.map { !$0.y.isFinite } ?? false }

    /// The median over runs (e.g. seeds) at each x, with the interquartile band shaded around it.
    ///
    /// `runs[s][i]` is run `s` at `x[i]`; a run shorter than `x` (it stopped early) contributes
    /// nothing beyond its end. At each x the statistics are those of ``Sample``: NaNs are left out,
    /// infinities count as values. Where no value is left, the median and band have a gap.
    public static func medianWithInterquartileBand(name: String, x: [Double], runs: [[Double]],
                                                   colorIndex: Int? = nil) -> PlotSeries {
        var points: [PlotPoint] = [], band: [BandPoint] = []
        for (i, xi) in x.enumerated() {
            let sample = Sample(runs.compactMap { i < $0.count ? $0[i] : nil })
            if let q = sample.quartiles {
                points.append(PlotPoint(x: xi, y: q.median))
                band.append(BandPoint(x: xi, lower: q.lower, upper: q.upper))
            } else {
                points.append(PlotPoint(x: xi, y: .nan))
                band.append(BandPoint(x: xi, lower: .nan, upper: .nan))
            }
        }
        return PlotSeries(name: name, points: points, style: .line, band: band, colorIndex: colorIndex,
                          marksDivergence: false)
    }

    /// A fitted line from `x0` to `x1`, dashed. With `logLog`, `fit` is in log10–log10 space (as from
    /// ``Statistics/logLogSlope(x:y:)``) and the line is `y = 10^intercept · x^slope`, straight on
    /// log–log axes; otherwise `y = slope·x + intercept`.
    public static func fittedLine(_ fit: LinearFit, from x0: Double, to x1: Double, logLog: Bool,
                                  name: String, colorIndex: Int? = nil) -> PlotSeries {
        let f: (Double) -> Double = logLog
            ? { x in Glibc.pow(10, fit.intercept) * Glibc.pow(x, fit.slope) }
            : { x in fit(x) }
        return PlotSeries(name: name, points: [PlotPoint(x: x0, y: f(x0)), PlotPoint(x: x1, y: f(x1))],
                          style: .dashedLine, colorIndex: colorIndex, marksDivergence: false)
    }
}
