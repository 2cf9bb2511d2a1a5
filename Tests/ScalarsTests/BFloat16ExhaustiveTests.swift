import Testing
import Scalars

/// Every one of the 65,536 bfloat16 bit patterns, checked against binary32 (every bfloat16 is exactly
/// the binary32 whose top half is the pattern) and against the sorted list of all bfloat16 values.
@Suite struct BFloat16Exhaustive {
    static let all: [BFloat16] = (0...UInt16.max).map { BFloat16(bitPattern: $0) }

    /// All distinct non-NaN values, ascending, −0 and +0 merged: the independent oracle for nextUp.
    static let sortedValues: [Float] = {
        var v = Set<Float>()
        for b in 0...UInt16.max {
            let f = Float(bitPattern: UInt32(b) << 16)
            if !f.isNaN { v.insert(f == 0 ? 0 : f) }
        }
        return v.sorted()
    }()

    @Test func classificationMatchesTheBitFields() {
        for x in Self.all {
            let e = (x.bitPattern >> 7) & 0xFF, m = x.bitPattern & 0x7F
            let f = Float(x)
            #expect(x.isNaN == (e == 0xFF && m != 0))
            #expect(x.isInfinite == (e == 0xFF && m == 0))
            #expect(x.isZero == (e == 0 && m == 0))
            #expect(x.isSubnormal == (e == 0 && m != 0))
            #expect(x.isNormal == (e != 0 && e != 0xFF))
            #expect(x.isFinite == (e != 0xFF))
            #expect(x.sign == ((x.bitPattern & 0x8000) != 0 ? .minus : .plus))
            #expect(x.isNaN == f.isNaN && x.isInfinite == f.isInfinite && x.isZero == f.isZero)
            #expect(x.exponentBitPattern == UInt(e) && x.significandBitPattern == m)
            let rebuilt = BFloat16(sign: x.sign, exponentBitPattern: x.exponentBitPattern,
                                   significandBitPattern: x.significandBitPattern)
            #expect(rebuilt.bitPattern == x.bitPattern)
            if x.isNaN { #expect(x.isSignalingNaN == ((m & 0x40) == 0)) }
        }
    }

    @Test func roundTripsThroughFloatAndDoubleKeepTheBits() {
        for x in Self.all {
            if x.isNaN {
                for y in [BFloat16(Float(x)), BFloat16(Double(x))] {
                    #expect(y.isNaN && !y.isSignalingNaN && y.sign == x.sign)
                }
            } else {
                #expect(BFloat16(Float(x)).bitPattern == x.bitPattern)
                #expect(BFloat16(Double(x)).bitPattern == x.bitPattern)
                #expect(Double(x) == Double(Float(x)))
                #expect(Float(x).bitPattern == UInt32(x.bitPattern) << 16)
            }
        }
    }

    @Test func nextUpIsTheNextValueAndUlpIsTheGap() {
        let v = Self.sortedValues
        for x in Self.all where !x.isNaN && x != .infinity {
            let f = Float(x)
            // first value strictly above f
            var lo = 0, hi = v.count
            while lo < hi { let mid = (lo + hi) / 2; if v[mid] > f { hi = mid } else { lo = mid + 1 } }
            let expected = lo < v.count ? v[lo] : Float.infinity
            #expect(Float(x.nextUp) == expected, "nextUp of \(x.bitPattern)")
            if x.isFinite && x != .greatestFiniteMagnitude && x != -.greatestFiniteMagnitude && x.sign == .plus {
                #expect(Float(x.ulp) == Float(x.nextUp) - f, "ulp of \(x.bitPattern)")
            }
        }
        #expect(Double(BFloat16.greatestFiniteMagnitude.ulp) == 0x1p120)
        #expect(BFloat16.infinity.nextUp == .infinity)
        #expect((-BFloat16.zero).nextUp == .leastNonzeroMagnitude)
    }

    @Test func exponentAndSignificandDescribeTheValue() {
        for x in Self.all where x.isFinite && !x.isZero {
            let d = Double(x).magnitude
            let e = x.exponent
            #expect(Double(sign: .plus, exponent: e, significand: 1) <= d)
            #expect(d < Double(sign: .plus, exponent: e + 1, significand: 1))
            let s = Double(x.significand)
            #expect(s >= 1 && s < 2)
            #expect(Double(BFloat16(sign: x.sign, exponent: e, significand: x.significand)) == Double(x))
            // significandWidth: the number of fraction bits needed, from the exact value
            var w = 0
            var frac = s - 1
            while frac != 0 { frac *= 2; frac -= frac.rounded(.down); w += 1 }
            #expect(x.significandWidth == (s == 1 ? 0 : w))
            #expect(Double(x.binade) == (x.sign == .minus ? -1 : 1) * Double(sign: .plus, exponent: e, significand: 1))
        }
    }

    @Test func equalityAndHashingFollowIEEE() {
        let pz = BFloat16(bitPattern: 0), nz = BFloat16(bitPattern: 0x8000)
        #expect(pz == nz)
        #expect(pz.hashValue == nz.hashValue)
        let n = BFloat16.nan; #expect(!(n == n))
        var s = Set<BFloat16>(); s.insert(pz); s.insert(nz)
        #expect(s.count == 1)
        for x in Self.all {
            var y = x; y.negate()
            #expect(y.bitPattern == x.bitPattern ^ 0x8000)
            #expect((-x).bitPattern == x.bitPattern ^ 0x8000)
        }
    }

    @Test func constantsHaveTheirDocumentedValues() {
        #expect(Double(BFloat16.pi) == 3.140625)
        #expect(Double(BFloat16.greatestFiniteMagnitude) == (2 - 0x1p-7) * 0x1p127)
        #expect(Double(BFloat16.leastNormalMagnitude) == 0x1p-126)
        #expect(Double(BFloat16.leastNonzeroMagnitude) == 0x1p-133)
        #expect(Double(BFloat16.ulpOfOne) == 0x1p-7)
        #expect(BFloat16.formatName == "bf16" && BFloat16.significandPrecision == 8)
        #expect(BFloat16.unitRoundoff == 0x1p-8)
        #expect(BFloat16.nan.isNaN && !BFloat16.nan.isSignalingNaN && BFloat16.signalingNaN.isSignalingNaN)
    }

    /// 7·37 = 259 is a bfloat16 midpoint (between 258 and 260); subtracting 2^−20 puts the exact result
    /// below it, so one rounding gives 258. Through binary32 the tiny term is lost (259 − 2^−20 rounds
    /// to 259), and the tie then goes to even, 260.
    @Test func fusedMultiplyAddRoundsOnce() {
        let a = BFloat16(7), b = BFloat16(37), c = BFloat16(-0x1p-20)
        #expect(BFloat16(Float(a) * Float(b) + Float(c)) == 260)
        #expect(BFloat16.fusedMultiplyAdd(a, b, c) == 258)
        var acc = c; acc.addProduct(a, b)
        #expect(acc == 258)
        #expect(BFloat16.fusedMultiplyAdd(a, b, BFloat16(0x1p-20)) == 260)
    }

    /// Conversion from Double rounds once: a Double just above a bfloat16 midpoint, whose binary32
    /// rounding would land on the midpoint, must round up.
    @Test func doubleConversionRoundsOnce() {
        let justAbove = 1 + 0x1p-8 + 0x1p-40          // Float(justAbove) == 1 + 2^-8 (a tie)
        #expect(Float(justAbove) == 1 + 0x1p-8)
        #expect(Double(BFloat16(justAbove)) == 1 + 0x1p-7)
        #expect(Double(BFloat16(1 + 0x1p-8)) == 1)      // exact tie goes to even
        #expect(Double(BFloat16(Int(1) << 40 + 1 << 32 + 1)) == 0x1p40 + 0x1p33)
        #expect(Double(BFloat16(Int(1) << 40 + 1 << 32)) == 0x1p40)
        #expect(BFloat16(3.0e38 as Double) == BFloat16(3.0e38 as Float))
        #expect(BFloat16(1e39 as Double) == .infinity)
    }
}
