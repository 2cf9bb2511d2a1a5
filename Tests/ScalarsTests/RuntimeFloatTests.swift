import Testing
import Dispatch
import Synchronization
import Scalars
import TestSupport

/// `RuntimeFloat` against the compile-time `SimulatedFloat` of the same format and mode: every 16-bit
/// input pattern (all bfloat16 and all binary16 values) converted into every catalogue format in every
/// rounding mode, and millions of random operand pairs through `+ − × ÷ fma √`, compared bit for bit.
/// Stochastic rounding runs both sides in the same `StochasticRounding` context, so equal bits also
/// prove that the run-time format draws the same random numbers in the same order.
@Suite struct RuntimeFloatTests {
    typealias R = RuntimeFloat<RuntimeSlot0>

    /// The catalogue's formats and two declared ones (no subnormals with saturation; odd parameters).
    static let formats: [any FloatFormat.Type] = [
        BFloat16Format.self, Float16Format.self, TF32Format.self,
        FP8E4M3Format.self, FP8E4M3SaturatingFormat.self, FP8E5M2Format.self, FP8E5M2SaturatingFormat.self,
        CustomP6Format.self, CustomNoSubnormalsFormat.self,
    ]

    /// Every bfloat16 and every binary16 bit pattern, as the binary64 values they encode.
    static let sixteenBitInputs: [Double] = (0...UInt16.max).flatMap {
        [Double(BFloat16(bitPattern: $0)), Double(Float16(bitPattern: $0))]
    }

    /// Calls `body` with `F` in each of the six rounding modes.
    static func forEveryMode<F: FloatFormat>(_: F.Type, _ body: (any FloatFormat.Type) throws -> Void) rethrows {
        try body(Rounded<F, NearestEven>.self); try body(Rounded<F, TowardZero>.self)
        try body(Rounded<F, Upward>.self); try body(Rounded<F, Downward>.self)
        try body(Rounded<F, ToOdd>.self); try body(Rounded<F, Stochastic>.self)
    }

    /// Indices where two result lists differ in any bit (NaN payload and sign included).
    static func mismatches(_ a: [Double], _ b: [Double]) -> [Int] {
        #expect(a.count == b.count)
        return a.indices.filter { a[$0].bitPattern != b[$0].bitPattern }
    }

    static func conversions<F: FloatFormat>(_: F.Type) throws -> [Double] {
        StochasticRounding.withContext(seed: 11, stream: 3) { sixteenBitInputs.map { SimulatedFloat<F>($0).value } }
    }

    static func runtimeConversions(_ format: RuntimeFormat) throws -> [Double] {
        try RuntimeFormats.withFormats([format]) {
            StochasticRounding.withContext(seed: 11, stream: 3) { sixteenBitInputs.map { R($0).value } }
        }
    }

    @Test(arguments: formats)
    func everySixteenBitInputConvertsIdentically(_ format: any FloatFormat.Type) throws {
        func check<F: FloatFormat>(_ f: F.Type) throws {
            try Self.forEveryMode(f) { g in
                func one<G: FloatFormat>(_ g: G.Type) throws {
                    let bad = Self.mismatches(try Self.conversions(g), try Self.runtimeConversions(RuntimeFormat(g)))
                    #expect(bad.isEmpty, "\(G.name): \(bad.count) mismatches, first at \(bad.first.map { Self.sixteenBitInputs[$0] } ?? 0)")
                }
                try one(g)
            }
        }
        try check(format)
    }

    /// Members of `F` spread over its whole exponent range, both signs, with zeros and the extremes.
    static func operands<F: FloatFormat>(_: F.Type, count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        let lo = F.minimumNormalExponent - F.precision, hi = F.maximumExponent
        var out = [0, -0.0, F.greatestFiniteMagnitude, F.leastNonzeroMagnitude, 1]
        while out.count < count {
            let x = Double.random(in: 1..<2, using: &rng) * _pow2(Int.random(in: lo...hi, using: &rng))
            out.append(F.round(Bool.random(using: &rng) ? x : -x, mode: .nearestEven))
        }
        return out
    }

