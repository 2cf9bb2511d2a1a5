import Testing
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import StudyKit

/// Collects every element (name and attributes) of an XML document.
final class ElementCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var text = ""
    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        elements.append((elementName, attributeDict))
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    /// Parses `svg`; `nil` if it is not well-formed XML.
    static func parse(_ svg: String) -> ElementCollector? {
        let collector = ElementCollector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        return parser.parse() ? collector : nil
    }

    func paths(stroke: String) -> [String] {
        elements.filter { $0.name == "path" && $0.attributes["stroke"] == stroke }.compactMap { $0.attributes["d"] }
    }
    func count(_ name: String, fill: String) -> Int {
        elements.filter { $0.name == name && $0.attributes["fill"] == fill }.count
    }
}

@Suite struct SVGPlotDocuments {
    let blue = SVGPlot.palette[0], orange = SVGPlot.palette[1]

    func samplePlot() throws -> SVGPlot {
        let steps = (0..<50).map(Double.init)
        let adam = try PlotSeries(name: "Adam <bf16> & \"friends\"", x: steps, y: steps.map { 1 / ($0 + 1) })
        var kfacY = steps.map { 0.5 * exp(-$0 / 10) }
        kfacY[40...] = [Double](repeating: .nan, count: 10)[...]
        let kfac = try PlotSeries(name: "KFAC", x: steps, y: kfacY)
        return SVGPlot(title: "Loss vs step: κ·n·u", x: PlotAxis("step"), y: PlotAxis("loss", scale: .log10),
                       series: [adam, kfac])
    }

    @Test func isWellFormedXMLAndSelfContained() throws {
        let svg = try samplePlot().render()
        let doc = try #require(ElementCollector.parse(svg))
        #expect(doc.elements.first?.name == "svg")
        #expect(doc.elements.first?.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(doc.text.contains("Adam <bf16> & \"friends\""))
        #expect(!svg.contains("href") && !svg.contains("<script") && !svg.contains("<style"))
        #expect(svg.hasSuffix("</svg>\n"))
    }

    @Test func sameInputGivesSameBytes() throws {
        let a = try samplePlot().render(), b = try samplePlot().render()
        #expect(a == b)
        #expect(a.utf8.count > 1000)
    }

    @Test func divergedSeriesIsMarkedAtItsLastFiniteValue() throws {
        let doc = try #require(ElementCollector.parse(try samplePlot().render()))
        let crosses = doc.elements.filter { $0.name == "path" && $0.attributes["stroke-width"] == "2.5" }
        #expect(crosses.count == 1 && crosses.first?.attributes["stroke"] == orange)
        #expect(doc.text.contains("diverged"))
        // The diverged series is one unbroken run of 40 points: one M, 39 L.
        let line = try #require(doc.paths(stroke: orange).first { $0.contains("L") })
        #expect(line.filter { $0 == "M" }.count == 1 && line.filter { $0 == "L" }.count == 39)
    }

    @Test func nonFinitePointsBreakTheLine() throws {
        let s = try PlotSeries(name: "s", x: [0, 1, 2, 3, 4, 5, 6], y: [1, 2, .nan, 3, 4, .infinity, 5])
        let doc = try #require(ElementCollector.parse(SVGPlot(title: "", x: PlotAxis("x"), y: PlotAxis("y"), series: [s]).render()))
        let d = try #require(doc.paths(stroke: blue).first)
        #expect(d.filter { $0 == "M" }.count == 2 && d.filter { $0 == "L" }.count == 2)
        #expect(doc.count("circle", fill: blue) == 1)   // the isolated last point
        // The last value (5) is finite, so the series did not diverge: no ×.
        #expect(!doc.elements.contains { $0.attributes["stroke-width"] == "2.5" })
    }

    @Test func logAxesSkipNonPositiveValues() throws {
        let s = try PlotSeries(name: "s", x: [1, 2, 3, 4, 5, 6], y: [1, 0, -1, 10, 100, 1000], style: .lineAndMarkers)
        let plot = SVGPlot(title: "", x: PlotAxis("x"), y: PlotAxis("y", scale: .log10), series: [s])
        let doc = try #require(ElementCollector.parse(plot.render()))
        #expect(doc.count("circle", fill: blue) == 4 + 1)        // 4 drawable points + the legend's marker
        let d = try #require(doc.paths(stroke: blue).first)
        #expect(d.filter { $0 == "M" }.count == 1 && d.filter { $0 == "L" }.count == 2)   // 10, 100, 1000
        let labels = doc.elements.filter { $0.name == "text" }.count
        #expect(labels > 0)
        // The y axis spans whole decades 1..1000, not the non-positive values.
        #expect(doc.text.contains("1000") && !doc.text.contains("-1"))
    }

