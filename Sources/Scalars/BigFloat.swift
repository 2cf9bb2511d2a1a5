import CMPFR

/// A precision, in bits, fixed at the type level so that `BigFloat<P>`'s static facts
/// (`ulpOfOne`, `unitRoundoff`, `greatestFiniteMagnitude`) are well defined.
public protocol MPFRPrecision: Sendable {
    static var bits: Int { get }
}

public enum MPFRBits64: MPFRPrecision { public static var bits: Int { 64 } }
public enum MPFRBits113: MPFRPrecision { public static var bits: Int { 113 } }
public enum MPFRBits256: MPFRPrecision { public static var bits: Int { 256 } }
public enum MPFRBits1024: MPFRPrecision { public static var bits: Int { 1024 } }

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

/// Owns one `mpfr_t` and its limbs in a single heap object: the `__mpfr_struct` is the header of a
/// `ManagedBuffer` and the significand limbs are its tail elements (MPFR's custom interface,
/// `mpfr_custom_init_set`), so a new number costs one allocation instead of three (object, struct,
/// limbs). MPFR never reallocates the limbs of a number whose precision is not changed, and nothing
/// here changes a precision (`mpfr_set_prec` and `mpfr_swap` must not be used on these numbers); the
/// limbs are freed with the object, so `mpfr_clear` is not called.
///
/// Lifetime: every C call that uses the header's address runs inside `withUnsafeMutablePointerToHeader`
/// (or `withExtendedLifetime(box)`): ManagedBuffer keeps the object alive until its closure returns,
/// exactly what `withExtendedLifetime` guarantees. Without one of them the optimiser may release the
/// box (and free the limbs) before the call that reads them, a use-after-free seen only in release
/// builds. The accessor form is the one used on hot paths: it borrows the box where
/// `withExtendedLifetime(r.box)` on an `inout` value costs a retain/release pair per call (measured).
@usableFromInline
final class MPFRBox: ManagedBuffer<__mpfr_struct, mp_limb_t>, @unchecked Sendable {
    /// The `mpfr_t` (the header's address: fixed for the object's lifetime). Only for code that keeps the
    /// box alive itself (`withExtendedLifetime`).
    @inlinable
    var pointer: UnsafeMutablePointer<__mpfr_struct> { withUnsafeMutablePointerToHeader { $0 } }

    /// A new number of `precision` bits, +0. The header is initialised inside `create` (a copy of a
    /// `__mpfr_struct` set up by `mpfr_custom_init_set` for the tail limbs: the struct holds no pointer to
    /// itself, so it may be moved), which saves the retain/release of a second accessor call.
    @inlinable
    static func make(precision: Int) -> MPFRBox {
        let limbBits = MemoryLayout<mp_limb_t>.size * 8      // GMP_NUMB_BITS (no nail bits on this platform)
        let limbs = (precision + limbBits - 1) / limbBits      // mpfr_custom_get_size(precision) / sizeof(mp_limb_t)
        return unsafeDowncast(MPFRBox.create(minimumCapacity: limbs) { buffer in
            var header = __mpfr_struct()
            buffer.withUnsafeMutablePointerToElements {
                mpfr_custom_init_set(&header, Int32(MPFR_ZERO_KIND.rawValue), 0, precision, $0)
            }
            return header
        }, to: MPFRBox.self)
    }
}

/// An MPFR number of `P.bits` bits, rounded to nearest after every operation: the reference scalar.
///
/// Value semantics by copy-on-write over `MPFRBox`. Value-returning operations allocate one box per
/// result; the in-place forms (`+=`, `-=`, `*=`, `/=`, `formFusedMultiplyAdd`, `BigFloat.add(_:_:into:)`)
/// reuse the destination's storage when it is uniquely referenced, so kernels (dot products, GEMM)
/// run allocation-free in their inner loop. Loops over arrays are fastest through the array kernels of
/// `BigFloat+Kernels.swift` (`add`, `multiply`, `fusedMultiplyAdd`, `axpy`, `dot`, `sum`), which make one
/// MPFR call per element and no reference counting.
///
/// MPFR has no subnormals and no signalling NaN; its exponent range is MPFR's default (about ±2^62),
/// so overflow and underflow do not occur in practice.
@frozen
public struct BigFloat<P: MPFRPrecision>: @unchecked Sendable {
    @usableFromInline var box: MPFRBox

    @inlinable static var precision: Int { P.bits }

    @inlinable
    init(uninitialized: Void) { box = MPFRBox.make(precision: P.bits) }

    @inlinable
    init(box: MPFRBox) { self.box = box }

