import Testing
import Scalars

@Suite struct BigFloatReference {
    // Known expansions (OEIS A000796, A001113, A002193), 70 significant digits.
    static let piDigits = "3.141592653589793238462643383279502884197169399375105820974944592307816"
    static let eDigits = "2.718281828459045235360287471352662497757247093699959574966967627724077"
    static let sqrt2Digits = "1.414213562373095048801688724209698078569671875376948073176679737990732"

    /// At 256 bits (≈ 77 decimal digits) the first 70 digits must agree with the expansion.
    @Test func closedFormsTo70Digits() {
        func digits(_ x: BigFloat256) -> String { String(x.formatted(significantDigits: 75).prefix(71)) }
        #expect(digits(BigFloat256.pi.nextUp) .hasPrefix(String(Self.piDigits.prefix(70))))
        #expect(digits(BigFloat256.exp(1)).hasPrefix(String(Self.eDigits.prefix(70))))
        #expect(digits(BigFloat256.sqrt(2)).hasPrefix(String(Self.sqrt2Digits.prefix(70))))
    }

    /// The string constant, parsed at 256 bits, is within one ulp of the computed function value.
    @Test func parsedConstantsWithinOneUlp() throws {
        let e = try #require(BigFloat256(Self.eDigits))
        let diff = (BigFloat256.exp(1) - e).magnitude
        // the 70-digit truncation is off by < 1e-69; the ulp at 2.7 is 2^-254 ≈ 3.5e-77
        #expect(diff.doubleValue < 1e-69)
        #expect(BigFloat256.ulpOfOne.doubleValue == 0x1p-255)
        #expect(BigFloat256.unitRoundoff == 0x1p-256)
    }

    @Test func ieeeLikeEdgeCases() {
        let zero = BigFloat256(0), negZero = -zero
        #expect(zero == negZero)
        #expect(negZero.sign == .minus)
        #expect(zero.hashValue == negZero.hashValue)
        #expect(BigFloat256.nan != BigFloat256.nan)
        #expect(BigFloat256.nan.isNaN && !BigFloat256.nan.isFinite)
        #expect((BigFloat256(1) / zero).isInfinite)
        #expect(BigFloat256(1).nextUp - 1 == BigFloat256.ulpOfOne)
        var x = BigFloat256(3); x.negate()
        #expect(x == -3)
    }

    /// 0.1 is not a binary number: at 256 bits, 0.1·10 − 1 is tiny but the parsed decimal differs
    /// from the Double literal by about 5.5e-18.
    @Test func decimalParsingIsExactToPrecision() throws {
        let tenth = try #require(BigFloat256("0.1"))
        #expect(abs((tenth * 10 - 1).doubleValue) <= 0x1p-252)
        #expect(abs((BigFloat256(0.1) - tenth).doubleValue - 5.551115123125783e-18) < 1e-30)
    }

    /// In-place operations give exactly the value-returning results.
    @Test func inPlaceEqualsValueReturning() {
        let a = BigFloat256.pi, b = BigFloat256.exp(1)
        var r = BigFloat256(0)
        BigFloat256.add(a, b, into: &r); #expect(r == a + b)
        BigFloat256.multiply(a, b, into: &r); #expect(r == a * b)
        var s = a; s += b; #expect(s == a + b)
        var f = BigFloat256(1); f.formFusedMultiplyAdd(a, b); #expect(f == BigFloat256.fusedMultiplyAdd(a, b, 1))
        // copy-on-write: mutating a copy leaves the original alone
        let original = a; var copy = original; copy += 1
        #expect(original == BigFloat256.pi && copy == BigFloat256.pi + 1)
    }

    /// Generic code written against `Scalar` runs on BigFloat: Σ_{k=0}^{n} 1/k! → e, with the
    /// truncation error below 1/(n+1)! and rounding error ≤ γ_n of 256 bits.
    @Test func genericSeriesConvergesToE() {
        func series<T: Scalar>(_: T.Type, terms n: Int) -> T {
            var sum = T.zero, term = T(1)
            for k in 0...n { sum += term; term /= T(Double(k + 1)) }
            return sum
        }
        let s = series(BigFloat256.self, terms: 60)
        // 1/61! ≈ 2e-84 < 2^-256·e: the sum agrees with exp(1) to a few ulps
        #expect(((s - BigFloat256.exp(1)).magnitude / BigFloat256.exp(1)).doubleValue <= BigFloat256.gammaBound(122))
        #expect(BigFloat256.formatName == "mpfr256")
    }

    /// Many short-lived temporaries in a loop (release build): a lifetime bug would crash or corrupt.
    @Test func lifetimeStress() {
        var acc = BigFloat256(0)
        for i in 1...20_000 { acc = acc + BigFloat256(Double(i)) * BigFloat256(0.5) - BigFloat256(Double(i)) / 2 }
        #expect(acc == 0)
    }

    @Test func precisionValidationNamesTheValue() {
        #expect(throws: MPFRPrecisionError.self) { try MPFRInfo.validatePrecision(0) }
        do { try MPFRInfo.validatePrecision(-5) } catch { #expect(error.description.contains("-5")) }
        #expect(MPFRInfo.version.hasPrefix("4."))
    }
}