    @Test func scatterWithFittedLineAndBand() throws {
        let x: [Double] = [1e-6, 1e-5, 1e-4, 1e-3]
        let y = x.map { 3 * $0 * $0 }
        let fit = try #require(try Statistics.logLogSlope(x: x, y: y))
        let points = try PlotSeries(name: "failure probability", x: x, y: y)
        let plot = SVGPlot.scatter(title: "fails vs κ·n·u", x: PlotAxis("κ·n·u", scale: .log10),
                                   y: PlotAxis("P(fail)", scale: .log10), points: [points], fit: fit, logLogFit: true)
        let svg = plot.render()
        let doc = try #require(ElementCollector.parse(svg))
        #expect(doc.elements.contains { $0.name == "path" && $0.attributes["stroke-dasharray"] == "6 4" })
        #expect(doc.text.contains("fit: slope 2.00"))
        #expect(doc.count("circle", fill: blue) == 4 + 1)

        let band = PlotSeries.medianWithInterquartileBand(name: "median", x: [0, 1, 2], runs: [[1, 2, 3], [3, 4, .nan], [2, 6]])
        #expect(band.points.map(\.y) == [2, 4, 3])
        #expect(band.band == [BandPoint(x: 0, lower: 1.5, upper: 2.5), BandPoint(x: 1, lower: 3, upper: 5),
                              BandPoint(x: 2, lower: 3, upper: 3)])
        let bandDoc = try #require(ElementCollector.parse(SVGPlot(title: "t", x: PlotAxis("x"), y: PlotAxis("y"), series: [band]).render()))
        #expect(bandDoc.elements.filter { $0.name == "polygon" }.count == 1)
    }

    /// The fitted line covers the x range the fit used and no more: fitted over the two middle
    /// decades, it must start right of the first marker and end left of the last one.
    @Test func fittedLineStaysWithinFittedRange() throws {
        let x: [Double] = [1e-6, 1e-5, 1e-4, 1e-3]
        let y = x.map { 3 * $0 * $0 }
        let fit = try #require(try Statistics.logLogSlope(x: Array(x[1...2]), y: Array(y[1...2])))
        #expect(fit.fittedDomain == -5.0 ... -4.0)
        let points = try PlotSeries(name: "points", x: x, y: y)
        let svg = SVGPlot.scatter(title: "t", x: PlotAxis("x", scale: .log10), y: PlotAxis("y", scale: .log10),
                                  points: [points], fit: fit, logLogFit: true).render()
        let doc = try #require(ElementCollector.parse(svg))
        let line = try #require(doc.elements.first { $0.name == "path" && $0.attributes["stroke-dasharray"] == "6 4" })
        let numbers = (line.attributes["d"] ?? "").split { !"0123456789.-".contains($0) }.compactMap { Double($0) }
        let lineX = stride(from: 0, to: numbers.count, by: 2).map { numbers[$0] }
        let markerX = doc.elements.filter { $0.name == "circle" }.compactMap { $0.attributes["cx"].flatMap(Double.init) }
        let sortedMarkers = Set(markerX).sorted()
        try #require(sortedMarkers.count >= 4 && lineX.count >= 2)
        #expect(lineX.min()! > sortedMarkers[0] + 1 && lineX.max()! < sortedMarkers.last! - 1)
    }

    /// With a fixed range, points outside it are neither marked (markers are not clipped) nor
    /// allowed to move the axis.
    @Test func explicitRangeHidesOutsidePoints() throws {
        let s = try PlotSeries(name: "s", x: [0, 5, 20], y: [1, 2, 3], style: .markers)
        let plot = SVGPlot(title: "", x: PlotAxis("x", range: 0...10), y: PlotAxis("y"), series: [s])
        let doc = try #require(ElementCollector.parse(plot.render()))
        #expect(doc.count("circle", fill: blue) == 2 + 1)
        #expect(doc.text.contains("10") && !doc.text.contains("20"))
    }

    @Test func emptyPlotStillRenders() throws {
        let doc = try #require(ElementCollector.parse(SVGPlot(title: "nothing", x: PlotAxis("x"), y: PlotAxis("y", scale: .log10),
                                                             series: [try PlotSeries(name: "", x: [1], y: [.nan])]).render()))
        #expect(doc.text.contains("no finite data"))
    }
}