    /// Gives this value its own storage (copy-on-write): a shared box is replaced by a fresh copy.
    @inlinable @inline(__always)
    mutating func makeUnique() {
        if _slowPath(!isKnownUniquelyReferenced(&box)) {
            let fresh = MPFRBox.make(precision: P.bits)
            box.withUnsafeMutablePointerToHeader { src in
                fresh.withUnsafeMutablePointerToHeader { dst in _ = mpfr_set(dst, src, MPFR_RNDN) }
            }
            box = fresh
        }
    }

    /// Calls `body` with a read pointer, keeping the storage alive for the duration of the call.
    @inlinable @inline(__always)
    func withPointer<R>(_ body: (UnsafeMutablePointer<__mpfr_struct>) -> R) -> R {
        box.withUnsafeMutablePointerToHeader(body)
    }

    /// Calls `body` with a write pointer to storage owned by this value alone (copy-on-write first).
    @inlinable @inline(__always)
    mutating func withUniquePointer<R>(_ body: (UnsafeMutablePointer<__mpfr_struct>) -> R) -> R {
        makeUnique()
        return box.withUnsafeMutablePointerToHeader(body)
    }

    /// A new value computed by `body(result, …)`.
    @inlinable @inline(__always)
    static func make(_ body: (UnsafeMutablePointer<__mpfr_struct>) -> Void) -> BigFloat {
        let box = MPFRBox.make(precision: P.bits)
        box.withUnsafeMutablePointerToHeader(body)
        return BigFloat(box: box)
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
        let ok = withPointer { p in text.withCString { mpfr_set_str(p, $0, 0, MPFR_RNDN) } }
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
    /// `r ← a + b` without allocating when `r` is uniquely referenced.
    ///
    /// Cost per call: when `a` and `b` are read from arrays, the caller retains and releases each
    /// (the C call is opaque to the optimiser, which must assume it could release them): two atomic
    /// pairs, more than a 256-bit `mpfr_add`. Loops over arrays should use the array kernels
    /// (`BigFloat+Kernels.swift`), which make one MPFR call per element and nothing else.
    @inlinable
    public static func add(_ a: BigFloat, _ b: BigFloat, into r: inout BigFloat) {
        r.withUniquePointer { pr in a.withPointer { pa in b.withPointer { pb in _ = mpfr_add(pr, pa, pb, MPFR_RNDN) } } }
    }

    /// `r ← a · b` without allocating when `r` is uniquely referenced.
    @inlinable
    public static func multiply(_ a: BigFloat, _ b: BigFloat, into r: inout BigFloat) {
        r.withUniquePointer { pr in a.withPointer { pa in b.withPointer { pb in _ = mpfr_mul(pr, pa, pb, MPFR_RNDN) } } }
    }

    /// `self ← a · b + self` with one rounding (mpfr_fma), in place.
    @inlinable
    public mutating func formFusedMultiplyAdd(_ a: BigFloat, _ b: BigFloat) {
        withUniquePointer { pr in a.withPointer { pa in b.withPointer { pb in _ = mpfr_fma(pr, pa, pb, pr, MPFR_RNDN) } } }
    }

    @inlinable
    mutating func apply(_ other: BigFloat, _ op: (UnsafeMutablePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, mpfr_rnd_t) -> Int32) {
        withUniquePointer { pr in other.withPointer { po in _ = op(pr, pr, po, MPFR_RNDN) } }
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
    /// The per-operation product on raw MPFR pointers: one scratch product and one running sum reused
    /// for every entry (the generic loop allocates two MPFR numbers per multiply-add), one allocation per
    /// result entry. Same roundings as `s = s + x * y`: `mpfr_mul` then `mpfr_add`, both to nearest at
    /// `P.bits`, starting from +0.
    public static func _perOperationProduct(m: Int, n: Int, k: Int, a: [BigFloat], aRow: Int, aK: Int,
                                            b: [BigFloat], bK: Int, bCol: Int) -> [BigFloat] {
        let s = MPFRBox.make(precision: P.bits), t = MPFRBox.make(precision: P.bits)
        let ap = a.map { $0.box.pointer }, bp = b.map { $0.box.pointer }
        var c = [BigFloat]()
        c.reserveCapacity(m * n)
        withExtendedLifetime((a, b, s, t)) {
            ap.withUnsafeBufferPointer { apb in
                bp.withUnsafeBufferPointer { bpb in
                    for i in 0..<m {
                        for j in 0..<n {
                            mpfr_set_zero(s.pointer, 1)
                            for kk in 0..<k {
                                _ = mpfr_mul(t.pointer, apb[i * aRow + kk * aK], bpb[kk * bK + j * bCol], MPFR_RNDN)
                                _ = mpfr_add(s.pointer, s.pointer, t.pointer, MPFR_RNDN)
                            }
                            c.append(BigFloat.make { _ = mpfr_set($0, s.pointer, MPFR_RNDN) })
                        }
                    }
                }
            }
        }
        return c
    }
}
