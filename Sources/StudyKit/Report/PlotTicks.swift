import Glibc   // log10, pow

/// How an axis maps data to the page.
public enum AxisScale: Sendable, Equatable {
    case linear
    /// Base-10 logarithmic; only positive finite values can be shown.
    case log10
}

/// An axis's shown range and its labelled tick positions.
public struct AxisTicks: Sendable, Equatable {
    /// The axis runs from `lower` to `upper` (data units, both positive on a log axis).
    public let lower: Double
    public let upper: Double
    /// Labelled tick positions, ascending, inside `[lower, upper]`.
    public let values: [Double]
    /// One label per value, locale-free.
    public let labels: [String]
    /// Unlabelled minor ticks (2·10^k … 9·10^k on log axes spanning few decades; none on linear axes).
    public let minor: [Double]

    /// "Nice" linear ticks: a step of 1, 2 or 5 times a power of ten giving about `target` intervals,
    /// with the range widened outwards to whole steps so the data never touches an unlabelled end.
    ///
    /// Tick values are computed as `k·m·10^e` with integer `k·m` and one multiplication or division by
    /// an exact power of ten, so they are the doubles nearest to the decimal ticks (0.3, not
    /// 0.30000000000000004) and their labels are short. A degenerate range (`lo == hi`) is widened
    /// by one unit of its magnitude.
    public static func linear(_ lo: Double, _ hi: Double, target: Int = 5) -> AxisTicks {
        precondition(lo.isFinite && hi.isFinite && lo <= hi && target >= 1)
        var (lo, hi) = (lo, hi)
        if lo == hi {
            let pad = lo == 0 ? 1 : Self.powerOfTen(Int((Glibc.log10(abs(lo))).rounded(.down)))
            lo -= pad; hi += pad
        }
        let raw = (hi - lo) / Double(target)
        // Extreme ranges (overflowing spread, or too many steps for an Int): label just the ends.
        guard raw.isFinite, raw > 0, abs(lo / raw) < 1e15, abs(hi / raw) < 1e15 else {
            return AxisTicks(lower: lo, upper: hi, values: [lo, hi],
                             labels: [NumberFormat.significant(lo), NumberFormat.significant(hi)], minor: [])
        }
        var exponent = Int(Glibc.log10(raw).rounded(.down))
        let normalized = raw / powerOfTen(exponent)
        let multiplier: Int
        switch normalized {
        case ..<1.5: multiplier = 1
        case ..<3.5: multiplier = 2
        case ..<7.5: multiplier = 5
        default: multiplier = 1; exponent += 1
        }
        let step = Double(multiplier) * powerOfTen(exponent)
        let first = Int((lo / step).rounded(.down)), last = Int((hi / step).rounded(.up))
        let values = (first...last).map { k in scaled(k * multiplier, exponent) }
        let decimals = max(0, -exponent)
        let labels = values.map { v -> String in
            let a = abs(v)
            if v == 0 || (a >= 1e-4 && a < 1e6) { return NumberFormat.fixed(v, decimals: decimals) }
            return NumberFormat.significant(v, digits: 3)
        }
        return AxisTicks(lower: values.first!, upper: values.last!, values: values, labels: labels, minor: [])
    }

    /// Decade ticks for a log axis covering `[lo, hi]` (both positive): the range is widened to whole
    /// decades; every decade is labelled when there are at most 8, otherwise every 2nd, 3rd, … so
    /// that at most 8 labels remain. Labels are `0.001`…`1000` written out, `1e-4`, `1e5` beyond.
    public static func log10(_ lo: Double, _ hi: Double) -> AxisTicks {
        precondition(lo > 0 && hi >= lo && hi.isFinite)
        var first = Int(Glibc.log10(lo).rounded(.down))
        var last = Int(Glibc.log10(hi).rounded(.up))
        // log10 of an exact power of ten may come out a hair off; trust the comparison, not the log.
        if powerOfTen(first + 1) <= lo { first += 1 }
        if last > first, powerOfTen(last - 1) >= hi { last -= 1 }
        if first == last { last += 1 }
        let decades = last - first
        let stride = (decades + 7) / 8
        var exponents: [Int] = []
        var e = first
        while e <= last { exponents.append(e); e += stride }
        if exponents.last! < last { exponents.append(last) }   // the top of the axis stays labelled
        let values = exponents.map(powerOfTen)
        let labels = exponents.map { e in e >= -3 && e <= 3 ? NumberFormat.fixed(powerOfTen(e), decimals: max(0, -e)) : "1e" + String(e) }
        var minor: [Double] = []
        if decades <= 6 {
            for e in first..<last { for m in 2...9 { minor.append(scaled(m, e)) } }
        }
        return AxisTicks(lower: powerOfTen(first), upper: powerOfTen(last), values: values, labels: labels, minor: minor)
    }

    /// `10^e` as the double nearest to it (exact for 0 ≤ e ≤ 22).
    static func powerOfTen(_ e: Int) -> Double { scaled(1, e) }

    /// The double nearest to `m·10^e`: one exact product or one correctly rounded quotient when
    /// `|e| ≤ 22` (10^22 is the largest exact power of ten in a double).
    static func scaled(_ m: Int, _ e: Int) -> Double {
        var p = 1.0
        for _ in 0..<min(abs(e), 22) { p *= 10 }
        let rest = abs(e) > 22 ? Glibc.pow(10, Double(abs(e) - 22)) : 1
        return e >= 0 ? Double(m) * p * rest : Double(m) / p / rest
    }
}
