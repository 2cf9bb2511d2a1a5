import Testing
import Dispatch
import Synchronization
import Scalars
import TestSupport

/// Stochastic rounding: members never move, P(away) equals the fraction within a 5σ binomial bound,
/// and results depend only on (seed, stream, index).
@Suite struct StochasticRoundingTests {
    typealias SR8 = SimulatedFloat<Rounded<BFloat16Format, Stochastic>>

    @Test func representableValuesNeverMove() throws {
        let members = FormatSpec(FP8E4M3Format.self).allFiniteMembers().map { Float($0) }
        for seed in 0..<50 as Range<UInt64> {
            let out = try RoundingKernels.roundToFormatStochastic(members, format: FP8E4M3Format.self, seed: seed, stream: 0)
            #expect(out == members)
        }
        let bf = (0...UInt16.max).map { Float(BFloat16(bitPattern: $0)) }.filter { !$0.isNaN }
        let bits = RoundingKernels.roundToBFloat16BitsStochastic(bf, seed: 5, stream: 1)
        #expect(zip(bf, bits).allSatisfy { Float(BFloat16(bitPattern: $1)) == $0 })
        StochasticRounding.withContext(seed: 8, stream: 8) {
            for x in bf.prefix(2000) { #expect(SR8(Double(x)).value == Double(x)) }
        }
    }

    /// For x between neighbours a < x < b, the count of roundings to b over n = 10^6 draws is
    /// Binomial(n, f) with f = (x − a)/(b − a) (exactly, for fractions that are multiples of 2^−16):
    /// it must lie within 5σ = 5·√(n f (1 − f)) of n·f.
    @Test(arguments: [1.0 / 65536, 0.1, 0.25, 0.5, 0.7, 0.999])
    func probabilityOfRoundingUpIsTheFraction(fraction: Double) throws {
        let n = 1_000_000
        let k = (fraction * 65536).rounded()          // fraction as a multiple of 2^-16 (bf16 at 1: ulp 2^-7)
        let f = k / 65536
        let x = Float(1.0 + f * 0x1p-7)                  // exact in binary32
        let xs = [Float](repeating: x, count: n)
        let bits = RoundingKernels.roundToBFloat16BitsStochastic(xs, seed: 42, stream: 7)
        let ups = bits.filter { $0 != BFloat16(1.0 as Float).bitPattern }.count
        let down = bits.filter { $0 == BFloat16(1.0 as Float).bitPattern }.count
        #expect(ups + down == n)
        let sigma = (Double(n) * f * (1 - f)).squareRoot()
        #expect(abs(Double(ups) - Double(n) * f) <= 5 * sigma, "ups \(ups), expected \(Double(n) * f) ± \(5 * sigma)")
        // the generic kernel and the scalar type on a negative value (away from zero = downwards)
        let neg = try RoundingKernels.roundToFormatStochastic(xs.map { -$0 }, format: FP8E5M2Format.self, seed: 43, stream: 7)
        let lo = -1.0, hi = -1.25                       // e5m2 neighbours of −(1 + f·2^−7)
        let fe5 = (Double(x) - 1) / 0.25
        let awayCount = neg.filter { Double($0) == hi }.count
        #expect(neg.allSatisfy { Double($0) == lo || Double($0) == hi })
        let sigma5 = (Double(n) * fe5 * (1 - fe5)).squareRoot()
        #expect(abs(Double(awayCount) - Double(n) * fe5) <= 5 * sigma5 + 1)
    }

    /// Scalar arithmetic: 1/3 = 1.0101010|1010…b·2^−2 lies 2/3 of an ulp above its lower neighbour
    /// 0xAA·2^−9, so it rounds up with probability 2/3 (not dyadic: the draw is 24 bits, so
    /// P = ⌈2^25/3⌉/2^24, within 2^−24 of 2/3).
    @Test func scalarQuotientRoundsUpWithProbabilityTwoThirds() {
        let n = 300_000
        var ups = 0
        StochasticRounding.withContext(seed: 11, stream: 0) {
            let one = SR8(1.0), three = SR8(3.0)
            let lower = 0xAAp-9
            for _ in 0..<n {
                let q = one / three
                if q.value > lower { ups += 1 } else { #expect(q.value == lower) }
            }
        }
        let f = 2.0 / 3.0
        let sigma = (Double(n) * f * (1 - f)).squareRoot()
        #expect(abs(Double(ups) - Double(n) * f) <= 5 * sigma)
    }

    @Test func sameSeedSameBitsAnotherSeedOtherBits() {
        @Sendable func run(seed: UInt64, stream: UInt64) -> [Double] {
            StochasticRounding.withContext(seed: seed, stream: stream) {
                var acc = SR8(0)
                var out: [Double] = []
                for i in 1...500 { acc += SR8(1.0 / Double(i)); out.append(acc.value) }
                return out
            }
        }
        let a = run(seed: 1, stream: 0)
        #expect(a == run(seed: 1, stream: 0))
        #expect(a != run(seed: 2, stream: 0))
        #expect(a != run(seed: 1, stream: 1))
        // independent of other threads doing stochastic rounding at the same time
        nonisolated(unsafe) var results = [[Double]](repeating: [], count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { k in
            results[k] = run(seed: 1, stream: 0)
        }
        #expect(results.allSatisfy { $0 == a })
    }

    @Test func contextCountsRoundings() {
        StochasticRounding.withContext(seed: 1, stream: 1, startIndex: 10) {
            let ctx = StochasticRounding.current
            #expect(ctx.nextIndex == 10)
            let x = SR8(1.0) + SR8(0.001)
            _ = x
            #expect(ctx.nextIndex == 13)        // two conversions and one sum
        }
    }

    /// The generator's words are balanced: each of the 32 bits is set about half of the time over 2^20
    /// consecutive indices (5σ), and consecutive words are not equal.
    @Test func generatorBitsAreBalanced() {
        let n = 1 << 20
        var counts = [Int](repeating: 0, count: 32)
        var previous: UInt32 = 0
        var repeats = 0
        for i in 0..<n {
            let w = StochasticRounding.bits(seed: 99, stream: 4, index: UInt64(i))
            for b in 0..<32 where (w >> UInt32(b)) & 1 == 1 { counts[b] += 1 }
            if w == previous { repeats += 1 }
            previous = w
        }
        let sigma = (Double(n) * 0.25).squareRoot()
        for c in counts { #expect(abs(Double(c) - Double(n) / 2) <= 5 * sigma) }
        #expect(repeats < 3)
    }

    /// Scalar stochastic rounding outside every context draws from the documented default context, counts
    /// each such rounding and calls the warning handler once per process (re-armed here); inside a context
    /// nothing is counted against the default.
    @Test func roundingOutsideAContextIsCountedAndWarnsOnce() {
        let captured = Mutex<[String]>([])
        let previous = StochasticRounding.defaultContextWarningHandler
        StochasticRounding.defaultContextWarningHandler = { text in captured.withLock { $0.append(text) } }
        defer { StochasticRounding.defaultContextWarningHandler = previous }
        StochasticRounding._rearmDefaultContextWarning()
        let before = StochasticRounding.defaultContextUseCount
        #expect(StochasticRounding.current.isProcessDefault)
        let third = SR8(1.0) / SR8(3.0)             // three roundings: two conversions and the quotient
        _ = third + SR8(0.5)                        // two more
        #expect(StochasticRounding.defaultContextUseCount - before >= 5)
        // (another test may have drawn from the default between installing the handler and re-arming, so
        // the handler may have run once more; after the re-armed warning fired, nothing else can)
        let messages = captured.withLock { $0 }
        #expect(messages.count >= 1 && messages.count <= 2)
        #expect(messages.allSatisfy { $0 == StochasticRounding.defaultContextWarning })
        #expect(StochasticRounding.defaultContextWarning.contains("withContext"))
        _ = SR8(1.0) / SR8(7.0)                     // once per process: no further warning
        #expect(captured.withLock { $0.count } == messages.count)
        StochasticRounding.withContext(seed: 1, stream: 2) {
            #expect(!StochasticRounding.current.isProcessDefault)
            #expect(StochasticRounding.current.key == StochasticRounding.key(seed: 1, stream: 2))
        }
        // deterministic formats never draw bits
        let count = StochasticRounding.defaultContextUseCount
        _ = FP8E4M3(1.0) / FP8E4M3(3.0)
        #expect(StochasticRounding.defaultContextUseCount >= count)
    }
}
