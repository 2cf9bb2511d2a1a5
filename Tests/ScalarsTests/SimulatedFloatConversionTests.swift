import Testing
import Scalars
import TestSupport

/// float32 → format, every rounding mode, on an edge-dense input set, against MPFR.
@Suite struct SimulatedFloatConversion {
    static let modes: [RoundingMode] = RoundingMode.allCases

    func check<F: FloatFormat>(_ format: F.Type) throws {
        try F.validate()
        let spec = FormatSpec(F.self)
        let oracle = MPFRFormatOracle(spec)
        let inputs = EdgeInputs.floats(for: spec)
        var rng = SplitMix64(seed: 7)
        var mismatches = 0
        for mode in Self.modes {
            for x in inputs {
                let w = UInt32.random(in: 0...UInt32.max, using: &rng)
                let got = F.round(Double(x), mode: mode, random: w)
                let want = oracle.round(Double(x), mode: mode, random: w)
                if !sameResult(got, want) {
                    mismatches += 1
                    if mismatches <= 10 {
                        Issue.record("\(F.name) \(mode) x=\(x) (\(String(x.bitPattern, radix: 16))) r=\(w): got \(got), MPFR \(want)")
                    }
                }
            }
        }
        #expect(mismatches == 0, "\(F.name): \(mismatches) mismatches over \(inputs.count) inputs × \(Self.modes.count) modes")
        // the input set really exercises rounding: the modes disagree on many inputs, and stochastic
        // rounding goes both ways
        let inexact = inputs.filter { oracle.round(Double($0), mode: .towardZero) != oracle.round(Double($0), mode: .up) }
        #expect(inputs.count > 2000 && inexact.count > inputs.count / 4, "\(F.name): \(inexact.count) inexact of \(inputs.count)")
        let ties = inputs.filter { x in
            let d = Double(x), lo = oracle.round(d, mode: .towardZero), hi = oracle.round(d, mode: .up)
            return lo.isFinite && hi.isFinite && lo != hi && d - lo == hi - d
        }
        #expect(ties.count > 20, "\(F.name): only \(ties.count) exact ties")
        // the format's own rounding through the initialiser
        for x in inputs where F.rounding != .stochastic {
            #expect(sameResult(SimulatedFloat<F>(x).value, oracle.round(Double(x), mode: F.rounding)))
        }
    }

    @Test func fp8E4M3() throws { try check(FP8E4M3Format.self) }
    @Test func fp8E4M3Saturating() throws { try check(FP8E4M3SaturatingFormat.self) }
    @Test func fp8E5M2() throws { try check(FP8E5M2Format.self) }
    @Test func fp8E5M2Saturating() throws { try check(FP8E5M2SaturatingFormat.self) }
    @Test func tf32() throws { try check(TF32Format.self) }
    @Test func bf16Shaped() throws { try check(BFloat16Format.self) }
    @Test func fp16Shaped() throws { try check(Float16Format.self) }
    @Test func customP6() throws { try check(CustomP6Format.self) }
    @Test func customWithoutSubnormals() throws { try check(CustomNoSubnormalsFormat.self) }

    /// The emulated BFloat16 and the native Float16 conversions agree with MPFR (round to nearest even).
    @Test func bfloat16AndFloat16FromFloat() {
        for (spec, convert) in [(FormatSpec.bfloat16, { (x: Float) in Double(BFloat16(x)) }),
                                (FormatSpec.binary16, { (x: Float) in Double(Float16(x)) })] {
            let oracle = MPFRFormatOracle(spec)
            var mismatches = 0
            for x in EdgeInputs.floats(for: spec) {
                if !sameResult(convert(x), oracle.round(Double(x), mode: .nearestEven)) { mismatches += 1 }
            }
            #expect(mismatches == 0, "\(spec.name)")
        }
    }

    /// BFloat16(Double) is one rounding: Doubles next to bf16 midpoints.
    @Test func bfloat16FromDouble() {
        let oracle = MPFRFormatOracle(.bfloat16)
        var mismatches = 0
        for x in EdgeInputs.floats(for: .bfloat16) where x.isFinite {
            let d = Double(x)
            for y in [d, d.nextUp, d.nextDown, d + d.ulp * 1000, d - d.ulp * 1000] {
                if !sameResult(Double(BFloat16(y)), oracle.round(y, mode: .nearestEven)) { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }
}

/// `validate()` rejects inconsistent formats and names the parameter; unknown names are reported.
@Suite struct FormatValidation {
    enum TooPrecise: FloatFormat {
        static var name: String { "too-precise" }
        static var precision: Int { 30 }
        static var maximumExponent: Int { 15 }
    }
    enum BadRange: FloatFormat {
        static var name: String { "bad-range" }
        static var precision: Int { 8 }
        static var maximumExponent: Int { 4 }
        static var minimumNormalExponent: Int { 4 }
    }
    enum InfinityWithoutInfinities: FloatFormat {
        static var name: String { "inf-without-inf" }
        static var precision: Int { 4 }
        static var maximumExponent: Int { 8 }
        static var hasInfinities: Bool { false }
        static var overflow: OverflowBehaviour { .infinity }
    }
    enum BadMaximum: FloatFormat {
        static var name: String { "bad-max" }
        static var precision: Int { 4 }
        static var maximumExponent: Int { 8 }
        static var greatestFiniteMagnitude: Double { 450 }
    }

    @Test func invalidFormatsAreReportedWithTheParameter() {
        func parameter(_ f: any FloatFormat.Type) -> String? {
            do { try f.validate(); return nil } catch {
                if case let .invalidParameter(_, parameter, _, _) = error { return parameter }
                return nil
            }
        }
        #expect(parameter(TooPrecise.self) == "precision")
        #expect(parameter(BadRange.self) == "minimumNormalExponent")
        #expect(parameter(InfinityWithoutInfinities.self) == "overflow")
        #expect(parameter(BadMaximum.self) == "greatestFiniteMagnitude")
        do { try TooPrecise.validate() } catch {
            #expect(error.description.contains("too-precise") && error.description.contains("precision = 30"))
        }
    }

    @Test func readyMadeFormatsAreValid() throws {
        for f: any FloatFormat.Type in [FP8E4M3Format.self, FP8E4M3SaturatingFormat.self, FP8E5M2Format.self,
                                         FP8E5M2SaturatingFormat.self, TF32Format.self, BFloat16Format.self,
                                         Float16Format.self, CustomP6Format.self, CustomNoSubnormalsFormat.self] {
            try f.validate()
        }
        #expect(FP8E4M3.greatestFiniteMagnitude.value == 448)
        #expect(FP8E5M2.greatestFiniteMagnitude.value == 57344)
        #expect(TF32.ulpOfOne.value == 0x1p-10)
    }

    @Test func namesResolveAndUnknownNamesThrow() throws {
        #expect(try ScalarFormats.type(named: "bf16") == BFloat16.self)
        #expect(try ScalarFormats.type(named: "fp8-e4m3") == FP8E4M3.self)
        #expect(try ScalarFormats.type(named: "fp8-e4m3+sr") == SimulatedFloat<Rounded<FP8E4M3Format, Stochastic>>.self)
        #expect(Set(ScalarFormats.names).count == ScalarFormats.names.count)
        #expect(throws: FormatError.self) { try ScalarFormats.type(named: "fp7") }
        do { _ = try ScalarFormats.type(named: "fp7") } catch {
            #expect(error.description.contains("fp7") && error.description.contains("bf16"))
        }
    }
}
