/// Locale-free number formatting for every file a report writes (CSV, JSON, Markdown, SVG).
///
/// A report's bytes are hashed into its manifest, so the same number must be written the same
/// way on every machine. Nothing here calls `String(format:)`, `printf` or a `NumberFormatter`:
/// those read the C or Foundation locale (a German locale writes `0,5`). Everything is built
/// from Swift's `Double.description`, which is implemented in the standard library (SwiftDtoa),
/// is locale-free and prints the *shortest* decimal that parses back to the same `Double`.
///
/// ## Edge cases (one spelling for each, everywhere)
/// | value | text |
/// |---|---|
/// | any NaN (quiet, signalling, either sign) | `nan` |
/// | +∞ / −∞ | `inf` / `-inf` |
/// | −0.0 | `-0.0` in ``roundTrip(_:)``, `-0` in ``significant(_:digits:)`` (the sign of zero is data in precision work) |
///
/// JSON has no spelling for NaN or ∞; ``CanonicalJSON`` writes them as the *strings* above (not
/// `null`), so a reader can tell a diverged value from a missing one.
public enum NumberFormat {
    /// Shortest round-trip decimal (`Double(roundTrip(x)) == x` for every non-NaN `x`).
    ///
    /// Examples: `1.0`, `0.1`, `1e-05`, `1e+16`, `-0.0`, `nan`, `inf`, `-inf`. The exponent form
    /// is what Swift chooses (below 1e-4 or from 2^53 up); Python, R, numpy and JSON all read it.
    public static func roundTrip(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        return x.description
    }

    /// `x` rounded to `digits` significant digits, for tables a person reads.
    ///
    /// Fixed notation when `1e-3 ≤ |x| < 1e5` after rounding (`0.00123`, `12.3`, `12300`), otherwise
    /// scientific with a plain exponent (`1.23e-4`, `1.00e5`). Trailing zeros are kept: they say
    /// how many digits are significant.
    ///
    /// *Rounding:* the shortest round-trip decimal of `x` is rounded to `digits` digits, ties to
    /// even. That equals correctly rounding the exact binary value except when the shortest decimal
    /// ends in a decimal tie (`…5`) that the stored binary value is not exactly; then the tie is
    /// broken to even instead of by the binary value's direction. The choice is deterministic,
    /// which is what a hashed report needs.
    public static func significant(_ x: Double, digits: Int = 3) -> String {
        precondition(digits >= 1 && digits <= 17, "significant digits must be in 1...17")
        if x.isNaN || x.isInfinite { return roundTrip(x) }
        if x == 0 { return x.sign == .minus ? "-0" : "0" }
        var d = Decimal10(x)
        d.round(toDigits: digits)
        let sign = x < 0 ? "-" : ""
        // Decide fixed or scientific on the rounded value: 99999.7 -> 1.00e5.
        if d.exponent >= -3 && d.exponent < 5 {
            return sign + d.fixedText()
        }
        return sign + d.scientificText()
    }

    /// `x` with exactly `decimals` digits after the point (`fixed(2.5, decimals: 2) == "2.50"`),
    /// or with trailing zeros (and a bare point) removed when `trimmingZeros` is set (`"2.5"`).
    ///
    /// Rounds `x·10^decimals` (itself one correctly rounded product) to the nearest integer, ties
    /// to even; a result that rounds to zero is written without a sign (`fixed(-0.001, decimals: 2)
    /// == "0.00"`), so SVG coordinates never read `-0`. Meant for coordinates and axis labels of moderate size; when `|x·10^decimals| ≥ 2^53`
    /// there are no fractional digits left to show and the result is ``roundTrip(_:)``.
    public static func fixed(_ x: Double, decimals: Int, trimmingZeros: Bool = false) -> String {
        precondition(decimals >= 0 && decimals <= 15, "decimals must be in 0...15")
        if x.isNaN || x.isInfinite { return roundTrip(x) }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }   // exact: 10^15 < 2^53
        let scaled = (x * scale).rounded(.toNearestOrEven)
        guard abs(scaled) < 9_007_199_254_740_992 else { return roundTrip(x) }
        let magnitude = UInt64(abs(scaled))
        var digits = String(magnitude)
        if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
        var integerPart = String(digits.dropLast(decimals))
        var fraction = String(digits.suffix(decimals))
        if trimmingZeros { while fraction.last == "0" { fraction.removeLast() } }
        if integerPart.isEmpty { integerPart = "0" }
        let negative = scaled < 0   // a value that rounds to zero is written unsigned
        let body = fraction.isEmpty ? integerPart : integerPart + "." + fraction
        return (negative ? "-" : "") + body
    }

    /// An integer in plain decimal (`String(_:)` is locale-free; named here so callers have one place).
    public static func integer(_ n: Int) -> String { String(n) }
}

/// A positive finite decimal `0.d₁d₂… × 10^(exponent+1)`, i.e. `d₁.d₂… × 10^exponent`, read from
/// the shortest round-trip text of a `Double`.
struct Decimal10 {
    /// Significant digits, most significant first, no leading zeros, each 0...9.
    var digits: [UInt8]
    /// Decimal exponent of the first digit.
    var exponent: Int

    init(_ x: Double) {
        let text = abs(x).description   // e.g. "123.45", "1e-05", "1.2345e+16"
        var mantissa = Substring(text)
        var exponentPart = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponentPart = Int(text[text.index(after: e)...])!
        }
        var all: [UInt8] = []
        var pointPosition: Int? = nil
        for ch in mantissa {
            if ch == "." { pointPosition = all.count } else { all.append(UInt8(ch.asciiValue! - 48)) }
        }
        let integerDigits = pointPosition ?? all.count
        let leadingZeros = all.firstIndex(where: { $0 != 0 }) ?? all.count
        var significant = Array(all[leadingZeros...])
        while significant.count > 1 && significant.last == 0 { significant.removeLast() }
        digits = significant.isEmpty ? [0] : significant
        exponent = integerDigits - leadingZeros - 1 + exponentPart
    }

    /// Round to `n` significant digits, ties to even, padding with zeros to exactly `n`.
    mutating func round(toDigits n: Int) {
        if digits.count > n {
            let first = digits[n]
            let restNonZero = digits[(n + 1)...].contains { $0 != 0 }
            var up = first > 5 || (first == 5 && (restNonZero || digits[n - 1] % 2 == 1))
            digits.removeLast(digits.count - n)
            var i = n - 1
            while up {
                if digits[i] == 9 {
                    digits[i] = 0
                    if i == 0 { digits.insert(1, at: 0); digits.removeLast(); exponent += 1; up = false }
                    else { i -= 1 }
                } else { digits[i] += 1; up = false }
            }
        }
        while digits.count < n { digits.append(0) }
    }

    private static func text(_ ds: ArraySlice<UInt8>) -> String {
        String(decoding: ds.map { $0 + 48 }, as: UTF8.self)
    }

    func fixedText() -> String {
        if exponent < 0 {
            return "0." + String(repeating: "0", count: -exponent - 1) + Self.text(digits[...])
        }
        if exponent + 1 >= digits.count {
            return Self.text(digits[...]) + String(repeating: "0", count: exponent + 1 - digits.count)
        }
        return Self.text(digits[..<(exponent + 1)]) + "." + Self.text(digits[(exponent + 1)...])
    }

    func scientificText() -> String {
        let head = Self.text(digits[..<1])
        let tail = digits.count > 1 ? "." + Self.text(digits[1...]) : ""
        return head + tail + "e" + String(exponent)
    }
}
