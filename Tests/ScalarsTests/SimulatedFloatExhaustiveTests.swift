import Testing
import Scalars
import TestSupport

/// All 65,536 binary16 patterns through the fp16-shaped simulated format (native `Float16` as the
/// oracle), all bfloat16 patterns through the bf16-shaped one (`BFloat16` as the oracle), and every
/// member of the fp8 formats: membership, classification, nextUp, ulp, exponent and significand.
@Suite struct SimulatedFloatExhaustive {
    func compare<F: FloatFormat, T: BinaryFloatingPoint>(_ format: F.Type, _ values: [T]) {
        typealias S = SimulatedFloat<F>
        var mismatches = 0
        func check(_ ok: Bool, _ what: String, _ x: T) {
            if !ok { mismatches += 1; if mismatches < 8 { Issue.record("\(F.name) \(what) at \(x)") } }
        }
        for x in values {
            let d = Double(x)
            let s = S(d)
            if x.isNaN { check(s.isNaN, "NaN", x); continue }
            check(s.value == d && s.sign == x.sign, "membership", x)
            check(s.isNormal == x.isNormal && s.isSubnormal == x.isSubnormal && s.isZero == x.isZero
                  && s.isInfinite == x.isInfinite && s.isFinite == x.isFinite, "classification", x)
            check(sameResult(s.nextUp.value, Double(x.nextUp)), "nextUp", x)
            check(sameResult(s.nextDown.value, Double(x.nextDown)), "nextDown", x)
            if x.isFinite {
                check(s.ulp.value == Double(x.ulp), "ulp", x)
                if !x.isZero {
                    check(s.exponent == Int(x.exponent), "exponent", x)
                    check(s.significand.value == Double(x.significand), "significand", x)
                }
                if x.sign == .plus && x < T.greatestFiniteMagnitude {
                    check(s.ulp.value == s.nextUp.value - s.value, "ulp == nextUp − x", x)
                }
            }
        }
        #expect(mismatches == 0, "\(F.name)")
        #expect(S.greatestFiniteMagnitude.value == Double(T.greatestFiniteMagnitude))
        #expect(S.leastNormalMagnitude.value == Double(T.leastNormalMagnitude))
        #expect(S.leastNonzeroMagnitude.value == Double(T.leastNonzeroMagnitude))
        #expect(S.ulpOfOne.value == Double(T.ulpOfOne))
        #expect(S.pi.value == Double(T.pi))
    }

    @Test func fp16ShapedAgainstFloat16() {
        compare(Float16Format.self, (0...UInt16.max).map { Float16(bitPattern: $0) })
    }

    @Test func bf16ShapedAgainstBFloat16() {
        compare(BFloat16Format.self, (0...UInt16.max).map { BFloat16(bitPattern: $0) })
    }

    /// Walking nextUp from −max to +max visits exactly the members, in order.
    func walk<F: FloatFormat>(_ format: F.Type) {
        let members = FormatSpec(F.self).allFiniteMembers()
        var x = SimulatedFloat<F>(_ : -F.greatestFiniteMagnitude)
        var visited: [Double] = [x.value]
        while x.value < F.greatestFiniteMagnitude {
            x = x.nextUp
            visited.append(x.value == 0 ? 0 : x.value)
        }
        #expect(visited == members, "\(F.name)")
        #expect(x.nextUp.value == .infinity)
        for m in members where m != 0 {
            #expect(SimulatedFloat<F>(m).nextUp.nextDown.value == m)
        }
    }

    @Test func fp8MembersInOrder() {
        walk(FP8E4M3Format.self)
        walk(FP8E5M2Format.self)
        walk(CustomNoSubnormalsFormat.self)
        walk(CustomP6Format.self)
        #expect(FormatSpec(FP8E4M3Format.self).allFiniteMembers().count == 253)   // 256 − 2 NaNs − (−0)
        #expect(FormatSpec(FP8E5M2Format.self).allFiniteMembers().count == 247)   // 256 − 6 NaNs − 2 ∞ − (−0)
    }
}