    /// `+ − × ÷ fma √` over `pairs` operand pairs (and a third operand for fma), in a fixed order.
    static func operations<T: Scalar>(_: T.Type, _ a: [Double], _ b: [Double], _ c: [Double]) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(a.count * 6)
        for i in a.indices {
            let x = T(a[i]), y = T(b[i]), z = T(c[i])
            out.append((x + y).doubleValue); out.append((x - y).doubleValue)
            out.append((x * y).doubleValue); out.append((x / y).doubleValue)
            out.append(T.fusedMultiplyAdd(x, y, z).doubleValue); out.append(x.magnitude.squareRoot().doubleValue)
        }
        return out
    }

    @Test(arguments: formats)
    func randomOperandsGiveIdenticalResults(_ format: any FloatFormat.Type) throws {
        func check<F: FloatFormat>(_ f: F.Type) throws {
            let n = 40_000        // × 6 modes × 9 formats: 2.16 million pairs, 13 million operations
            let a = Self.operands(f, count: n, seed: 1), b = Self.operands(f, count: n, seed: 2), c = Self.operands(f, count: n, seed: 3)
            try Self.forEveryMode(f) { g in
                func one<G: FloatFormat>(_ g: G.Type) throws {
                    let compiled = StochasticRounding.withContext(seed: 5, stream: 9) { Self.operations(SimulatedFloat<G>.self, a, b, c) }
                    let runtime = try RuntimeFormats.withFormats([RuntimeFormat(g)]) {
                        StochasticRounding.withContext(seed: 5, stream: 9) { Self.operations(R.self, a, b, c) }
                    }
                    let bad = Self.mismatches(compiled, runtime)
                    #expect(bad.isEmpty, "\(G.name): \(bad.count) of \(compiled.count) results differ")
                }
                try one(g)
            }
        }
        try check(format)
    }

    /// The type-level constants come from the slot's format.
    @Test func constantsFollowTheSlot() throws {
        try RuntimeFormats.withFormats([RuntimeFormat(FP8E4M3Format.self), RuntimeFormat(Float16Format.self)]) {
            #expect(R.greatestFiniteMagnitude.value == 448)
            #expect(R.formatName == "fp8-e4m3")
            #expect(R.unitRoundoff == 0x1p-4)
            #expect(!R.hasInfinities)
            typealias S = RuntimeFloat<RuntimeSlot1>
            #expect(S.greatestFiniteMagnitude.value == 65504 && S.ulpOfOne.value == 0x1p-10 && S.formatName == "fp16-sim")
            // a table shorter than the slots: the rest take the last format
            #expect(RuntimeFloat<RuntimeSlot3>.greatestFiniteMagnitude.value == 65504)
        }
    }

    /// Tables nest and are restored; nothing is left set outside.
    @Test func tablesNestAndRestore() throws {
        #expect(RuntimeFormats.current == nil)
        try RuntimeFormats.withFormats([try RuntimeFormat.named("bf16")]) {
            #expect(R(1.0 / 3).value == SimulatedFloat<BFloat16Format>(1.0 / 3).value)
            try RuntimeFormats.withFormats([try RuntimeFormat.named("fp8-e5m2")]) {
                #expect(R(1.0 / 3).value == FP8E5M2(1.0 / 3).value)
            }
            #expect(R.formatName == "bf16")
        }
        #expect(RuntimeFormats.current == nil)
    }

    /// Two threads with different formats at the same time get what each gets alone.
    @Test func parallelTablesAreIndependent() throws {
        let formats = [try RuntimeFormat.named("bf16+sr"), try RuntimeFormat.named("fp8-e5m2")]
        @Sendable func work(_ f: RuntimeFormat) throws -> [Double] {
            try RuntimeFormats.withFormats([f]) {
                StochasticRounding.withContext(seed: 3, stream: 4) {
                    var s = R(0), out: [Double] = []
                    for k in 1...200_000 { s = R.fusedMultiplyAdd(R(1.0 / Double(k)), R(0.75), s); if k % 1000 == 0 { out.append(s.value) } }
                    return out
                }
            }
        }
        let alone = try formats.map(work)
        let together = Mutex<[[Double]?]>(Array(repeating: nil, count: formats.count))
        DispatchQueue.concurrentPerform(iterations: formats.count) { i in
            let result = try? work(formats[i])
            together.withLock { $0[i] = result }
        }
        for i in formats.indices { #expect(together.withLock { $0[i] } == alone[i], "\(formats[i].name)") }
        #expect(alone[0] != alone[1])
    }

    /// Catalogue names resolve to the declared formats' parameters; rounding suffixes are parsed.
    @Test func catalogueNamesMatchTheDeclaredFormats() throws {
        #expect(try RuntimeFormat.named("bf16").parameterDescription == RuntimeFormat(BFloat16Format.self).parameterDescription)
        #expect(try RuntimeFormat.named("fp16").parameterDescription == RuntimeFormat(Float16Format.self).parameterDescription)
        let sr = try RuntimeFormat.named("fp8-e4m3+sr")
        #expect(sr.parameterDescription == RuntimeFormat(Rounded<FP8E4M3Format, Stochastic>.self).parameterDescription)
        #expect(sr.name == "fp8-e4m3+sr")
        #expect(try RuntimeFormat.named("fp32").greatestFiniteMagnitude == Double(Float.greatestFiniteMagnitude))
        #expect(throws: FormatError.self) { try RuntimeFormat.named("fp7") }
        #expect(throws: FormatError.self) { try RuntimeFormat.named("bf16+xx") }
    }

    /// The fn encoding gives e4m3fn's 448 and no infinities; IEEE gives e5m2's 57344.
    @Test func encodingsGiveTheirLargestFiniteValue() throws {
        let fn = RuntimeFormat(name: "e4m3fn", precision: 4, maximumExponent: 8, minimumNormalExponent: -6, encoding: .fn)
        #expect(fn.parameterDescription == RuntimeFormat(FP8E4M3Format.self).parameterDescription)
        #expect(fn.encoding == .fn)
        let ieee = RuntimeFormat(name: "e5m2", precision: 3, maximumExponent: 15)
        #expect(ieee.greatestFiniteMagnitude == 57344 && ieee.encoding == .ieee)
        try fn.validate(); try ieee.validate()
    }

    /// Invalid parameters are named, before anything runs.
    @Test func invalidFormatsNameTheParameter() {
        let cases: [(RuntimeFormat, String)] = [
            (RuntimeFormat(name: "wide", precision: 30, maximumExponent: 15), "precision"),
            (RuntimeFormat(name: "tiny-range", precision: 8, maximumExponent: 0), "maximumExponent"),
            (RuntimeFormat(name: "emin", precision: 8, maximumExponent: 10, minimumNormalExponent: 12), "minimumNormalExponent"),
            (RuntimeFormat(name: "fn-inf", precision: 4, maximumExponent: 8, encoding: .fn, overflow: .infinity), "overflow"),
        ]
        for (format, parameter) in cases {
            do {
                _ = try RuntimeFormats.withFormats([format]) { 0 }
                Issue.record("\(format.name) accepted")
            } catch let FormatError.invalidParameter(name, p, _, _) {
                #expect(name == format.name && p == parameter)
            } catch { Issue.record("\(error)") }
        }
    }

    /// A run-time scalar outside any table stops with a message instead of computing in a stale format.
    @Test func useOutsideATableStops() async {
        await #expect(processExitsWith: .failure) {
            _ = RuntimeFloat<RuntimeSlot0>(1.5)
        }
    }
}
