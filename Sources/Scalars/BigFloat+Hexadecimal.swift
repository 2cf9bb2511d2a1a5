import CMPFR

/// Exact hexadecimal text for `BigFloat` (issue 18): every bit of the significand, in the form of C's `%a`
/// for normal numbers, and a parser that reads such text back exactly.
extension BigFloat {
    /// The exact value as hexadecimal text, like C's `%a` (C11 §7.21.6.1) with all bits: `-0x1.8p+1` is
    /// −1.1₂ × 2^1 = −3. A nonzero finite value is written `[-]0x1.<digits>p<±exponent>`: the leading 1,
    /// then the remaining `P.bits − 1` significand bits in hexadecimal digits with trailing zero digits
    /// dropped (and no point when none remain), then the binary exponent in decimal. Zeros are `0x0p+0`
    /// and `-0x0p+0`; the others `inf`, `-inf`, `nan`, `-nan` (MPFR keeps a NaN's sign).
    ///
    /// Guarantee: `BigFloat(hexadecimal: x.hexadecimalDescription)` has the same sign, exponent and
    /// significand bits as `x` for every `x` (NaN: a NaN with the same sign).
    public var hexadecimalDescription: String {
        let negative = sign == .minus
        let prefix = negative ? "-" : ""
        if isNaN { return prefix + "nan" }
        if isInfinite { return prefix + "inf" }
        if isZero { return prefix + "0x0p+0" }
        // MPFR: value = 0.b1 b2 … b_P × 2^_exp with b1 = 1, the bits from the most significant bit of the top
        // limb down (limbs least significant first; the unused low bits of the lowest limb are zero)
        let limbCount = (P.bits + 63) / 64
        var limbs = [UInt64](repeating: 0, count: limbCount)
        withUnsafeBytes(of: _limbs) { raw in
            for k in 0..<limbCount { limbs[k] = raw.load(fromByteOffset: 8 * k, as: UInt64.self) }
        }
        func bit(_ k: Int) -> UInt8 {                  // bit k of the significand, k = 0 the leading one
            guard k < limbCount * 64 else { return 0 }
            return UInt8(truncatingIfNeeded: limbs[limbCount - 1 - k / 64] &>> UInt64(63 - k % 64)) & 1
        }
        let hexDigits = Array("0123456789abcdef".utf8)
        var digits: [UInt8] = []
        var k = 1
        while k < P.bits {
            let d = (bit(k) << 3) | (bit(k + 1) << 2) | (bit(k + 2) << 1) | bit(k + 3)
            digits.append(hexDigits[Int(d)])
            k += 4
        }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        let exponent = Int(_exp) - 1
        let fraction = digits.isEmpty ? "" : "." + String(decoding: digits, as: UTF8.self)
        return prefix + "0x1" + fraction + "p" + (exponent < 0 ? "-" : "+") + String(exponent.magnitude)
    }

    /// Parses hexadecimal floating-point text exactly; nil if the text is not of the form below or its
    /// value is not a `P.bits`-bit number within MPFR's exponent range (it would have to be rounded).
    ///
    /// Accepted (case-insensitive, no spaces): an optional sign, then `inf`, `infinity` or `nan`, or `0x`
    /// followed by hexadecimal digits with an optional point (at least one digit) and an optional binary
    /// exponent `p[±]decimal digits`. Every `hexadecimalDescription` is accepted, as is C's `%a` output and
    /// MPFR's `%Ra`. The digits are read by MPFR (`mpfr_strtofr`, base 16 with a binary exponent), whose
    /// ternary result says whether the value was exact.
    public init?(hexadecimal text: String) {
        guard BigFloat._isHexadecimalFloatSyntax(text) else { return nil }
        var ternary: Int32 = 0
        var consumed = false
        self.init(uninitialized: ())
        withMutablePointer { p in
            text.withCString { start in
                var end: UnsafeMutablePointer<CChar>? = nil
                ternary = mpfr_strtofr(p, start, &end, 0, MPFR_RNDN)
                consumed = end.map { $0.pointee == 0 && $0 != UnsafeMutablePointer(mutating: start) } ?? false
            }
        }
        guard consumed, ternary == 0 else { return nil }
        // MPFR reads "-nan" as NaN; keep the sign the text gives
        if isNaN && text.hasPrefix("-") { negate() }
    }

    /// The grammar of `init?(hexadecimal:)`.
    static func _isHexadecimalFloatSyntax(_ text: String) -> Bool {
        var s = Substring(text.lowercased())
        if s.first == "+" || s.first == "-" { s = s.dropFirst() }
        if s == "inf" || s == "infinity" || s == "nan" { return true }
        guard s.hasPrefix("0x") else { return false }
        s = s.dropFirst(2)
        let isHex: (Character) -> Bool = { $0.isHexDigit }
        let mantissaEnd = s.firstIndex(of: "p") ?? s.endIndex
        let mantissa = s[..<mantissaEnd]
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count <= 2, mantissa.filter({ $0 != "." }).count >= 1,
              mantissa.filter({ $0 == "." }).count <= 1,
              parts.allSatisfy({ $0.allSatisfy(isHex) }) else { return false }
        guard mantissaEnd < s.endIndex else { return true }
        var exponent = s[s.index(after: mantissaEnd)...]
        if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
        return !exponent.isEmpty && exponent.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
