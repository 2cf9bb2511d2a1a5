import Glibc   // log10

/// A row × column grid of values drawn as shaded cells with the value written in each — the
/// at-a-glance figure of a comparison (configuration × precision). One or more panels side by side
/// share the rows and columns; each panel has its own colour scale.
///
/// Shading is a lightness ramp of one hue per panel (light = good end, dark = bad end), so it reads
/// in grey scale too; the number in the cell is the value itself, so no colour has to be decoded.
/// A cell without a value is hatched grey and says "–". Deterministic like ``SVGPlot``.
public struct SVGGrid: Sendable, Equatable {
    public struct Panel: Sendable, Equatable {
        public var title: String
        /// `values[row][column]`; NaN for "no value".
        public var values: [[Double]]
        /// The text written in each cell (same shape as `values`).
        public var labels: [[String]]
        /// The value mapped to the lightest and to the darkest shade (clamped beyond).
        public var light: Double
        public var dark: Double
        public var logScale: Bool
        /// Hue of the panel's ramp, degrees.
        public var hue: Double

        public init(title: String, values: [[Double]], labels: [[String]], light: Double, dark: Double, logScale: Bool, hue: Double) {
            self.title = title; self.values = values; self.labels = labels
            self.light = light; self.dark = dark; self.logScale = logScale; self.hue = hue
        }

        /// Position of `v` on the ramp, 0 (light) … 1 (dark); nil for no value.
        func shade(_ v: Double) -> Double? {
            guard !v.isNaN else { return nil }
            let (a, b, x) = logScale ? (log10(light), log10(dark), v > 0 ? log10(v) : -Double.infinity) : (light, dark, v)
            guard a != b else { return 0.5 }
            return min(1, max(0, (x - a) / (b - a)))
        }
    }

    public var title: String
    public var rows: [String]
    public var columns: [String]
    public var panels: [Panel]
    public var note: String

    public init(title: String, rows: [String], columns: [String], panels: [Panel], note: String) {
        self.title = title; self.rows = rows; self.columns = columns; self.panels = panels; self.note = note
    }

    public func render() -> String {
        let c = { (v: Double) in NumberFormat.fixed(v, decimals: 2) }
        let rowLabelWidth = Double(min(260, 40 + 7 * (rows.map(\.count).max() ?? 10)))
        let cellWidth = 74.0, cellHeight = 22.0, panelGap = 18.0
        let panelWidth = cellWidth * Double(columns.count)
        let top = 78.0
        let width = rowLabelWidth + Double(panels.count) * panelWidth + Double(max(0, panels.count - 1)) * panelGap + 16
        let height = top + cellHeight * Double(rows.count) + 44
        var svg = SVGBuilder()
        svg.line("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width.rounded(.up)))\" height=\"\(Int(height.rounded(.up)))\" viewBox=\"0 0 \(Int(width.rounded(.up))) \(Int(height.rounded(.up)))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"\(SVGBuilder.escape(title))\">")
        svg.line("<title>\(SVGBuilder.escape(title))</title>")
        svg.line("<defs><pattern id=\"no-value\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><rect width=\"6\" height=\"6\" fill=\"#eeeeee\"/><path d=\"M0 6 L6 0\" stroke=\"#bbbbbb\" stroke-width=\"1\"/></pattern></defs>")
        svg.line("<rect x=\"0\" y=\"0\" width=\"\(c(width))\" height=\"\(c(height))\" fill=\"#ffffff\"/>")
        svg.line("<text x=\"\(c(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(SVGBuilder.escape(title))</text>")
        for (i, row) in rows.enumerated() {
            let y = top + cellHeight * Double(i) + cellHeight / 2 + 4
            svg.line("<text x=\"\(c(rowLabelWidth - 6))\" y=\"\(c(y))\" text-anchor=\"end\">\(SVGBuilder.escape(row))</text>")
        }
        for (k, panel) in panels.enumerated() {
            let left = rowLabelWidth + Double(k) * (panelWidth + panelGap)
            svg.line("<text x=\"\(c(left + panelWidth / 2))\" y=\"42\" text-anchor=\"middle\" font-weight=\"bold\">\(SVGBuilder.escape(panel.title))</text>")
            for (j, column) in columns.enumerated() {
                let x = left + cellWidth * Double(j) + cellWidth / 2
                svg.line("<text x=\"\(c(x))\" y=\"\(c(top - 8))\" text-anchor=\"middle\" font-size=\"9\">\(SVGBuilder.escape(column))</text>")
            }
            for i in rows.indices {
                for j in columns.indices {
                    let x = left + cellWidth * Double(j), y = top + cellHeight * Double(i)
                    let v = i < panel.values.count && j < panel.values[i].count ? panel.values[i][j] : .nan
                    let label = i < panel.labels.count && j < panel.labels[i].count ? panel.labels[i][j] : "–"
                    if let s = panel.shade(v) {
                        let lightness = 96 - 62 * s
                        svg.line("<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(cellWidth))\" height=\"\(c(cellHeight))\" fill=\"hsl(\(Int(panel.hue)), 70%, \(NumberFormat.fixed(lightness, decimals: 1))%)\" stroke=\"#ffffff\"/>")
                        svg.line("<text x=\"\(c(x + cellWidth / 2))\" y=\"\(c(y + cellHeight / 2 + 4))\" text-anchor=\"middle\" fill=\"\(s > 0.55 ? "#ffffff" : "#000000")\">\(SVGBuilder.escape(label))</text>")
                    } else {
                        svg.line("<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(cellWidth))\" height=\"\(c(cellHeight))\" fill=\"url(#no-value)\" stroke=\"#ffffff\"/>")
                        svg.line("<text x=\"\(c(x + cellWidth / 2))\" y=\"\(c(y + cellHeight / 2 + 4))\" text-anchor=\"middle\" fill=\"#555555\">\(SVGBuilder.escape(label))</text>")
                    }
                }
            }
        }
        svg.line("<text x=\"8\" y=\"\(c(height - 14))\" font-size=\"10\" fill=\"#333333\">\(SVGBuilder.escape(note))</text>")
        svg.line("</svg>")
        return svg.text
    }
}
