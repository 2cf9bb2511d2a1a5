/// Locale-free, stable number text for labels and hashes: Swift's shortest round-trip form, with
/// integral values written without a fraction (`0.01`, `1e-08`, `100`).
enum NumberText {
    static func short(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}
