import CMPFR

/// A precision, in bits, fixed at the type level so that `BigFloat<P>`'s static facts
/// (`ulpOfOne`, `unitRoundoff`, `greatestFiniteMagnitude`) are well defined, together with the inline
/// storage for the significand of a number of that precision.
public protocol MPFRPrecision: Sendable {
    static var bits: Int { get }
    /// Inline storage for ⌈bits / 64⌉ limbs (`mpfr_custom_get_size(bits)` bytes or more), e.g.
    /// `InlineArray<4, mp_limb_t>` for 256 bits. The default holds up to 1024 bits.
    associatedtype Limbs: MPFRLimbStorage = InlineArray<16, mp_limb_t>
}

/// Fixed-size, trivially copyable storage for the limbs of an MPFR significand.
public protocol MPFRLimbStorage: BitwiseCopyable, Sendable {
    /// All limbs zero.
    static var zero: Self { get }
}

extension InlineArray: MPFRLimbStorage where Element == mp_limb_t {
    @inlinable public static var zero: Self { Self(repeating: 0) }
}

public enum MPFRBits64: MPFRPrecision { public static var bits: Int { 64 }; public typealias Limbs = InlineArray<1, mp_limb_t> }
public enum MPFRBits113: MPFRPrecision { public static var bits: Int { 113 }; public typealias Limbs = InlineArray<2, mp_limb_t> }
public enum MPFRBits256: MPFRPrecision { public static var bits: Int { 256 }; public typealias Limbs = InlineArray<4, mp_limb_t> }
public enum MPFRBits1024: MPFRPrecision { public static var bits: Int { 1024 }; public typealias Limbs = InlineArray<16, mp_limb_t> }

public typealias BigFloat64 = BigFloat<MPFRBits64>
public typealias BigFloat113 = BigFloat<MPFRBits113>
public typealias BigFloat256 = BigFloat<MPFRBits256>
public typealias BigFloat1024 = BigFloat<MPFRBits1024>

/// A precision outside what MPFR supports.
public struct MPFRPrecisionError: Error, CustomStringConvertible, Sendable, Equatable {
    public let bits: Int
    public var description: String {
        "MPFR precision \(bits) bits is outside MPFR's range \(MPFRInfo.minimumPrecision)…\(MPFRInfo.maximumPrecision)"
    }
}

/// Facts about the linked MPFR, for manifests and validation.
public enum MPFRInfo {
    public static var version: String { String(cString: mantissa_mpfr_version()) }
    public static var minimumPrecision: Int { mantissa_mpfr_prec_min() }
    public static var maximumPrecision: Int { mantissa_mpfr_prec_max() }

    /// Throws when `bits` cannot be an MPFR precision (e.g. a study declaring `mpfr0`).
    public static func validatePrecision(_ bits: Int) throws(MPFRPrecisionError) {
        guard bits >= minimumPrecision, bits <= maximumPrecision else { throw MPFRPrecisionError(bits: bits) }
    }
}

/// An MPFR number of `P.bits` bits, rounded to nearest after every operation: the reference scalar.
///
/// Storage: a plain value with no heap object. The significand limbs are stored inline (`P.Limbs`),
/// next to the two other fields of an `mpfr_t` that change (`_sign`, `_exp`, in MPFR's own encoding,
/// where the exponent field also encodes zero, infinity and NaN). This is MPFR's custom interface
/// ("Custom Interface" in the MPFR manual): MPFR never allocates, reallocates or frees the limbs of a
/// number whose significand memory the caller provides, as long as its precision is not changed
/// (`mpfr_set_prec`, `mpfr_swap` and `mpfr_clear` are never used here). Each operation builds, on the
/// stack, a temporary `mpfr_t` view (precision `P.bits`, sign, exponent, pointer to the limbs) over
/// each operand, makes one MPFR call, and copies the result's sign and exponent back. So copying a
/// value is a memberwise copy (value semantics for free: no reference count, no copy-on-write), and
/// no operation allocates.
///
/// The view is filled field by field, exactly as the macro `mpfr_custom_init_set` does, rather than
/// through `mpfr_custom_init_set`/`mpfr_custom_get_kind`: those encode a NaN's kind without its sign,
/// and MPFR keeps the sign bit of a NaN (`-nan` has `sign == .minus`), which must survive a round trip.
///
/// Lifetime: there is no class-owned pointer, so the rule "every C call using a pointer owned by a
/// class runs inside `withExtendedLifetime`" is met trivially. The only pointer MPFR sees is the
/// address of a value's own limbs, taken inside `withUnsafePointer(to:)`/`withUnsafeMutablePointer(to:)`,
/// which pins that storage for the whole closure; every view is built and used inside such a closure
/// and never escapes it (the array kernels hold the array buffers the same way, through
/// `withUnsafe(Mutable)BufferPointer`). There is nothing the optimiser could release early.
///
/// Precision is always explicit (`P.bits` in every view), never MPFR's thread-local default.
/// MPFR has no subnormals and no signalling NaN; its exponent range is MPFR's default (about ±2^62),
/// so overflow and underflow do not occur in practice.
@frozen
public struct BigFloat<P: MPFRPrecision>: Sendable {
    // Declaration order is layout order: the limbs are at offset 0 of the value (checked by
    // `_limbStorageOffset` in the tests), which lets the array kernels address an element's limbs
    // from the element's address.
    @usableFromInline var _limbs: P.Limbs
    @usableFromInline var _exp: mpfr_exp_t
    @usableFromInline var _sign: mpfr_sign_t

