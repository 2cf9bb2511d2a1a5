import Testing
import Foundation
import StudyKit

@Suite struct BootstrapIntervals {
    /// The exact bootstrap distribution of the median is a binomial tail (Efron 1982, §10.2): for n
    /// distinct values (n odd), a resample's median is ≤ x₍ₖ₎ iff at least (n+1)/2 of its n draws are
    /// among the k smallest, each with probability k/n. The empirical CDF of B replicates must match it
    /// within Monte Carlo error: its standard deviation is √(F(1−F)/B) ≤ 1/(2√B) = 0.0112 at B = 2000,
    /// and we allow 4 of them (a false alarm has probability < 1e-4 per order statistic).
    @Test func replicatesFollowTheExactBinomialDistribution() {
        let values: [Double] = [0.31, -1.2, 4.5, 0.02, 2.2, -0.7, 1.1]
        let n = values.count, b = 2000
        let replicates = Bootstrap.medianReplicates(values, resamples: b, seed: 42)
        #expect(replicates.count == b)
        let sorted = values.sorted()
        func binomialTail(_ n: Int, _ p: Double, atLeast m: Int) -> Double {
            var total = 0.0
            for j in m...n {
                var choose = 1.0
                for i in 0..<j { choose = choose * Double(n - i) / Double(i + 1) }
                total += choose * pow(p, Double(j)) * pow(1 - p, Double(n - j))
            }
            return total
        }
        let tolerance = 4 * 0.5 / Double(b).squareRoot()
        for k in 1...n {
            let exact = binomialTail(n, Double(k) / Double(n), atLeast: (n + 1) / 2)
            let empirical = Double(replicates.filter { $0 <= sorted[k - 1] }.count) / Double(b)
            #expect(abs(empirical - exact) <= tolerance, "k = \(k): empirical \(empirical), exact \(exact)")
        }
        // Every replicate is a data value (odd n: the median of a resample is one of its draws).
        #expect(replicates.allSatisfy { sorted.contains($0) })
    }

    @Test func intervalIsTheReplicatesPercentilesAroundTheSampleMedian() throws {
        let values: [Double] = [5, 1, 4, 2, 3, .nan]
        let ci = try #require(Bootstrap.median(values, level: 0.9, resamples: 500, seed: 7))
        let replicates = Bootstrap.medianReplicates(values, resamples: 500, seed: 7)
        #expect(ci.estimate == 3)
        #expect(ci.lower == Statistics.quantile(replicates, 0.05))
        #expect(ci.upper == Statistics.quantile(replicates, 0.95))
        #expect(ci.lower <= 3 && 3 <= ci.upper && ci.lower >= 1 && ci.upper <= 5)
        // Deterministic: the same call gives the same bits.
        #expect(Bootstrap.median(values, level: 0.9, resamples: 500, seed: 7) == ci)
        // A constant sample has a degenerate interval; an all-NaN sample has none.
        #expect(Bootstrap.median([2, 2, 2, 2, 2]) == ConfidenceInterval(estimate: 2, lower: 2, upper: 2, level: 0.95))
        #expect(Bootstrap.median([.nan, .nan]) == nil)
    }

    /// Clearly separated samples give a decided comparison with the right sign; overlapping ones
    /// give "undecided" with the effect size still reported.
    @Test func differenceOfMediansDecidesOnlyOutsideTheInterval() throws {
        let a: [Double] = [1.0, 1.1, 0.9, 1.05, 0.95]
        let far = a.map { $0 + 10 }
        let up = try #require(Bootstrap.medianDifference(a, far))
        #expect(up.estimate == 10 && Comparison(up) == .higher)
        let down = try #require(Bootstrap.medianDifference(far, a))
        #expect(down.estimate == -10 && Comparison(down) == .lower)
        let overlapping: [Double] = [1.02, 0.97, 1.08, 0.92, 1.0]
        let tie = try #require(Bootstrap.medianDifference(a, overlapping))
        #expect(Comparison(tie) == .undecided && tie.estimate == 0)
    }
}
