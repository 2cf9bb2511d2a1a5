import Glibc   // log10

/// One axis of a plot: its label, scale and (optionally) a fixed range.
public struct PlotAxis: Sendable, Equatable {
    public var label: String
    public var scale: AxisScale
    /// Shown range; `nil` means the drawable data's range widened to nice ticks.
    public var range: ClosedRange<Double>?
    public init(_ label: String, scale: AxisScale = .linear, range: ClosedRange<Double>? = nil) {
        self.label = label; self.scale = scale; self.range = range
    }
}

/// A line chart (or scatter plot) rendered as a standalone SVG document.
///
/// The SVG is meant to be committed and shown by GitHub (which serves it as an image): it uses no
/// scripts, fonts, stylesheets or links, draws its own white background (so it stays legible in
/// dark mode), and is *deterministic*: the same plot gives the same bytes, because coordinates are
/// written with ``NumberFormat/fixed(_:decimals:trimmingZeros:)`` at 2 decimals, elements come in
/// series order, and the only id (the clip path, `plot-area`) is fixed.
///
/// Drawable points: finite on both coordinates and positive on a log axis; see ``PlotSeries`` for
/// how gaps and diverged runs are shown.
public struct SVGPlot: Sendable, Equatable {
    public var title: String
    public var x: PlotAxis
    public var y: PlotAxis
    public var series: [PlotSeries]
    public var width: Int
    public var height: Int

    /// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), yellow left
    /// out (unreadable on white), then black and grey. Series cycle through them.
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"]

    /// Line dash patterns: a series' style index `k` takes colour `k mod 8` and pattern `⌊k/8⌋ mod 4`,
    /// so the first 32 series differ in colour *or* line style (beyond 8, colour alone repeats: two
    /// configurations drawn in one blue are indistinguishable). Fitted lines keep their own "6 4" dash,
    /// which no data pattern uses.
    public static let dashPatterns = ["", "2 2.5", "10 3 2 3", "12 5"]

    /// Marker shapes for points, cycled like ``dashPatterns``: circle, square, triangle, diamond.
    public enum MarkerShape: Int, CaseIterable, Sendable { case circle, square, triangle, diamond }

    public init(title: String, x: PlotAxis, y: PlotAxis, series: [PlotSeries], width: Int = 720, height: Int = 440) {
        self.title = title; self.x = x; self.y = y; self.series = series; self.width = width; self.height = height
    }

    /// A scatter plot of `points` (drawn as markers whatever their style) with, when `fit` is given,
    /// its dashed line over the x range the fit used (``LinearFit/fittedDomain``), never beyond it: a
    /// line across the whole axis would claim the law holds where no point was fitted. `logLogFit`
    /// says `fit` is in log10–log10 space (from ``Statistics/logLogSlope(x:y:)``). The fit's legend
    /// entry states slope, r² and how many points it left out.
    public static func scatter(title: String, x: PlotAxis, y: PlotAxis, points: [PlotSeries],
                               fit: LinearFit? = nil, logLogFit: Bool = false) -> SVGPlot {
        var all = points.map { s -> PlotSeries in var s = s; s.style = .markers; s.marksDivergence = false; return s }
        if let fit {
            let domain = fit.fittedDomain
            let lo = logLogFit ? Glibc.pow(10, domain.lowerBound) : domain.lowerBound
            let hi = logLogFit ? Glibc.pow(10, domain.upperBound) : domain.upperBound
            if lo < hi {
                var name = "fit: slope " + NumberFormat.significant(fit.slope) + ", r² " + NumberFormat.fixed(fit.rSquared, decimals: 3)
                if fit.excludedCount > 0 { name += ", \(fit.excludedCount) non-finite/non-positive left out" }
                all.append(.fittedLine(fit, from: lo, to: hi, logLog: logLogFit, name: name, colorIndex: 6))
            }
        }
        return SVGPlot(title: title, x: x, y: y, series: all)
    }

    static func isDrawable(_ v: Double, _ scale: AxisScale) -> Bool {
        v.isFinite && (scale == .linear || v > 0)
    }