@Suite struct AxisTickGeneration {
    @Test func linearTicksUseOneTwoFiveSteps() {
        let t = AxisTicks.linear(0, 1)
        #expect(t.values == [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        #expect(t.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let u = AxisTicks.linear(0.1, 0.3)
        #expect(u.values == [0.1, 0.15, 0.2, 0.25, 0.3])            // exactly the doubles nearest the decimals
        let v = AxisTicks.linear(-3, 47)
        #expect(v.values == [-10, 0, 10, 20, 30, 40, 50] && v.labels.first == "-10")
        let w = AxisTicks.linear(2, 2)
        #expect(w.lower < 2 && w.upper > 2)
    }

    @Test func logTicksAreDecades() {
        let t = AxisTicks.log10(0.003, 250)
        #expect(t.labels == ["0.001", "0.01", "0.1", "1", "10", "100", "1000"])
        #expect(t.lower == 0.001 && t.upper == 1000 && t.minor.count == 6 * 8)
        let exact = AxisTicks.log10(1e-3, 1e3)
        #expect(exact.lower == 1e-3 && exact.upper == 1e3)
        let wide = AxisTicks.log10(1e-12, 1)
        #expect(wide.labels == ["1e-12", "1e-10", "1e-8", "1e-6", "1e-4", "0.01", "1"])
        #expect(wide.minor.isEmpty)
        let one = AxisTicks.log10(5, 5)
        #expect(one.lower == 1 && one.upper == 10)
    }
}

@Suite struct SVGPlotDistinguishableSeries {
    /// 32 line series (4× the palette) must give 32 different (colour, dash pattern) pairs, both on
    /// the plotted paths and on the legend's sample lines — the R2 plots drew KFAC λ = 0.1 and
    /// SINGD-diagonal λ = 0.1 in the same blue because the style index wrapped at 8.
    @Test func thirtyTwoLineSeriesDifferInColourOrPattern() throws {
        let xs = (0..<5).map(Double.init)
        let series = try (0..<32).map { k in try PlotSeries(name: "s\(k)", x: xs, y: xs.map { $0 + Double(k) }) }
        let svg = SVGPlot(title: "", x: PlotAxis("x"), y: PlotAxis("y"), series: series).render()
        let doc = try #require(ElementCollector.parse(svg))
        let lines = doc.elements.filter { $0.name == "path" && $0.attributes["fill"] == "none" }
        #expect(lines.count == 32)
        let styles = Set(lines.map { "\($0.attributes["stroke"] ?? "")|\($0.attributes["stroke-dasharray"] ?? "solid")" })
        #expect(styles.count == 32)
        let legend = doc.elements.filter { $0.name == "line" && $0.attributes["stroke-width"] == "1.75" }
        #expect(Set(legend.map { "\($0.attributes["stroke"] ?? "")|\($0.attributes["stroke-dasharray"] ?? "solid")" }) == styles)
    }

    /// Scatter series beyond 8 change marker shape: 16 series give 8 circle groups and 8 square groups.
    @Test func scatterSeriesBeyondEightChangeMarkerShape() throws {
        let series = try (0..<16).map { k in try PlotSeries(name: "p\(k)", x: [1, 2], y: [Double(k), Double(k) + 1], style: .markers) }
        let svg = SVGPlot(title: "", x: PlotAxis("x"), y: PlotAxis("y"), series: series).render()
        let doc = try #require(ElementCollector.parse(svg))
        for (k, colour) in SVGPlot.palette.enumerated() {
            #expect(doc.count("circle", fill: colour) == 3, "series \(k): two points and its legend marker as circles")
            #expect(doc.count("rect", fill: colour) == 3, "series \(k + 8): two points and its legend marker as squares")
        }
    }
}
