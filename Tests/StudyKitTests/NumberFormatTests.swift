import Testing
import StudyKit

@Suite struct NumberFormatRoundTrip {
    @Test func edgeValuesHaveOneSpelling() {
        #expect(NumberFormat.roundTrip(.nan) == "nan")
        #expect(NumberFormat.roundTrip(-Double.nan) == "nan")
        #expect(NumberFormat.roundTrip(.signalingNaN) == "nan")
        #expect(NumberFormat.roundTrip(.infinity) == "inf")
        #expect(NumberFormat.roundTrip(-.infinity) == "-inf")
        #expect(NumberFormat.roundTrip(-0.0) == "-0.0")
        #expect(NumberFormat.roundTrip(0.0) == "0.0")
        #expect(NumberFormat.roundTrip(1.0) == "1.0")
        #expect(NumberFormat.roundTrip(0.1) == "0.1")
        #expect(NumberFormat.roundTrip(1e-5) == "1e-05")
        #expect(NumberFormat.roundTrip(1e16) == "1e+16")
        #expect(NumberFormat.roundTrip(0.1 + 0.2) == "0.30000000000000004")
    }

    /// The text parses back to the same bits, for values at the ends of the format.
    @Test func parsesBackToTheSameDouble() {
        let values: [Double] = [0.1 + 0.2, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
                                -.ulpOfOne, 1 / 3, 123456.789, -2.5e-300, 9007199254740994, 6.02214076e23]
        for x in values {
            #expect(Double(NumberFormat.roundTrip(x))?.bitPattern == x.bitPattern, "\(x)")
        }
    }
}

@Suite struct NumberFormatSignificant {
    @Test func fixedNotationBetweenOneThousandthAndOneHundredThousand() {
        #expect(NumberFormat.significant(123.456) == "123")
        #expect(NumberFormat.significant(1.5) == "1.50")
        #expect(NumberFormat.significant(0.00123) == "0.00123")
        #expect(NumberFormat.significant(0.001) == "0.00100")
        #expect(NumberFormat.significant(12345) == "12300")
        #expect(NumberFormat.significant(-42.0) == "-42.0")
        #expect(NumberFormat.significant(2.0, digits: 1) == "2")
    }

    @Test func scientificOutside() {
        #expect(NumberFormat.significant(0.000999) == "9.99e-4")
        #expect(NumberFormat.significant(-2.5e-7) == "-2.50e-7")
        #expect(NumberFormat.significant(123456) == "1.23e5")
        #expect(NumberFormat.significant(1e300) == "1.00e300")
        #expect(NumberFormat.significant(4.0e-3, digits: 1) == "0.004")
        // Rounding decides the notation: 99999.7 rounds to 1.00e5.
        #expect(NumberFormat.significant(99999.7) == "1.00e5")
        #expect(NumberFormat.significant(0.00099951) == "0.00100")
    }

    @Test func carriesAndTiesToEvenOnTheShortestDecimal() {
        #expect(NumberFormat.significant(9.995) == "10.0")
        #expect(NumberFormat.significant(0.125, digits: 2) == "0.12")
        #expect(NumberFormat.significant(0.375, digits: 2) == "0.38")
        #expect(NumberFormat.significant(0.1255) == "0.126")
        #expect(NumberFormat.significant(0.12451) == "0.125")
        // The shortest decimal of the smallest subnormal is 5e-324 (its exact value is 4.94e-324).
        #expect(NumberFormat.significant(.leastNonzeroMagnitude) == "5.00e-324")
    }

    @Test func edgeValues() {
        #expect(NumberFormat.significant(0) == "0")
        #expect(NumberFormat.significant(-0.0) == "-0")
        #expect(NumberFormat.significant(.nan) == "nan")
        #expect(NumberFormat.significant(-.infinity) == "-inf")
    }
}

@Suite struct NumberFormatFixed {
    @Test func exactDecimalsAndTrimming() {
        #expect(NumberFormat.fixed(2.5, decimals: 2) == "2.50")
        #expect(NumberFormat.fixed(0.05, decimals: 2) == "0.05")
        #expect(NumberFormat.fixed(-12.345, decimals: 1) == "-12.3")
        #expect(NumberFormat.fixed(7, decimals: 0) == "7")
        #expect(NumberFormat.fixed(12.5, decimals: 2, trimmingZeros: true) == "12.5")
        #expect(NumberFormat.fixed(3, decimals: 2, trimmingZeros: true) == "3")
    }

    /// `x·10^d` is rounded once, ties to even; results that round to zero carry no sign.
    @Test func roundingOfTheScaledProduct() {
        #expect(NumberFormat.fixed(0.05, decimals: 1) == "0.0")      // 0.5 -> 0
        #expect(NumberFormat.fixed(0.15, decimals: 1) == "0.2")      // 1.5 -> 2
        #expect(NumberFormat.fixed(1.005, decimals: 2) == "1.00")    // 100.49999999999999
        #expect(NumberFormat.fixed(-0.001, decimals: 2) == "0.00")
        #expect(NumberFormat.fixed(-0.0, decimals: 1, trimmingZeros: true) == "0")
        #expect(NumberFormat.fixed(.infinity, decimals: 2) == "inf")
        #expect(NumberFormat.fixed(1e300, decimals: 2) == "1e+300")
    }
}
