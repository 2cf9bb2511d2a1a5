import Testing
import StudyKit

@Suite struct Quantiles {
    /// Expected values are numpy 2.x `np.quantile(xs, p)` (default "linear" = type 7), which by hand
    /// are x[j] + g·(x[j+1] − x[j]) with h = 7p over the sorted set 1 1 2 3 4 5 6 9.
    @Test func typeSevenMatchesNumpyBitForBit() {
        let xs: [Double] = [3, 1, 4, 1, 5, 9, 2, 6]
        #expect(Statistics.quantile(xs, 0) == 1)
        #expect(Statistics.quantile(xs, 0.1) == 1)                    // h = 0.7 between 1 and 1
        #expect(Statistics.quantile(xs, 0.25) == 1.75)                // h = 1.75
        #expect(Statistics.quantile(xs, 0.5) == 3.5)
        #expect(Statistics.quantile(xs, 0.75) == 5.25)
        #expect(Statistics.quantile(xs, 0.9) == 6.8999999999999995)   // 6 + 3·0.3 rounded as numpy does
        #expect(Statistics.quantile(xs, 1) == 9)
        #expect(Statistics.interquartileRange(xs) == 3.5)

        let ys: [Double] = [0.1, 0.7, 0.2, 1e-3, 0.35]
        #expect(Statistics.quantile(ys, 0.3) == 0.12)
        #expect(Statistics.quantile(ys, 0.66) == 0.296)               // the g ≥ 0.5 branch: b − d·(1−g)
        #expect(Statistics.quantile(ys, 0.9) == 0.56)
        #expect(Statistics.median(ys) == 0.2)
    }

    @Test func nansAreExcludedAndCounted() {
        let s = Sample([4, .nan, 1, .nan, 2, 3])
        #expect(s.nanCount == 2 && s.count == 4)
        #expect(s.sorted == [1, 2, 3, 4])
        #expect(s.median == 2.5)
        #expect(s.minimum == 1 && s.maximum == 4)
    }

    @Test func emptyAndAllNaNHaveNoQuantiles() {
        #expect(Sample([]).median == nil)
        let allNaN = Sample([.nan, .nan])
        #expect(allNaN.median == nil && allNaN.nanCount == 2 && allNaN.quartiles == nil)
        #expect(Statistics.interquartileRange([]) == nil)
        #expect(Sample([2]).quantile(0.3) == 2)
    }

    @Test func infinitiesAreOrderedValues() {
        #expect(Statistics.median([1, .infinity, 2]) == 2)
        #expect(Statistics.median([1, .infinity]) == .infinity)
        #expect(Statistics.median([-.infinity, 1]) == -.infinity)
        #expect(Statistics.median([-.infinity, .infinity])!.isNaN)
        #expect(Statistics.quantile([1, .infinity], 0) == 1)
    }
}

@Suite struct LeastSquares {
    @Test func exactLineIsRecoveredExactly() throws {
        let x: [Double] = [1, 2, 3, 4, 5, 6, 7, 8]
        let fit = try #require(try Statistics.linearFit(x: x, y: x.map { 3 * $0 - 2 }))
        #expect(fit.slope == 3 && fit.intercept == -2 && fit.rSquared == 1)
        #expect(fit.count == 8 && fit.excludedCount == 0)
        #expect(fit(10) == 28)
    }

    /// (0,1) (1,3) (2,2) (3,5): S_xx = 5, S_xy = 5.5, S_yy = 8.75, so slope = intercept = 1.1 and
    /// r² = 30.25 / 43.75.
    @Test func noisyPointsMatchTheClosedForm() throws {
        let fit = try #require(try Statistics.linearFit(x: [0, 1, 2, 3], y: [1, 3, 2, 5]))
        #expect(abs(fit.slope - 1.1) <= 2 * Double.ulpOfOne)
        #expect(abs(fit.intercept - 1.1) <= 4 * Double.ulpOfOne)
        #expect(abs(fit.rSquared - 30.25 / 43.75) <= 4 * Double.ulpOfOne)
    }

    @Test func nonFinitePairsAreExcludedAndCounted() throws {
        // Kept: (0,1) (2,5) (4,9) (6,13), on y = 2x + 1.
        let fit = try #require(try Statistics.linearFit(x: [0, 2, .nan, 4, 5, 6], y: [1, 5, 0, 9, .infinity, 13]))
        #expect(fit.count == 4 && fit.excludedCount == 2)
        #expect(fit.slope == 2 && fit.intercept == 1)
    }

    @Test func degenerateInputsHaveNoFit() throws {
        #expect(try Statistics.linearFit(x: [1], y: [2]) == nil)
        #expect(try Statistics.linearFit(x: [2, 2, 2], y: [1, 2, 3]) == nil)
        #expect(try Statistics.linearFit(x: [], y: []) == nil)
        #expect(throws: ReportError.lengthMismatch(what: "linearFit x and y", first: 2, second: 1)) {
            try Statistics.linearFit(x: [1, 2], y: [1])
        }
        // A horizontal line fits exactly.
        #expect(try Statistics.linearFit(x: [1, 2, 3], y: [4, 4, 4])?.rSquared == 1)
    }

    /// y = 5·x⁻² over four decades: slope −2, intercept log10 5; zero and negative values are left out.
    @Test func logLogSlopeOfAPowerLaw() throws {
        let x: [Double] = [1, 10, 0, 100, 1000, -5]
        let y = x.map { 5 / ($0 * $0) }
        let fit = try #require(try Statistics.logLogSlope(x: x, y: y))
        #expect(fit.count == 4 && fit.excludedCount == 2)
        #expect(abs(fit.slope + 2) < 1e-13)
        #expect(abs(fit.intercept - 0.69897000433601880479) < 1e-13)
        #expect(fit.rSquared > 1 - 1e-13)
    }
}
