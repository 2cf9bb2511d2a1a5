import Testing
import CMPFR
import Scalars
import TestSupport

/// Exact hexadecimal text of `BigFloat` (issue 18): the formatter against MPFR's own `%Ra` output (an
/// independent printer: MPFR chooses another leading digit, so both are reduced to sign, significant bits
/// and exponent by a small reader written here), and exact round trips at 64, 113, 256 and 1024 bits.
@Suite struct BigFloatHexadecimalTests {
    /// `(negative, bits, exponent)`: the significant bits without leading or trailing zeros, and the binary
    /// exponent of the first; nil for zero. Reads `[-]0x<hex>[.<hex>]p<±dec>`.
    static func canonical(_ text: String) -> (Bool, [UInt8], Int)? {
        var s = Substring(text)
        let negative = s.hasPrefix("-")
        if negative { s = s.dropFirst() }
        precondition(s.hasPrefix("0x"), text)
        s = s.dropFirst(2)
        let p = s.firstIndex(of: "p")!
        var exponent = Int(s[s.index(after: p)...].replacingOccurrences(of: "+", with: ""))!
        let mantissa = s[..<p]
        let point = mantissa.firstIndex(of: ".")
        let integerDigits = point.map { mantissa[..<$0] } ?? mantissa
        let fractionDigits = point.map { mantissa[mantissa.index(after: $0)...] } ?? ""
        var bits: [UInt8] = []
        for c in integerDigits + fractionDigits {
            let v = Int(String(c), radix: 16)!
            bits += [UInt8(v >> 3 & 1), UInt8(v >> 2 & 1), UInt8(v >> 1 & 1), UInt8(v & 1)]
        }
        // the binary point sits after 4·(integer digits) bits
        exponent += 4 * integerDigits.count - 1
        guard let first = bits.firstIndex(of: 1) else { return nil }
        exponent -= first
        bits.removeFirst(first)
        while bits.last == 0 { bits.removeLast() }
        return (negative, bits, exponent)
    }

    /// MPFR's `%Ra` text of the number `text` parsed by MPFR at `bits` precision, and whether MPFR read it exactly.
    static func mpfrHex(_ text: String, bits: Int, transform: ((UnsafeMutablePointer<__mpfr_struct>) -> Void)? = nil) -> String {
        let x = UnsafeMutablePointer<__mpfr_struct>.allocate(capacity: 1)
        defer { mpfr_clear(x); x.deallocate() }
        mpfr_init2(x, bits)
        _ = mpfr_set_str(x, text, 0, MPFR_RNDN)
        transform?(x)
        var buffer = [CChar](repeating: 0, count: bits / 4 + 64)
        _ = mantissa_mpfr_snprint_a(&buffer, buffer.count, x)
        return String(cString: buffer)
    }

    /// A random `bits`-bit number as hexadecimal text: a leading 1, `bits − 1` random bits, a random exponent.
    static func randomText(bits: Int, rng: inout SplitMix64) -> String {
        var digits = ""
        var remaining = bits - 1
        while remaining > 0 {
            let take = min(4, remaining)
            let v = Int(rng.next() % 16) & ~((1 << (4 - take)) - 1)       // unused low bits of the last digit 0
            digits += String(v, radix: 16)
            remaining -= take
        }
        let exponent = Int(rng.next() % 4001) - 2000
        return (rng.next() & 1 == 0 ? "" : "-") + "0x1." + digits + "p" + String(exponent)
    }