    @inlinable static var precision: Int { P.bits }

    /// +0.
    @inlinable @inline(__always)
    init(uninitialized: Void) {
        precondition(MemoryLayout<P.Limbs>.size >= mantissa_mpfr_custom_get_size(P.bits),
                     "\(P.self).Limbs holds \(MemoryLayout<P.Limbs>.size) bytes, \(P.bits) bits need more")
        _limbs = .zero
        _exp = mantissa_mpfr_exp_zero()
        _sign = 1
    }

    /// The offset of the limbs in the value, which the kernels assume to be 0 (for the tests).
    public static var _limbStorageOffset: Int? { MemoryLayout<BigFloat>.offset(of: \BigFloat._limbs) }

    /// An `mpfr_t` view of the value at `p`; valid while `p`'s memory is pinned and the value is not
    /// otherwise accessed. Equivalent to `mpfr_custom_init_set(view, kind, exp, P.bits, limbs)` with the
    /// NaN sign kept.
    @inlinable @inline(__always)
    static func _view(_ p: UnsafeMutablePointer<BigFloat>) -> __mpfr_struct {
        __mpfr_struct(_mpfr_prec: P.bits, _mpfr_sign: p.pointee._sign, _mpfr_exp: p.pointee._exp,
                      _mpfr_d: UnsafeMutableRawPointer(p).assumingMemoryBound(to: mp_limb_t.self))
    }

    /// A read-only `mpfr_t` view of the value at `p` (MPFR is only given it as a source operand).
    @inlinable @inline(__always)
    static func _view(_ p: UnsafePointer<BigFloat>) -> __mpfr_struct { _view(UnsafeMutablePointer(mutating: p)) }

    /// Copies the sign and exponent of a view written by MPFR back into the value at `p` (the limbs
    /// were written in place).
    @inlinable @inline(__always)
    static func _store(_ view: __mpfr_struct, _ p: UnsafeMutablePointer<BigFloat>) {
        p.pointee._sign = view._mpfr_sign
        p.pointee._exp = view._mpfr_exp
    }

    /// Calls `body` with a read view of this value (MPFR must only read through it).
    @inlinable @inline(__always)
    func withPointer<R>(_ body: (UnsafeMutablePointer<__mpfr_struct>) -> R) -> R {
        withUnsafePointer(to: self) { p in
            var view = BigFloat._view(p)
            return withUnsafeMutablePointer(to: &view, body)
        }
    }

    /// Calls `body` with a write view of this value's own storage; what MPFR writes becomes the value.
    @inlinable @inline(__always)
    mutating func withMutablePointer<R>(_ body: (UnsafeMutablePointer<__mpfr_struct>) -> R) -> R {
        withUnsafeMutablePointer(to: &self) { p in
            var view = BigFloat._view(p)
            let r = withUnsafeMutablePointer(to: &view, body)
            BigFloat._store(view, p)
            return r
        }
    }

    /// A new value computed by `body(result, …)`.
    @inlinable @inline(__always)
    static func make(_ body: (UnsafeMutablePointer<__mpfr_struct>) -> Void) -> BigFloat {
        var r = BigFloat(uninitialized: ())
        r.withMutablePointer(body)
        return r
    }

    /// Rounds `value` to nearest.
    @inlinable
    public init(_ value: Double) {
        self = BigFloat.make { _ = mpfr_set_d($0, value, MPFR_RNDN) }
    }

    @inlinable
    public init(_ value: Int) {
        self = BigFloat.make { _ = mpfr_set_si($0, value, MPFR_RNDN) }
    }

    /// Parses a decimal or hexadecimal (`0x…p…`) string, rounded to nearest; nil when not a number.
    public init?(_ text: String) {
        self.init(uninitialized: ())
        let ok = withMutablePointer { p in text.withCString { mpfr_set_str(p, $0, 0, MPFR_RNDN) } }
        if ok != 0 { return nil }
    }

