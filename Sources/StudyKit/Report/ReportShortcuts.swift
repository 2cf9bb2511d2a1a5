/// Short names the study kinds use when they write tables and plots.
enum Fmt {
    /// Three significant digits, locale-free (see `NumberFormat.significant`).
    static func sig(_ x: Double) -> String { NumberFormat.significant(x) }
    /// `median [q1, q3]` of a sample, or `–` when it is empty.
    static func medianIQR(_ values: [Double]) -> String {
        guard let q = Sample(values).quartiles else { return "–" }
        return "\(sig(q.median)) [\(sig(q.lower)), \(sig(q.upper))]"
    }
}

/// A scatter plot under construction: named point sets, rendered through `SVGPlot.scatter`.
struct ScatterPlot {
    var title: String
    var xLabel: String
    var yLabel: String
    var logX = false
    var logY = false
    var series: [(String, [(Double, Double)])] = []
    var fit: LinearFit? = nil

    init(title: String, xLabel: String, yLabel: String, logX: Bool = false, logY: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logX = logX; self.logY = logY
    }

    var svg: String {
        SVGPlot.scatter(title: title, x: PlotAxis(xLabel, scale: logX ? .log10 : .linear),
                        y: PlotAxis(yLabel, scale: logY ? .log10 : .linear),
                        points: series.map { PlotSeries(name: $0.0, points: $0.1.map { PlotPoint(x: $0.0, y: $0.1) }) },
                        fit: fit, logLogFit: logX && logY).render()
    }
}