    static func isDrawable(_ p: PlotPoint, _ xs: AxisScale, _ ys: AxisScale) -> Bool {
        isDrawable(p.x, xs) && isDrawable(p.y, ys)
    }

    /// The ticks of one axis over `values` (the drawable coordinates along it).
    static func ticks(for axis: PlotAxis, values: [Double]) -> AxisTicks {
        if let r = axis.range {
            let t = axis.scale == .log10 ? AxisTicks.log10(r.lowerBound, r.upperBound) : AxisTicks.linear(r.lowerBound, r.upperBound)
            let keep = t.values.indices.filter { r.contains(t.values[$0]) }
            return AxisTicks(lower: r.lowerBound, upper: r.upperBound, values: keep.map { t.values[$0] },
                             labels: keep.map { t.labels[$0] }, minor: t.minor.filter { r.contains($0) })
        }
        guard let lo = values.min(), let hi = values.max() else {
            return axis.scale == .log10 ? AxisTicks.log10(1, 10) : AxisTicks.linear(0, 1)
        }
        return axis.scale == .log10 ? AxisTicks.log10(lo, hi) : AxisTicks.linear(lo, hi)
    }

    /// The SVG document, ending with a newline.
    public func render() -> String {
        var svg = SVGBuilder()
        let layout = Layout(plot: self)
        let frame = layout.frame
        svg.line("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"\(SVGBuilder.escape(title))\">")
        svg.line("<title>\(SVGBuilder.escape(title))</title>")
        svg.line("<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>")
        svg.line("<defs><clipPath id=\"plot-area\"><rect x=\"\(c(frame.left))\" y=\"\(c(frame.top))\" width=\"\(c(frame.right - frame.left))\" height=\"\(c(frame.bottom - frame.top))\"/></clipPath></defs>")
        if !title.isEmpty {
            svg.line("<text x=\"\(c(Double(width) / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(SVGBuilder.escape(title))</text>")
        }
        drawAxes(&svg, layout)
        svg.line("<g clip-path=\"url(#plot-area)\">")
        for (i, s) in series.enumerated() { drawBand(&svg, s, color: color(i, s), layout) }
        for (i, s) in series.enumerated() { drawLines(&svg, s, index: i, color: color(i, s), layout) }
        svg.line("</g>")
        // Markers are not clipped, so a point on the frame (a decade end) shows whole.
        for (i, s) in series.enumerated() { drawMarkers(&svg, s, index: i, color: color(i, s), layout) }
        if !layout.hasData {
            svg.line("<text x=\"\(c((frame.left + frame.right) / 2))\" y=\"\(c((frame.top + frame.bottom) / 2))\" text-anchor=\"middle\" fill=\"#666666\">no finite data</text>")
        }
        drawLegend(&svg, layout)
        svg.line("</svg>")
        return svg.text
    }

    /// The series' style index: its ``PlotSeries/colorIndex`` if set, else its position in the plot.
    static func styleIndex(_ index: Int, _ s: PlotSeries) -> Int { max(0, s.colorIndex ?? index) }

    func color(_ index: Int, _ s: PlotSeries) -> String {
        SVGPlot.palette[SVGPlot.styleIndex(index, s) % SVGPlot.palette.count]
    }

    /// The `stroke-dasharray` attribute of a series' line (empty for a solid line).
    static func dashAttribute(_ index: Int, _ s: PlotSeries) -> String {
        dashAttribute(style: s.style, styleIndex: styleIndex(index, s))
    }

    static func dashAttribute(style: SeriesStyle, styleIndex: Int) -> String {
        if style == .dashedLine { return " stroke-dasharray=\"6 4\"" }
        let pattern = dashPatterns[(styleIndex / palette.count) % dashPatterns.count]
        return pattern.isEmpty ? "" : " stroke-dasharray=\"\(pattern)\""
    }

    static func markerShape(_ styleIndex: Int) -> MarkerShape {
        MarkerShape(rawValue: (styleIndex / palette.count) % MarkerShape.allCases.count)!
    }

    /// A page coordinate, 2 decimals, trailing zeros dropped.
    func c(_ v: Double) -> String { NumberFormat.fixed(v, decimals: 2, trimmingZeros: true) }

