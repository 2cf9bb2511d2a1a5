import CMPFR

/// Misuse of a `BigFloat` array kernel.
public enum BigFloatKernelError: Error, Equatable, Sendable, CustomStringConvertible {
    case countMismatch(operation: String, counts: [Int])

    public var description: String {
        switch self {
        case let .countMismatch(operation, counts):
            "\(operation): operands have different lengths \(counts)"
        }
    }
}

/// Array kernels on `[BigFloat]`: one MPFR call per element and nothing else.
///
/// Each kernel holds its arrays' buffers for the whole call (`withUnsafe(Mutable)BufferPointer`, which
/// pins them) and builds, per element, stack `mpfr_t` views over the elements' inline limbs (`_view`):
/// no element is copied out of its array, and MPFR writes an output element's limbs in place. Since a
/// `BigFloat` owns no heap object, nothing is retained, released or checked for uniqueness; an output
/// array is a different buffer from the inputs (the `inout` access makes it unique).
///
/// Semantics are exactly those of the scalar operations in the same order (every operation rounded
/// to nearest at `P.bits`), so a kernel and the equivalent loop of `BigFloat` operations give identical
/// values.
extension BigFloat {
    /// Calls `body(r, n)` with the storage of `r`, `n = r.count > 0`, after checking that every array of
    /// `counts` has `n` elements (nothing to do when `r` is empty).
    @inlinable @inline(__always)
    static func _withOutput(_ r: inout [BigFloat], operation: String, counts: [Int],
                            _ body: (UnsafeMutablePointer<BigFloat>, Int) -> Void) throws(BigFloatKernelError) {
        guard counts.allSatisfy({ $0 == r.count }) else {
            throw .countMismatch(operation: operation, counts: counts + [r.count])
        }
        r.withUnsafeMutableBufferPointer { rb in
            guard let base = rb.baseAddress else { return }
            body(base, rb.count)
        }
    }

    /// `r[i] ← op(x[i], y[i])` for every `i`, with an MPFR binary operation rounded to nearest.
    @inlinable @inline(__always)
    static func _elementwise(_ x: [BigFloat], _ y: [BigFloat], into r: inout [BigFloat], operation: String,
                             _ op: (mpfr_ptr, mpfr_srcptr, mpfr_srcptr, mpfr_rnd_t) -> Int32) throws(BigFloatKernelError) {
        try _withOutput(&r, operation: operation, counts: [x.count, y.count]) { rp, n in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    for i in 0..<n {
                        var vr = _view(rp + i), vx = _view(xp + i), vy = _view(yp + i)
                        _ = op(&vr, &vx, &vy, MPFR_RNDN)
                        _store(vr, rp + i)
                    }
                }
            }
        }
    }

    /// `r[i] ← x[i] + y[i]` for every `i`.
    @inlinable
    public static func add(_ x: [BigFloat], _ y: [BigFloat], into r: inout [BigFloat]) throws(BigFloatKernelError) {
        try _elementwise(x, y, into: &r, operation: "BigFloat.add", mpfr_add)
    }

    /// `r[i] ← x[i] · y[i]` for every `i`.
    @inlinable
    public static func multiply(_ x: [BigFloat], _ y: [BigFloat], into r: inout [BigFloat]) throws(BigFloatKernelError) {
        try _elementwise(x, y, into: &r, operation: "BigFloat.multiply", mpfr_mul)
    }

    /// `r[i] ← x[i] · y[i] + r[i]` with one rounding (`mpfr_fma`), for every `i`: the array form of
    /// `formFusedMultiplyAdd`.
    @inlinable
    public static func fusedMultiplyAdd(_ x: [BigFloat], _ y: [BigFloat], into r: inout [BigFloat]) throws(BigFloatKernelError) {
        try _withOutput(&r, operation: "BigFloat.fusedMultiplyAdd", counts: [x.count, y.count]) { rp, n in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    for i in 0..<n {
                        var vr = _view(rp + i), vx = _view(xp + i), vy = _view(yp + i)
                        withUnsafeMutablePointer(to: &vr) { pr in _ = mpfr_fma(pr, &vx, &vy, pr, MPFR_RNDN) }
                        _store(vr, rp + i)
                    }
                }
            }
        }
    }

    /// `y[i] ← y[i] + a · x[i]` for every `i`, the product and the sum each rounded (the same values as
    /// `y[i] = y[i] + a * x[i]`), through one scratch product.
    @inlinable
    public static func axpy(_ a: BigFloat, _ x: [BigFloat], _ y: inout [BigFloat]) throws(BigFloatKernelError) {
        var t = BigFloat(uninitialized: ())
        try _withOutput(&y, operation: "BigFloat.axpy", counts: [x.count]) { yp, n in
            x.withUnsafeBufferPointer { xb in
                guard let xp = xb.baseAddress else { return }
                a.withPointer { pa in
                    t.withMutablePointer { pt in
                        for i in 0..<n {
                            var vy = _view(yp + i), vx = _view(xp + i)
                            _ = mpfr_mul(pt, pa, &vx, MPFR_RNDN)
                            withUnsafeMutablePointer(to: &vy) { py in _ = mpfr_add(py, py, pt, MPFR_RNDN) }
                            _store(vy, yp + i)
                        }
                    }
                }
            }
        }
    }

    /// `s ← +0; s ← s + x[i] · y[i]` for `i = 0…n−1`, every product and sum rounded: the per-operation
    /// dot product (the same value as that loop of `BigFloat` operations), with one scratch product.
    @inlinable
    public static func dot(_ x: [BigFloat], _ y: [BigFloat]) throws(BigFloatKernelError) -> BigFloat {
        guard x.count == y.count else { throw .countMismatch(operation: "BigFloat.dot", counts: [x.count, y.count]) }
        var t = BigFloat(uninitialized: ())
        return BigFloat.make { ps in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    t.withMutablePointer { pt in
                        for i in 0..<xb.count {
                            var vx = _view(xp + i), vy = _view(yp + i)
                            _ = mpfr_mul(pt, &vx, &vy, MPFR_RNDN)
                            _ = mpfr_add(ps, ps, pt, MPFR_RNDN)
                        }
                    }
                }
            }
        }
    }

    /// `s ← +0; s ← s + x[i]` for `i = 0…n−1`, every sum rounded (recursive summation in index order).
    @inlinable
    public static func sum(_ x: [BigFloat]) -> BigFloat {
        BigFloat.make { ps in
            x.withUnsafeBufferPointer { xb in
                guard let xp = xb.baseAddress else { return }
                for i in 0..<xb.count {
                    var vx = _view(xp + i)
                    _ = mpfr_add(ps, ps, &vx, MPFR_RNDN)
                }
            }
        }
    }
}