    func check<P: MPFRPrecision>(_: P.Type, count: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var bad = 0
        for i in 0..<count {
            // every 8th value has few significant bits (trailing zero digits are dropped)
            var text = Self.randomText(bits: i % 8 == 0 ? 1 + Int(rng.next() % 9) : P.bits, rng: &rng)
            if i % 8 == 0 { text = text.replacingOccurrences(of: "0x1.p", with: "0x1p") }
            guard let x = BigFloat<P>(text) else { Issue.record("MPFR did not read \(text)"); return }
            let mine = x.hexadecimalDescription
            let theirs = Self.mpfrHex(text, bits: P.bits)
            let a = Self.canonical(mine), b = Self.canonical(theirs)
            if a?.0 != b?.0 || a?.1 != b?.1 || a?.2 != b?.2 { bad += 1 }
            // the form: 0x1, hex digits without trailing zeros, p and a signed exponent
            if !(mine.hasPrefix("0x1") || mine.hasPrefix("-0x1")) || mine.contains(".p") || mine.contains("0p") { bad += 1 }
            // exact round trip
            guard let back = BigFloat<P>(hexadecimal: mine) else { bad += 1; continue }
            if back.hexadecimalDescription != mine || back != x || back.sign != x.sign { bad += 1 }
            // MPFR's own text reads back to the same value
            if BigFloat<P>(hexadecimal: theirs) != x { bad += 1 }
            if bad > 0 && bad < 4 { Issue.record("\(P.bits) bits: \(text): mine \(mine), MPFR \(theirs)") }
        }
        #expect(bad == 0, "\(P.bits) bits")
    }

    @Test func randomValuesMatchMPFRAndRoundTripExactly() {
        check(MPFRBits64.self, count: 2_000, seed: 1)
        check(MPFRBits113.self, count: 2_000, seed: 2)
        check(MPFRBits256.self, count: 1_000, seed: 3)
        check(MPFRBits1024.self, count: 300, seed: 4)
    }

    /// exp(−700) at 256 bits, a value with all 256 bits significant and exponent −1010, against MPFR's
    /// own exp and `%Ra` at 256 bits.
    @Test func expOfMinus700At256Bits() {
        let x = BigFloat256.exp(BigFloat256(-700))
        let theirs = Self.mpfrHex("-700", bits: 256) { p in _ = mpfr_exp(p, p, MPFR_RNDN) }
        let a = Self.canonical(x.hexadecimalDescription)!, b = Self.canonical(theirs)!
        #expect(a.0 == b.0 && a.1 == b.1 && a.2 == b.2, "\(x.hexadecimalDescription) vs \(theirs)")
        #expect(a.2 == -1010 && x.hexadecimalDescription.hasSuffix("p-1010"))
        #expect(BigFloat256(hexadecimal: x.hexadecimalDescription) == x)
    }

    @Test func specialValuesAndMalformedText() {
        typealias B = BigFloat256
        #expect(B(0).hexadecimalDescription == "0x0p+0" && (-B(0)).hexadecimalDescription == "-0x0p+0")
        #expect(B(3).hexadecimalDescription == "0x1.8p+1" && B(1).hexadecimalDescription == "0x1p+0")
        #expect(B(-0.75).hexadecimalDescription == "-0x1.8p-1")
        #expect(B.infinity.hexadecimalDescription == "inf" && (-B.infinity).hexadecimalDescription == "-inf")
        #expect(B.nan.hexadecimalDescription == "nan" && (-B.nan).hexadecimalDescription == "-nan")
        for v in [B(0), -B(0), B.infinity, -B.infinity] {
            let back = B(hexadecimal: v.hexadecimalDescription)
            #expect(back == v && back?.sign == v.sign)
        }
        #expect(B(hexadecimal: "nan")?.isNaN == true && B(hexadecimal: "-nan")?.sign == .minus)
        // C's %a forms and MPFR's: other leading digits, upper case, no exponent
        #expect(B(hexadecimal: "0X1.8P+1") == B(3) && B(hexadecimal: "0x3p+0") == B(3) && B(hexadecimal: "0x.cp2") == B(3))
        #expect(B(hexadecimal: "0x18") == B(24))
        // not hexadecimal floating point, or not exact at the precision
        for text in ["", "1.5", "0x", "0xp1", "0x1.8p", "0x1.8q1", "0x1.8p+1 ", " 0x1p0", "0x1..8p0", "0x1.8p1.5", "nan(1)"] {
            #expect(B(hexadecimal: text) == nil, "\(text)")
        }
        let tooLong = "0x1." + String(repeating: "0", count: 63) + "1p0"        // 1 + 2^−256: 257 bits
        #expect(B(hexadecimal: tooLong) == nil && BigFloat1024(hexadecimal: tooLong) != nil)
        #expect(B(hexadecimal: "0x1p+99999999999999999999") == nil)
    }
}