    func drawAxes(_ svg: inout SVGBuilder, _ layout: Layout) {
        let f = layout.frame
        for v in layout.xTicks.minor { let px = layout.px(v); svg.line("<line x1=\"\(c(px))\" y1=\"\(c(f.top))\" x2=\"\(c(px))\" y2=\"\(c(f.bottom))\" stroke=\"#f0f0f0\"/>") }
        for v in layout.yTicks.minor { let py = layout.py(v); svg.line("<line x1=\"\(c(f.left))\" y1=\"\(c(py))\" x2=\"\(c(f.right))\" y2=\"\(c(py))\" stroke=\"#f0f0f0\"/>") }
        for (v, label) in zip(layout.xTicks.values, layout.xTicks.labels) {
            let px = layout.px(v)
            svg.line("<line x1=\"\(c(px))\" y1=\"\(c(f.top))\" x2=\"\(c(px))\" y2=\"\(c(f.bottom))\" stroke=\"#dddddd\"/>")
            svg.line("<line x1=\"\(c(px))\" y1=\"\(c(f.bottom))\" x2=\"\(c(px))\" y2=\"\(c(f.bottom + 5))\" stroke=\"#333333\"/>")
            svg.line("<text x=\"\(c(px))\" y=\"\(c(f.bottom + 18))\" text-anchor=\"middle\">\(SVGBuilder.escape(label))</text>")
        }
        for (v, label) in zip(layout.yTicks.values, layout.yTicks.labels) {
            let py = layout.py(v)
            svg.line("<line x1=\"\(c(f.left))\" y1=\"\(c(py))\" x2=\"\(c(f.right))\" y2=\"\(c(py))\" stroke=\"#dddddd\"/>")
            svg.line("<line x1=\"\(c(f.left - 5))\" y1=\"\(c(py))\" x2=\"\(c(f.left))\" y2=\"\(c(py))\" stroke=\"#333333\"/>")
            svg.line("<text x=\"\(c(f.left - 8))\" y=\"\(c(py + 4))\" text-anchor=\"end\">\(SVGBuilder.escape(label))</text>")
        }
        svg.line("<rect x=\"\(c(f.left))\" y=\"\(c(f.top))\" width=\"\(c(f.right - f.left))\" height=\"\(c(f.bottom - f.top))\" fill=\"none\" stroke=\"#333333\"/>")
        svg.line("<text x=\"\(c((f.left + f.right) / 2))\" y=\"\(c(Double(height) - 12))\" text-anchor=\"middle\">\(SVGBuilder.escape(x.label))</text>")
        let ly = (f.top + f.bottom) / 2
        svg.line("<text x=\"16\" y=\"\(c(ly))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(c(ly)))\">\(SVGBuilder.escape(y.label))</text>")
    }

    func drawBand(_ svg: inout SVGBuilder, _ s: PlotSeries, color: String, _ layout: Layout) {
        var run: [BandPoint] = []
        func flush() {
            defer { run = [] }
            guard run.count >= 2 else { return }
            let upper = run.map { "\(c(layout.px($0.x))),\(c(layout.py($0.upper)))" }
            let lower = run.reversed().map { "\(c(layout.px($0.x))),\(c(layout.py($0.lower)))" }
            svg.line("<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.2\" stroke=\"none\"/>")
        }
        for b in s.band {
            if SVGPlot.isDrawable(b.x, x.scale) && SVGPlot.isDrawable(b.lower, y.scale) && SVGPlot.isDrawable(b.upper, y.scale) {
                run.append(b)
            } else { flush() }
        }
        flush()
    }

    func drawLines(_ svg: inout SVGBuilder, _ s: PlotSeries, index: Int, color: String, _ layout: Layout) {
        guard s.style != .markers else { return }
        var d = ""
        for run in layout.runs(of: s) where run.count >= 2 {
            for (k, p) in run.enumerated() { d += (k == 0 ? "M" : "L") + c(layout.px(p.x)) + " " + c(layout.py(p.y)) }
        }
        guard !d.isEmpty else { return }
        svg.line("<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.75\" stroke-linejoin=\"round\"\(SVGPlot.dashAttribute(index, s))/>")
    }

