import Foundation
import Testing
import StudyKit

/// The index keeps one measured wall time per tier, and a run served from the cache never replaces one.
@Suite struct ReportIndexWallTimes {
    func time(_ seconds: Double, cells: Int) -> ReportIndex.WallTime {
        ReportIndex.WallTime(seconds: seconds, jobs: 2, cores: 2, cpu: "test cpu", cells: cells)
    }

    @Test func eachTierKeepsItsLastFullyComputedTime() throws {
        let root = temporaryDirectory("index")
        try ReportIndex.write([], tier: "quick", wallTime: time(9.6, cells: 40), cachedCells: 0, to: root)
        try ReportIndex.write([], tier: "full", wallTime: time(468.2, cells: 970), cachedCells: 0, to: root)
        // A rerun of the full tier from the cache takes seconds; it must not pass for the catalogue's cost.
        try ReportIndex.write([], tier: "full", wallTime: time(3.0, cells: 970), cachedCells: 970, to: root)
        let md = try String(contentsOfFile: "\(root)/README.md", encoding: .utf8)
        #expect(md.contains("| full  | 468 s "), "\(md)")
        #expect(md.contains("| quick | 10 s "), "\(md)")
        #expect(!md.contains("| 3 s "))
        #expect(md.contains("970 cells came from the cache"))
    }

    /// The quick tier writes to its own folder; the full index takes its latest measurement from there.
    @Test func theOtherTiersFolderGivesItsLatestTime() throws {
        let full = temporaryDirectory("index-full"), quick = temporaryDirectory("index-quick")
        defer { try? FileManager.default.removeItem(atPath: full); try? FileManager.default.removeItem(atPath: quick) }
        try ReportIndex.write([], tier: "quick", wallTime: time(30.2, cells: 40), cachedCells: 0, to: full)   // an old record
        try ReportIndex.write([], tier: "quick", wallTime: time(25.4, cells: 41), cachedCells: 0, to: quick, otherTierRoot: full)
        try ReportIndex.write([], tier: "full", wallTime: time(880, cells: 900), cachedCells: 0, to: full, otherTierRoot: quick)
        let md = try String(contentsOfFile: "\(full)/README.md", encoding: .utf8)
        #expect(md.contains("| quick | 25 s "), "\(md)")
        #expect(md.contains("| full  | 880 s "), "\(md)")
        #expect(!md.contains("| 30 s "))
    }
}
