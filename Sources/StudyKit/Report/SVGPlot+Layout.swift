import Glibc   // log10

extension SVGPlot {
    /// Where everything goes on the page, and the data→page maps: computed once per render.
    struct Layout {
        struct Frame { var left, top, right, bottom: Double }
        enum LegendKind { case series(SeriesStyle, styleIndex: Int), divergence }
        struct LegendEntry { var label: String; var color: String; var kind: LegendKind }

        let xScale: AxisScale, yScale: AxisScale
        let xTicks: AxisTicks, yTicks: AxisTicks
        let frame: Frame
        let legend: [LegendEntry]
        let hasData: Bool

        init(plot: SVGPlot) {
            xScale = plot.x.scale; yScale = plot.y.scale
            var xs: [Double] = [], ys: [Double] = []
            for s in plot.series {
                for p in s.points where SVGPlot.isDrawable(p, xScale, yScale) { xs.append(p.x); ys.append(p.y) }
                for b in s.band where SVGPlot.isDrawable(b.x, xScale) && SVGPlot.isDrawable(b.lower, yScale)
                    && SVGPlot.isDrawable(b.upper, yScale) {
                    xs.append(b.x); ys.append(b.lower); ys.append(b.upper)
                }
            }
            hasData = !xs.isEmpty
            xTicks = SVGPlot.ticks(for: plot.x, values: xs)
            yTicks = SVGPlot.ticks(for: plot.y, values: ys)

            var entries: [LegendEntry] = []
            for (i, s) in plot.series.enumerated() where !s.name.isEmpty {
                entries.append(LegendEntry(label: s.name, color: plot.color(i, s), kind: .series(s.style, styleIndex: SVGPlot.styleIndex(i, s))))
            }
            if plot.series.contains(where: { $0.marksDivergence && $0.diverged }) {
                entries.append(LegendEntry(label: "diverged (last finite value)", color: "#333333", kind: .divergence))
            }
            legend = entries
            // Legend width from the longest label at ~7 px per character (no font metrics in SVG).
            let longest = entries.map(\.label.count).max() ?? 0
            let legendWidth = entries.isEmpty ? 0 : min(260, 44 + 7 * Double(longest))
            let yLabelWidth = Double((yTicks.labels.map(\.count).max() ?? 1) * 7)
            frame = Frame(left: max(64, 40 + yLabelWidth), top: plot.title.isEmpty ? 16 : 40,
                          right: Double(plot.width) - 20 - legendWidth, bottom: Double(plot.height) - 48)
        }

        static func position(_ v: Double, _ scale: AxisScale, _ lo: Double, _ hi: Double) -> Double {
            switch scale {
            case .linear: return hi == lo ? 0.5 : (v - lo) / (hi - lo)
            case .log10:
                let a = Glibc.log10(lo), b = Glibc.log10(hi)
                return b == a ? 0.5 : (Glibc.log10(v) - a) / (b - a)
            }
        }

        func px(_ v: Double) -> Double {
            frame.left + Layout.position(v, xScale, xTicks.lower, xTicks.upper) * (frame.right - frame.left)
        }

        func py(_ v: Double) -> Double {
            frame.bottom - Layout.position(v, yScale, yTicks.lower, yTicks.upper) * (frame.bottom - frame.top)
        }

        /// Whether `p` lies inside the frame (up to rounding): only matters for explicit axis ranges.
        func isInFrame(_ p: PlotPoint) -> Bool {
            let x = px(p.x), y = py(p.y)
            return x >= frame.left - 0.01 && x <= frame.right + 0.01 && y >= frame.top - 0.01 && y <= frame.bottom + 0.01
        }

        /// The series' drawable points split into maximal runs; any undrawable point ends a run.
        func runs(of s: PlotSeries) -> [[PlotPoint]] {
            var result: [[PlotPoint]] = [], current: [PlotPoint] = []
            for p in s.points {
                if SVGPlot.isDrawable(p, xScale, yScale) { current.append(p) }
                else if !current.isEmpty { result.append(current); current = [] }
            }
            if !current.isEmpty { result.append(current) }
            return result
        }
    }
}