    /// Point markers (or, for a line, a dot at each isolated point that would otherwise vanish) and
    /// the divergence ×, for points inside the frame.
    func drawMarkers(_ svg: inout SVGBuilder, _ s: PlotSeries, index: Int, color: String, _ layout: Layout) {
        let shape = SVGPlot.markerShape(SVGPlot.styleIndex(index, s))
        let runs = layout.runs(of: s)
        let drawsMarkers = s.style == .markers || s.style == .lineAndMarkers
        for run in runs {
            for p in run where layout.isInFrame(p) && (drawsMarkers || run.count == 1) {
                svg.line(marker(shape, at: layout.px(p.x), layout.py(p.y), r: drawsMarkers ? 3 : 2, color))
            }
        }
        if s.marksDivergence && s.diverged, let last = runs.last?.last, layout.isInFrame(last) {
            let px = layout.px(last.x), py = layout.py(last.y), h = 5.0
            svg.line("<path d=\"M\(c(px - h)) \(c(py - h))L\(c(px + h)) \(c(py + h))M\(c(px - h)) \(c(py + h))L\(c(px + h)) \(c(py - h))\" stroke=\"\(color)\" stroke-width=\"2.5\"/>")
        }
    }

    func marker(_ shape: MarkerShape, at x: Double, _ y: Double, r: Double, _ color: String) -> String {
        switch shape {
        case .circle:
            return "<circle cx=\"\(c(x))\" cy=\"\(c(y))\" r=\"\(c(r))\" fill=\"\(color)\"/>"
        case .square:
            return "<rect x=\"\(c(x - r))\" y=\"\(c(y - r))\" width=\"\(c(2 * r))\" height=\"\(c(2 * r))\" fill=\"\(color)\"/>"
        case .triangle:
            let h = 1.3 * r
            return "<polygon points=\"\(c(x)),\(c(y - h)) \(c(x + h)),\(c(y + h * 0.8)) \(c(x - h)),\(c(y + h * 0.8))\" fill=\"\(color)\"/>"
        case .diamond:
            let h = 1.35 * r
            return "<polygon points=\"\(c(x)),\(c(y - h)) \(c(x + h)),\(c(y)) \(c(x)),\(c(y + h)) \(c(x - h)),\(c(y))\" fill=\"\(color)\"/>"
        }
    }

    func drawLegend(_ svg: inout SVGBuilder, _ layout: Layout) {
        guard !layout.legend.isEmpty else { return }
        let left = layout.frame.right + 14
        var top = layout.frame.top + 6
        for entry in layout.legend {
            let mid = top + 6
            switch entry.kind {
            case .series(let style, let styleIndex):
                if style != .markers {
                    let dash = SVGPlot.dashAttribute(style: style, styleIndex: styleIndex)
                    svg.line("<line x1=\"\(c(left))\" y1=\"\(c(mid))\" x2=\"\(c(left + 22))\" y2=\"\(c(mid))\" stroke=\"\(entry.color)\" stroke-width=\"1.75\"\(dash)/>")
                }
                if style == .markers || style == .lineAndMarkers {
                    svg.line(marker(SVGPlot.markerShape(styleIndex), at: left + 11, mid, r: 3, entry.color))
                }
            case .divergence:
                let h = 4.0, cx = left + 11
                svg.line("<path d=\"M\(c(cx - h)) \(c(mid - h))L\(c(cx + h)) \(c(mid + h))M\(c(cx - h)) \(c(mid + h))L\(c(cx + h)) \(c(mid - h))\" stroke=\"\(entry.color)\" stroke-width=\"2\"/>")
            }
            svg.line("<text x=\"\(c(left + 28))\" y=\"\(c(mid + 4))\">\(SVGBuilder.escape(entry.label))</text>")
            top += 18
        }
    }
}

/// Appends SVG text line by line and escapes character data.
struct SVGBuilder {
    var text = ""
    mutating func line(_ s: String) { text += s; text += "\n" }

    /// XML escaping for text and attribute values; control characters XML 1.0 forbids are dropped.
    static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out += " "
            case let c where c.value < 0x20 || c.value == 0xFFFE || c.value == 0xFFFF: continue
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
