#if canImport(Glibc)
import Glibc
#endif

// MARK: - Clock and sink

/// Monotonic time in nanoseconds (`clock_gettime(CLOCK_MONOTONIC)`).
@inline(__always)
func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// A checksum the optimiser must compute: every benchmark feeds its results in, and the total is
/// printed at the end, so no measured work can be removed as dead code.
nonisolated(unsafe) var checksumSink: UInt64 = 0

@inline(never)
func blackHole(_ x: UInt64) { checksumSink = checksumSink &* 31 &+ x }
@inline(never)
func blackHole(_ x: Float) { blackHole(UInt64(x.bitPattern)) }
@inline(never)
func blackHole(_ x: Double) { blackHole(x.bitPattern) }
@inline(never)
func blackHole(_ x: UInt16) { blackHole(UInt64(x)) }

// MARK: - Measurement

/// Per-call times of one measured body, in seconds.
struct Sample {
    var times: [Double]
    var best: Double { times.min() ?? .nan }
    var median: Double {
        let s = times.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

struct Settings {
    var quick = false
    var filter: String? = nil
    var markdownPath: String? = nil
    /// Samples per measured body (each sample ≥ `minSampleSeconds`).
    var samples: Int { quick ? 3 : 7 }
    var minSampleSeconds: Double { quick ? 0.01 : 0.05 }
}

/// Times `bodies` side by side: one warm-up call each, then an inner repetition count per body chosen
/// so one sample lasts at least `minSampleSeconds`, then `samples` rounds in which every body runs
/// one sample in turn (ABAB…), so that load from other processes hits all of them alike.
/// Returns the per-call times of each body.
///
/// `budgetSeconds` bounds the time spent on the samples of the slowest body: when `samples` samples of
/// it would take longer, fewer rounds are run (never fewer than 3).
func measure(_ settings: Settings, _ bodies: [() -> Void], budgetSeconds: Double = .infinity) -> [Sample] {
    var reps = [Int]()
    var slowest = 0.0
    for body in bodies {
        let t0 = nowNanoseconds()
        body()                                       // warm-up (caches, page faults, lazy init)
        let once = max(1e-9, Double(nowNanoseconds() - t0) * 1e-9)
        let r = max(1, Int((settings.minSampleSeconds / once).rounded(.up)))
        reps.append(r)
        slowest = max(slowest, once * Double(r))
    }
    let affordable = budgetSeconds / slowest
    let rounds = affordable >= Double(settings.samples) ? settings.samples : max(min(3, settings.samples), Int(affordable))
    var samples = [Sample](repeating: Sample(times: []), count: bodies.count)
    for _ in 0..<rounds {
        for (k, body) in bodies.enumerated() {
            let t0 = nowNanoseconds()
            for _ in 0..<reps[k] { body() }
            let dt = Double(nowNanoseconds() - t0) * 1e-9
            samples[k].times.append(dt / Double(reps[k]))
        }
    }
    return samples
}

// MARK: - Report rows

enum Verdict: String { case pass = "PASS", miss = "MISS", info = "info" }

struct Row {
    var issue: String
    var name: String
    /// The measured quantity, formatted.
    var measured: String
    /// The baseline measured side by side, formatted (or "—").
    var baseline: String
    var ratio: String
    var target: String
    var verdict: Verdict
}

func fmt(_ x: Double, _ digits: Int = 3) -> String {
    guard x.isFinite else { return "\(x)" }
    // significant digits, no exponent for the ranges we print
    let mag = x == 0 ? 0 : Int(log10(abs(x)).rounded(.down))
    let decimals = max(0, digits - 1 - mag)
    let p = pow(10.0, Double(decimals))
    let r = (x * p).rounded() / p
    var s = decimals == 0 ? String(Int(r)) : String(r)
    if decimals > 0, let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < decimals { s += String(repeating: "0", count: decimals - have) }
    }
    return s
}

func fmtTime(_ seconds: Double) -> String {
    if seconds < 1e-6 { return fmt(seconds * 1e9) + " ns" }
    if seconds < 1e-3 { return fmt(seconds * 1e6) + " µs" }
    if seconds < 1 { return fmt(seconds * 1e3) + " ms" }
    return fmt(seconds) + " s"
}

func fmtRate(_ perSecond: Double, _ unit: String) -> String {
    if perSecond >= 1e9 { return fmt(perSecond / 1e9) + "e9 \(unit)" }
    if perSecond >= 1e6 { return fmt(perSecond / 1e6) + "e6 \(unit)" }
    return fmt(perSecond) + " \(unit)"
}

/// Least-squares slope of log(y) against log(x).
func logLogSlope(_ x: [Double], _ y: [Double]) -> Double {
    let lx = x.map { log($0) }, ly = y.map { log($0) }
    let mx = lx.reduce(0, +) / Double(lx.count), my = ly.reduce(0, +) / Double(ly.count)
    var sxy = 0.0, sxx = 0.0
    for i in lx.indices { sxy += (lx[i] - mx) * (ly[i] - my); sxx += (lx[i] - mx) * (lx[i] - mx) }
    return sxy / sxx
}

/// Deterministic test data (SplitMix64, fixed seeds recorded in the report).
struct DataGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [−1, 1).
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-52 - 1 }
    /// Floats spread over many binades: a uniform significand in [−1, 1) times 2^k, k ∈ [−12, 4].
    mutating func spreadFloat() -> Float {
        let u = Float(uniform())
        let k = Int(next() % 17) - 12
        return u * Float(sign: .plus, exponent: k, significand: 1)
    }
}

/// The benchmark registry entry: a group of measurements producing report rows.
struct BenchmarkGroup {
    var name: String
    var run: (Settings) -> [Row]
}