    /// Converts from another precision, rounding to nearest.
    @inlinable
    public init<Q>(_ other: BigFloat<Q>) {
        self = BigFloat.make { r in other.withPointer { _ = mpfr_set(r, $0, MPFR_RNDN) } }
    }

    /// Rounded to the nearest Double.
    @inlinable
    public var doubleValue: Double { withPointer { mpfr_get_d($0, MPFR_RNDN) } }

    /// Decimal text with `digits` significant digits (`%.*Rg`).
    public func formatted(significantDigits digits: Int) -> String {
        withPointer { p in
            var buffer = [CChar](repeating: 0, count: digits + 32)
            _ = mantissa_mpfr_snprint_g(&buffer, buffer.count, Int32(digits), p)
            return String(cString: buffer)
        }
    }
}

// MARK: - In-place operations

extension BigFloat {
    /// `r ← a + b`, written into `r`'s storage (no value is created). Nothing is reference counted,
    /// so reading `a` and `b` out of arrays costs no more than the views over them.
    @inlinable
    public static func add(_ a: BigFloat, _ b: BigFloat, into r: inout BigFloat) {
        r.withMutablePointer { pr in a.withPointer { pa in b.withPointer { pb in _ = mpfr_add(pr, pa, pb, MPFR_RNDN) } } }
    }

    /// `r ← a · b`, written into `r`'s storage.
    @inlinable
    public static func multiply(_ a: BigFloat, _ b: BigFloat, into r: inout BigFloat) {
        r.withMutablePointer { pr in a.withPointer { pa in b.withPointer { pb in _ = mpfr_mul(pr, pa, pb, MPFR_RNDN) } } }
    }

    /// `self ← a · b + self` with one rounding (mpfr_fma), in place.
    @inlinable
    public mutating func formFusedMultiplyAdd(_ a: BigFloat, _ b: BigFloat) {
        withMutablePointer { pr in a.withPointer { pa in b.withPointer { pb in _ = mpfr_fma(pr, pa, pb, pr, MPFR_RNDN) } } }
    }

    @inlinable
    mutating func apply(_ other: BigFloat, _ op: (UnsafeMutablePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, mpfr_rnd_t) -> Int32) {
        withMutablePointer { pr in other.withPointer { po in _ = op(pr, pr, po, MPFR_RNDN) } }
    }
}

// MARK: - Matrix-product kernel

/// A scalar with a dedicated kernel for the per-operation matrix product, used by
/// `Matrix.product(…, accumulation: .perOperation)` in place of its generic loop. The kernel must give
/// exactly the generic semantics: entry `(i, j)` is `s ← 0; s ← s + a_ik·b_kj` for `k = 0…K−1`, every
/// product and every sum rounded to the format.
///
/// `op(A)(i, k) = a[i·aRow + k·aK]` and `op(B)(k, j) = b[k·bK + j·bCol]`; the result is `m × n`, row-major.
public protocol _PerOperationProductKernel {
    static func _perOperationProduct(m: Int, n: Int, k: Int, a: [Self], aRow: Int, aK: Int,
                                     b: [Self], bK: Int, bCol: Int) -> [Self]
}

extension BigFloat: _PerOperationProductKernel {
    /// The per-operation product on MPFR views: one scratch product and one running sum reused for
    /// every entry, the operands read in place from the arrays' buffers. Same roundings as
    /// `s = s + x * y`: `mpfr_mul` then `mpfr_add`, both to nearest at `P.bits`, starting from +0.
    public static func _perOperationProduct(m: Int, n: Int, k: Int, a: [BigFloat], aRow: Int, aK: Int,
                                            b: [BigFloat], bK: Int, bCol: Int) -> [BigFloat] {
        var s = BigFloat(uninitialized: ()), t = BigFloat(uninitialized: ())
        var c = [BigFloat]()
        c.reserveCapacity(m * n)
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                withUnsafeMutablePointer(to: &s) { ps in
                    withUnsafeMutablePointer(to: &t) { pt in
                        var vt = _view(pt)
                        for i in 0..<m {
                            for j in 0..<n {
                                var vs = _view(ps)
                                mpfr_set_zero(&vs, 1)
                                for kk in 0..<k {
                                    var va = _view(ab.baseAddress! + (i * aRow + kk * aK))
                                    var vb = _view(bb.baseAddress! + (kk * bK + j * bCol))
                                    _ = mpfr_mul(&vt, &va, &vb, MPFR_RNDN)
                                    withUnsafeMutablePointer(to: &vs) { _ = mpfr_add($0, $0, &vt, MPFR_RNDN) }
                                }
                                _store(vs, ps)
                                c.append(ps.pointee)
                            }
                        }
                    }
                }
            }
        }
        return c
    }
}
