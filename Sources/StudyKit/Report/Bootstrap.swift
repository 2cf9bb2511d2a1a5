import LinearAlgebra   // SplitMix64

/// A point estimate with a confidence interval.
public struct ConfidenceInterval: Sendable, Equatable {
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    /// The nominal coverage, e.g. 0.95.
    public var level: Double

    public init(estimate: Double, lower: Double, upper: Double, level: Double) {
        self.estimate = estimate; self.lower = lower; self.upper = upper; self.level = level
    }

    public func contains(_ v: Double) -> Bool { lower <= v && v <= upper }
}

/// What an interval for a difference `b − a` says about the sign of the difference.
public enum Comparison: String, Sendable, Equatable {
    /// The whole interval lies above zero: `b` is larger.
    case higher
    /// The whole interval lies below zero: `b` is smaller.
    case lower
    /// Zero lies inside the interval: the data do not decide (report the effect size, not "no effect").
    case undecided

    public init(_ difference: ConfidenceInterval) {
        self = difference.lower > 0 ? .higher : (difference.upper < 0 ? .lower : .undecided)
    }
}

/// Percentile-bootstrap confidence intervals (Efron & Tibshirani, *An Introduction to the Bootstrap*,
/// §13.3): resample with replacement `resamples` times, take the statistic of each resample, and read
/// the interval off the (1−level)/2 and (1+level)/2 quantiles of those statistics.
///
/// *Why the bootstrap:* a study has 5–10 seeds and no distributional model for a final loss or a
/// drift, so a t-interval would assume what we do not know. With n = 5 the median of a resample can
/// only take data values, so the interval is coarse (about x₍₁₎…x₍₅₎ at 95%), and honestly so: it
/// says "undecided" rather than inventing resolution.
///
/// *Determinism:* the resampling indices come from `SplitMix64(seed)`, drawn as ⌊u·n⌋ with u the top
/// 53 bits of each draw (bias below 2⁻⁴⁷ for n < 64, irrelevant here), so the same sample gives the same
/// interval on every machine. NaNs are excluded first, as in ``Sample``; infinities are ordinary values.
public enum Bootstrap {
    public static let defaultResamples = 2000
    public static let defaultSeed: UInt64 = 0x6d61_6e74_6973_7361   // "mantissa"

    /// The median of `values` with its percentile-bootstrap interval; `nil` when no non-NaN value is left.
    public static func median(_ values: [Double], level: Double = 0.95, resamples: Int = defaultResamples,
                              seed: UInt64 = defaultSeed) -> ConfidenceInterval? {
        guard let estimate = Sample(values).median else { return nil }
        return interval(estimate: estimate, medianReplicates(values, resamples: resamples, seed: seed), level: level)
    }

    /// The bootstrap replicates of the median: the medians of `resamples` resamples (with replacement)
    /// of the non-NaN values, in draw order. Public so that tests can compare their distribution with
    /// the exact one (for distinct values and odd n, P(replicate ≤ x₍ₖ₎) = P(Binomial(n, k/n) ≥ (n+1)/2)).
    public static func medianReplicates(_ values: [Double], resamples: Int = defaultResamples, seed: UInt64 = defaultSeed) -> [Double] {
        let x = Sample(values).sorted
        guard !x.isEmpty else { return [] }
        var rng = SplitMix64(seed: seed)
        return (0..<resamples).map { _ in resampledMedian(x, &rng) }
    }

    /// The difference of medians `median(b) − median(a)` of two independent samples, with its
    /// percentile-bootstrap interval (each resample draws from `a` and from `b` separately).
    /// `nil` when either sample has no non-NaN value.
    public static func medianDifference(_ a: [Double], _ b: [Double], level: Double = 0.95,
                                        resamples: Int = defaultResamples, seed: UInt64 = defaultSeed) -> ConfidenceInterval? {
        let xa = Sample(a).sorted, xb = Sample(b).sorted
        guard let ma = Sample(xa).median, let mb = Sample(xb).median else { return nil }
        var rng = SplitMix64(seed: seed)
        var statistics = [Double]()
        statistics.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let da = resampledMedian(xa, &rng), db = resampledMedian(xb, &rng)
            statistics.append(db - da)
        }
        return interval(estimate: mb - ma, statistics, level: level)
    }

    static func resampledMedian(_ x: [Double], _ rng: inout SplitMix64) -> Double {
        let n = x.count
        var r = [Double](repeating: 0, count: n)
        for i in 0..<n { r[i] = x[Int(Double(rng.next() >> 11) * 0x1p-53 * Double(n))] }
        return Sample(r).median!
    }

    static func interval(estimate: Double, _ statistics: [Double], level: Double) -> ConfidenceInterval {
        precondition(level > 0 && level < 1, "confidence level must be in (0, 1)")
        let s = Sample(statistics)   // ∞ − ∞ = NaN is left out here and counted nowhere else: only with ±∞ data
        let lo = s.quantile((1 - level) / 2) ?? .nan, hi = s.quantile((1 + level) / 2) ?? .nan
        return ConfidenceInterval(estimate: estimate, lower: lo, upper: hi, level: level)
    }
}
