import Testing
import Scalars
import TestSupport

/// The `[BigFloat]` array kernels against the scalar operations (which are MPFR, correctly rounded), and
/// the dot product against a 1024-bit evaluation within the γ_n bound of its own precision.
@Suite struct BigFloatKernelTests {
    typealias B = BigFloat113

    /// Values over many binades, both signs, with exact zeros of both signs mixed in.
    static func values(_ n: Int, seed: UInt64) -> [B] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in
            if i % 37 == 5 { return B(0) }
            if i % 41 == 7 { return -B(0) }
            let u = Double(rng.next() >> 11) * 0x1p-53 + 0.5           // [0.5, 1.5)
            let e = Int(rng.next() % 41) - 20
            let s: Double = rng.next() & 1 == 0 ? 1 : -1
            // a 113-bit value, not a Double: u·2^e plus a tail below Double's precision
            return B(s * u * Double(sign: .plus, exponent: e, significand: 1)) + B(Double(rng.next() >> 11) * 0x1p-110)
        }
    }

    /// Equal as values with the same sign (so −0 ≠ +0 here), or both NaN.
    static func identical(_ a: B, _ b: B) -> Bool {
        (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign)
    }

    @Test func kernelsEqualTheScalarLoopsBitForBit() throws {
        let n = 333
        let x = Self.values(n, seed: 1), y = Self.values(n, seed: 2), z = Self.values(n, seed: 3)
        let a = B.pi

        var r = z
        try B.add(x, y, into: &r)
        #expect((0..<n).allSatisfy { Self.identical(r[$0], x[$0] + y[$0]) })

        r = z
        try B.multiply(x, y, into: &r)
        #expect((0..<n).allSatisfy { Self.identical(r[$0], x[$0] * y[$0]) })

        r = z
        try B.fusedMultiplyAdd(x, y, into: &r)
        #expect((0..<n).allSatisfy { Self.identical(r[$0], B.fusedMultiplyAdd(x[$0], y[$0], z[$0])) })
        // one rounding, not two: somewhere the fused result differs from the rounded product plus z
        #expect((0..<n).contains { !Self.identical(r[$0], x[$0] * y[$0] + z[$0]) })

        r = z
        try B.axpy(a, x, &r)
        #expect((0..<n).allSatisfy { Self.identical(r[$0], z[$0] + a * x[$0]) })

        var s = B(0)
        for i in 0..<n { s = s + x[i] * y[i] }
        #expect(Self.identical(try B.dot(x, y), s))

        var t = B(0)
        for i in 0..<n { t = t + x[i] }
        #expect(Self.identical(B.sum(x), t))
        let emptyDot = try B.dot([], [])
        #expect(Self.identical(B.sum([]), B(0)) && Self.identical(emptyDot, B(0)))
    }

    /// |dot₁₁₃ − dot₁₀₂₄| ≤ γ_n·Σ|x_i y_i| with γ_n = n·u/(1 − n·u), u = 2^−113 (recursive summation
    /// of rounded products; the 1024-bit evaluation of these inputs is exact to far below that bound).
    @Test func dotIsWithinTheGammaBoundOfItsPrecision() throws {
        let n = 1000
        let x = Self.values(n, seed: 4), y = Self.values(n, seed: 5)
        let d = try B.dot(x, y)
        let xw = x.map { BigFloat1024($0) }, yw = y.map { BigFloat1024($0) }
        let exact = try BigFloat1024.dot(xw, yw)
        let absSum = try BigFloat1024.dot(xw.map { $0.magnitude }, yw.map { $0.magnitude })
        let err = (BigFloat1024(d) - exact).magnitude
        let bound = BigFloat1024(B.gammaBound(n)) * absSum
        #expect(err <= bound)
        #expect(err > 0)      // the 113-bit kernel really rounds (it is not evaluated at a wider precision)
    }

    /// Outputs that share storage with inputs or with each other are copied before a write.
    @Test func kernelsKeepValueSemantics() throws {
        let x = Self.values(64, seed: 6), y = Self.values(64, seed: 7)
        var r = x                                   // every element shares its box with x
        try B.add(x, y, into: &r)
        #expect((0..<64).allSatisfy { Self.identical(x[$0], Self.values(64, seed: 6)[$0]) })
        #expect((0..<64).allSatisfy { Self.identical(r[$0], x[$0] + y[$0]) })

        var shared = [B](repeating: B(1), count: 64)  // one box for all 64 elements
        try B.fusedMultiplyAdd(x, y, into: &shared)
        #expect((0..<64).allSatisfy { Self.identical(shared[$0], B.fusedMultiplyAdd(x[$0], y[$0], 1)) })

        var acc = x                                  // r ← r + y, the input array being the output
        try B.add(acc, y, into: &acc)
        #expect((0..<64).allSatisfy { Self.identical(acc[$0], x[$0] + y[$0]) })
    }

    @Test func kernelsRejectMismatchedCounts() {
        var r = Self.values(3, seed: 8)
        #expect(throws: BigFloatKernelError.countMismatch(operation: "BigFloat.add", counts: [3, 2, 3])) {
            try B.add(Self.values(3, seed: 9), Self.values(2, seed: 9), into: &r)
        }
        #expect(throws: BigFloatKernelError.self) { try B.dot(Self.values(3, seed: 9), Self.values(4, seed: 9)) }
        #expect(throws: BigFloatKernelError.self) { try B.axpy(1, Self.values(2, seed: 9), &r) }
    }

    /// Many kernel calls on short-lived arrays (release build): a lifetime bug would crash or corrupt.
    @Test func kernelLifetimeStress() throws {
        var r = (0..<32).map { B(Double($0)) }
        for _ in 0..<2_000 {
            try B.multiply(r.map { $0 * 2 }, [B](repeating: B(0.5), count: 32), into: &r)
            r = r.map { $0 + 0 }
        }
        #expect((0..<32).allSatisfy { r[$0] == B(Double($0)) })
    }
}
