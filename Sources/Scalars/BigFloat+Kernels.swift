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
/// The per-element forms (`BigFloat.add(_:_:into:)`, `+=`) cost the caller a retain/release pair per
/// operand read from an array, because the optimiser must assume an opaque C call could release it
/// (measured: 2–3× a 256-bit `mpfr_add`). These kernels instead hold each array for the whole call and
/// read the elements' storage without retaining it (`_pointer(_:_:)`): every box of an input array is
/// kept alive by that array, which the kernel never mutates (an output is a different array buffer: the
/// `inout` access makes it unique), and each output element is made unique (copy-on-write) right before
/// its storage is written and is not replaced afterwards.
///
/// Semantics are exactly those of the scalar operations in the same order (every operation rounded
/// to nearest at `P.bits`), so a kernel and the equivalent loop of `BigFloat` operations give identical
/// values; inputs and outputs may share elements (shared boxes are copied before a write).
extension BigFloat {
    /// The `mpfr_t` of `base[i]`, read without retaining its box. Valid while the storage holding
    /// `base[i]` is alive and that element is not replaced.
    @inlinable @inline(__always)
    static func _pointer(_ base: UnsafePointer<BigFloat>, _ i: Int) -> UnsafeMutablePointer<__mpfr_struct> {
        // BigFloat is a @frozen struct whose only stored property is the box reference, so its memory is
        // layout-compatible with Unmanaged<MPFRBox> (one unowned(unsafe) reference): a trivial load.
        UnsafeRawPointer(base + i).load(as: Unmanaged<MPFRBox>.self)._withUnsafeGuaranteedRef { $0.pointer }
    }

    /// `base[i]` made unique (copy-on-write), then its `mpfr_t` as `_pointer`. Done element by element
    /// inside the kernel loop: a separate pass over the output first was measured 10% slower.
    @inlinable @inline(__always)
    static func _uniquePointer(_ base: UnsafeMutablePointer<BigFloat>, _ i: Int) -> UnsafeMutablePointer<__mpfr_struct> {
        base[i].makeUnique()
        return _pointer(base, i)
    }

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

    /// `r[i] ← x[i] + y[i]` for every `i`.
    @inlinable
    public static func add(_ x: [BigFloat], _ y: [BigFloat], into r: inout [BigFloat]) throws(BigFloatKernelError) {
        try _withOutput(&r, operation: "BigFloat.add", counts: [x.count, y.count]) { rp, n in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    for i in 0..<n { _ = mpfr_add(_uniquePointer(rp, i), _pointer(xp, i), _pointer(yp, i), MPFR_RNDN) }
                }
            }
        }
    }

    /// `r[i] ← x[i] · y[i]` for every `i`.
    @inlinable
    public static func multiply(_ x: [BigFloat], _ y: [BigFloat], into r: inout [BigFloat]) throws(BigFloatKernelError) {
        try _withOutput(&r, operation: "BigFloat.multiply", counts: [x.count, y.count]) { rp, n in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    for i in 0..<n { _ = mpfr_mul(_uniquePointer(rp, i), _pointer(xp, i), _pointer(yp, i), MPFR_RNDN) }
                }
            }
        }
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
                        let pr = _uniquePointer(rp, i)
                        _ = mpfr_fma(pr, _pointer(xp, i), _pointer(yp, i), pr, MPFR_RNDN)
                    }
                }
            }
        }
    }

    /// `y[i] ← y[i] + a · x[i]` for every `i`, the product and the sum each rounded (the same values as
    /// `y[i] = y[i] + a * x[i]`), through one scratch product.
    @inlinable
    public static func axpy(_ a: BigFloat, _ x: [BigFloat], _ y: inout [BigFloat]) throws(BigFloatKernelError) {
        let t = MPFRBox.make(precision: P.bits)
        try _withOutput(&y, operation: "BigFloat.axpy", counts: [x.count]) { yp, n in
            x.withUnsafeBufferPointer { xb in
                guard let xp = xb.baseAddress else { return }
                a.withPointer { pa in
                    t.withUnsafeMutablePointerToHeader { pt in
                        for i in 0..<n {
                            let py = _uniquePointer(yp, i)
                            _ = mpfr_mul(pt, pa, _pointer(xp, i), MPFR_RNDN)
                            _ = mpfr_add(py, py, pt, MPFR_RNDN)
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
        let t = MPFRBox.make(precision: P.bits)
        return BigFloat.make { ps in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    t.withUnsafeMutablePointerToHeader { pt in
                        for i in 0..<xb.count {
                            _ = mpfr_mul(pt, _pointer(xp, i), _pointer(yp, i), MPFR_RNDN)
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
                for i in 0..<xb.count { _ = mpfr_add(ps, ps, _pointer(xp, i), MPFR_RNDN) }
            }
        }
    }
}
