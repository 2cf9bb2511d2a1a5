import CMPFR
import Testing
import Scalars
import TestSupport

/// The inline storage of `BigFloat` (limbs in the value, `mpfr_t` views built per call): special values
/// and extreme exponents survive copies, copies are independent, and every operation gives exactly what
/// the same MPFR call on an ordinary `mpfr_t` (`mpfr_init2` at the same precision) gives.
@Suite struct BigFloatStorageTests {
    /// Equal as values with the same sign (so −0 ≠ +0 here), or both NaN with the same sign bit.
    static func identical<P>(_ a: BigFloat<P>, _ b: BigFloat<P>) -> Bool {
        a.isNaN ? (b.isNaN && a.sign == b.sign) : (a == b && a.sign == b.sign)
    }

    /// An ordinary MPFR number at `bits`, freed with the object.
    final class Direct {
        let p = UnsafeMutablePointer<__mpfr_struct>.allocate(capacity: 1)
        init(bits: Int) { mpfr_init2(p, bits) }
        /// Parses hexadecimal or decimal text exactly as `BigFloat.init?(_: String)` (rounded to nearest).
        convenience init(bits: Int, _ text: String) {
            self.init(bits: bits)
            _ = text.withCString { mpfr_set_str(p, $0, 0, MPFR_RNDN) }
        }
        deinit { mpfr_clear(p); p.deallocate() }
        /// `%Ra`: the exact value in hexadecimal (or `@NaN@`, `@Inf@`), with its sign.
        var hex: String {
            var buffer = [CChar](repeating: 0, count: Int(mpfr_get_prec(p)) / 4 + 64)
            _ = mantissa_mpfr_snprint_a(&buffer, buffer.count, p)
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// The direct result read back into a `BigFloat<P>` (exact: same precision), NaN sign kept.
    static func value<P>(_ d: Direct, as _: P.Type) -> BigFloat<P> {
        if mpfr_nan_p(d.p) != 0 { return mantissa_mpfr_signbit(d.p) != 0 ? -BigFloat<P>.nan : BigFloat<P>.nan }
        return BigFloat<P>(d.hex)!
    }

    /// A random number that uses every bit of a `bits`-bit significand: `±0x1.<hex>p<e>`.
    static func randomText(bits: Int, exponentRange: ClosedRange<Int>, _ rng: inout SplitMix64) -> String {
        let digits = (bits - 1 + 3) / 4
        var hex = ""
        for _ in 0..<digits { hex += String(rng.next() % 16, radix: 16) }
        let e = exponentRange.lowerBound + Int(rng.next() % UInt64(exponentRange.count))
        return (rng.next() & 1 == 0 ? "" : "-") + "0x1." + hex + "p" + String(e)
    }

    @Test func storageIsInlineAndPlain() {
        // no heap object: trivially copyable, limbs first (the kernels address them from the element)
        #expect(_isPOD(BigFloat64.self) && _isPOD(BigFloat113.self) && _isPOD(BigFloat256.self) && _isPOD(BigFloat1024.self))
        #expect(BigFloat64._limbStorageOffset == 0 && BigFloat113._limbStorageOffset == 0)
        #expect(BigFloat256._limbStorageOffset == 0 && BigFloat1024._limbStorageOffset == 0)
        #expect(MemoryLayout<BigFloat64>.size >= 8 + 8 + 4 && MemoryLayout<BigFloat1024>.size >= 128 + 8 + 4)
        #expect(MemoryLayout<BigFloat256>.size <= 32 + 16)
    }

    /// ±0, ±inf, NaN of both signs, the largest and smallest magnitudes and values one step inside the
    /// exponent range keep their value and sign through copies, arrays, negation and parsing.
    @Test(arguments: [64, 113, 256, 1024])
    func specialValuesRoundTrip(bits: Int) {
        switch bits {
        case 64: roundTrip(MPFRBits64.self)
        case 113: roundTrip(MPFRBits113.self)
        case 256: roundTrip(MPFRBits256.self)
        default: roundTrip(MPFRBits1024.self)
        }
    }

    func roundTrip<P: MPFRPrecision>(_: P.Type) {
        typealias B = BigFloat<P>
        let big = B.greatestFiniteMagnitude, tiny = B.leastNonzeroMagnitude
        let specials: [B] = [B(0), -B(0), B.infinity, -B.infinity, B.nan, -B.nan, big, -big, tiny, -tiny,
                             big.nextDown, tiny.nextUp, B(1).nextUp, B(1).nextDown, B.pi, -B.ulpOfOne]
        let copies = specials.map { $0 }
        var array = [B](repeating: B(7), count: specials.count)
        for i in specials.indices { array[i] = specials[i] }
        for i in specials.indices {
            #expect(Self.identical(copies[i], specials[i]) && Self.identical(array[i], specials[i]))
            var twice = array[i]; twice.negate(); twice.negate()
            #expect(Self.identical(twice, specials[i]))
            if specials[i].isFinite { #expect(Self.identical(B(specials[i].description)!, specials[i])) }
        }
        #expect(B.nan.sign == .plus && (-B.nan).sign == .minus)   // MPFR keeps a NaN's sign bit
        #expect(B(0).sign == .plus && (-B(0)).sign == .minus)
        #expect(B.infinity.isInfinite && !(-B.infinity).isNaN && (-B.infinity) < -big)
        // the ends of the exponent range
        #expect(big.exponent == B.maximumExponent && tiny.exponent == B.minimumNormalExponent)
        #expect(big.nextUp.isInfinite && (big * 2).isInfinite && (-big * 2) == -B.infinity)
        #expect((tiny / 2).isZero && (-tiny / 2).sign == .minus && tiny.nextDown.isZero)
        #expect(big.significand == (B(2) - B.ulpOfOne) && tiny.significand == 1)
        // the same ends computed by MPFR directly
        let d = Direct(bits: P.bits)
        mpfr_set_inf(d.p, 1); mpfr_nextbelow(d.p)
        #expect(Self.identical(Self.value(d, as: P.self), big))
        mpfr_set_zero(d.p, 1); mpfr_nextabove(d.p)
        #expect(Self.identical(Self.value(d, as: P.self), tiny))
    }

    /// Value semantics: every copy is independent, whatever is done to it (scalar in-place operations,
    /// array kernels, element assignment) and however many copies there are.
    @Test func copiesNeverShareStorage() throws {
        typealias B = BigFloat256
        var rng = SplitMix64(seed: 0xB16F)
        let originals = (0..<200).map { _ in B(Self.randomText(bits: 256, exponentRange: -40...40, &rng))! }
        let snapshot = originals.map(\.description)
        var copies = [[B]](repeating: originals, count: 8)
        for round in 0..<50 {
            for c in copies.indices {
                var mine = copies[c]
                for i in mine.indices where (i + round + c) % 3 == 0 {
                    var x = mine[i]
                    switch (round + c) % 6 {
                    case 0: x += originals[(i + 1) % originals.count]
                    case 1: x.negate()
                    case 2: x.formFusedMultiplyAdd(originals[i], B.pi)
                    case 3: B.multiply(x, mine[(i + 7) % mine.count], into: &x)
                    case 4: x.formSquareRoot()
                    default: x = x / 3
                    }
                    mine[i] = x
                }
                if round % 5 == 0 { try B.fusedMultiplyAdd(originals, copies[c], into: &mine) }
                if round % 7 == 0 { try B.axpy(B(0.5), copies[(c + 1) % copies.count], &mine) }
                copies[c] = mine
            }
        }
        #expect(originals.map(\.description) == snapshot)
        // the copies diverged from the originals and from each other
        #expect(copies[0].map(\.description) != snapshot && copies[0].map(\.description) != copies[1].map(\.description))
        // a scalar copy mutated in a long chain
        let a = originals[3]
        var b = a
        for _ in 0..<10_000 { b.formFusedMultiplyAdd(a, B.ulpOfOne); b -= a }
        #expect(a.description == snapshot[3] && b != a)
    }

    /// Every operation, for random full-precision operands, equals the same MPFR call on ordinary
    /// `mpfr_t`s at the same precision (read back exactly through `%Ra`).
    @Test(arguments: [64, 113, 256, 1024])
    func operationsEqualDirectMPFR(bits: Int) {
        switch bits {
        case 64: compareWithDirect(MPFRBits64.self)
        case 113: compareWithDirect(MPFRBits113.self)
        case 256: compareWithDirect(MPFRBits256.self)
        default: compareWithDirect(MPFRBits1024.self)
        }
    }

    func compareWithDirect<P: MPFRPrecision>(_: P.Type) {
        typealias B = BigFloat<P>
        typealias Binary = (UnsafeMutablePointer<__mpfr_struct>?, UnsafePointer<__mpfr_struct>?, UnsafePointer<__mpfr_struct>?, mpfr_rnd_t) -> Int32
        typealias Unary = (UnsafeMutablePointer<__mpfr_struct>?, UnsafePointer<__mpfr_struct>?, mpfr_rnd_t) -> Int32
        var rng = SplitMix64(seed: 0xD12EC7 &+ UInt64(P.bits))
        let binary: [(String, (B, B) -> B, Binary)] = [
            ("+", { $0 + $1 }, mpfr_add), ("-", { $0 - $1 }, mpfr_sub), ("*", { $0 * $1 }, mpfr_mul),
            ("/", { $0 / $1 }, mpfr_div), ("remainder", { $0.remainder(dividingBy: $1) }, mpfr_remainder),
            ("pow", { B.pow($0.magnitude, $1 / 64) }, { r, x, y, m in
                let t = Direct(bits: P.bits), u = Direct(bits: P.bits)
                _ = mpfr_abs(t.p, x, m); _ = mpfr_div_si(u.p, y, 64, m)
                return mpfr_pow(r, t.p, u.p, m)
            }),
            ("atan2", { B.atan2(y: $0, x: $1) }, mpfr_atan2), ("hypot", { B.hypot($0, $1) }, mpfr_hypot),
        ]
        let unary: [(String, (B) -> B, Unary)] = [
            ("sqrt∘abs", { B.sqrt($0.magnitude) }, { r, x, m in _ = mpfr_abs(r, x, m); return mpfr_sqrt(r, r, m) }),
            ("exp", { B.exp($0) }, mpfr_exp), ("sin", { B.sin($0) }, mpfr_sin), ("atan", { B.atan($0) }, mpfr_atan),
            ("log∘abs", { B.log($0.magnitude) }, { r, x, m in _ = mpfr_abs(r, x, m); return mpfr_log(r, r, m) }),
            ("neg", { -$0 }, mpfr_neg),
        ]
        for _ in 0..<60 {
            let tx = Self.randomText(bits: P.bits, exponentRange: -30...30, &rng)
            let ty = Self.randomText(bits: P.bits, exponentRange: -30...30, &rng)
            let tz = Self.randomText(bits: P.bits, exponentRange: -60...60, &rng)
            let x = B(tx)!, y = B(ty)!, z = B(tz)!
            let dx = Direct(bits: P.bits, tx), dy = Direct(bits: P.bits, ty), dz = Direct(bits: P.bits, tz)
            #expect(Self.identical(Self.value(dx, as: P.self), x))
            let d = Direct(bits: P.bits)
            for (name, op, direct) in binary {
                _ = direct(d.p, dx.p, dy.p, MPFR_RNDN)
                #expect(Self.identical(op(x, y), Self.value(d, as: P.self)), "\(name) at \(P.bits) bits: \(tx), \(ty)")
            }
            for (name, op, direct) in unary {
                _ = direct(d.p, dx.p, MPFR_RNDN)
                #expect(Self.identical(op(x), Self.value(d, as: P.self)), "\(name) at \(P.bits) bits: \(tx)")
            }
            _ = mpfr_fma(d.p, dx.p, dy.p, dz.p, MPFR_RNDN)
            let fused = Self.value(d, as: P.self)
            #expect(Self.identical(B.fusedMultiplyAdd(x, y, z), fused))
            var r = z; r.formFusedMultiplyAdd(x, y)
            #expect(Self.identical(r, fused))
            var s = B(0); B.add(x, y, into: &s)
            _ = mpfr_add(d.p, dx.p, dy.p, MPFR_RNDN)
            #expect(Self.identical(s, Self.value(d, as: P.self)))
            // conversions and text
            #expect(x.doubleValue == mpfr_get_d(dx.p, MPFR_RNDN))
            #expect(x.description == {
                var buffer = [CChar](repeating: 0, count: P.bits + 64)
                _ = mantissa_mpfr_snprint_g(&buffer, buffer.count, Int32((Double(P.bits) * 0.30103).rounded(.up)) + 1, dx.p)
                return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }())
        }
    }
}
