import Scalars
import LinearAlgebra

/// Elementwise statements under the cell's `ElementwiseModel` (Docs/Optimizers.md §1.3 item 2), shared by
/// every optimizer so that the setting means the same everywhere.
///
/// * `per-op`: every primitive operation of the statement is rounded to the storage type `T`.
/// * `fused`: the statement is evaluated in the wider of Float and `T` and rounded once to `T`.
///   For a `T` contained in Float (fp16, bf16, the 8-bit and tf32 formats) that is PyTorch's
///   fp16/bf16 kernel: the operands are exact in Float, each operation is rounded to Float, and the
///   result is rounded once to `T`. For a `T` at least as precise as Float (fp32, fp64, MPFR) the
///   wider type is `T` itself, so `fused` is bit for bit `per-op`: nothing is ever narrowed (a Double
///   or MPFR statement is never evaluated in Float). A narrow simulated format whose exponent range
///   is not contained in Float's is evaluated in Double, which contains both (no catalogued format).
///
/// Each statement is written once, generic over the type it is evaluated in (`StatementShape`), so
/// the per-op and the fused evaluation perform the same operations in the same order. Operands are
/// in the statement's storage type `T`; an operand held in another role's type is converted to `T`
/// first, under either setting (as `convert` does between roles).
public enum Statement {
    /// Where a statement is evaluated.
    public enum Evaluation: Sendable, Hashable {
        /// In `T`, every operation rounded to `T` (per-op, and fused for `T` at least as precise as Float).
        case storage
        /// In Float, rounded once to `T`.
        case float
        /// In Double, rounded once to `T` (fused for a narrow format with a wider exponent range than Float).
        case double
    }

    /// The evaluation of a statement whose result is stored in `T`.
    @inlinable
    public static func evaluation<T: Scalar>(_ fused: Bool, _: T.Type) -> Evaluation {
        guard fused, T.significandPrecision < Float.significandBitCount + 1 else { return .storage }
        return contained(T.self, precision: 24, maximumExponent: 127, minimumNormalExponent: -126) ? .float : .double
    }

    /// Whether every finite value of `T` is a value of the binary format (p, emax, emin) with subnormals.
    @inlinable
    static func contained<T: Scalar>(_: T.Type, precision p: Int, maximumExponent emax: Int, minimumNormalExponent emin: Int) -> Bool {
        let smallestT = T.hasSubnormals ? T.minimumNormalExponent - T.significandPrecision + 1 : T.minimumNormalExponent
        return T.significandPrecision <= p && T.maximumExponent <= emax && smallestT >= emin - p + 1
    }

    /// Evaluates `shape` on `operands` as `evaluation(fused, T.self)` says.
    @inlinable
    public static func evaluate<S: StatementShape, T: Scalar>(_ fused: Bool, _ shape: S, _ operands: Operands<T>) -> T {
        switch evaluation(fused, T.self) {
        case .storage: return shape.evaluate(operands)
        case .float: return T(Double(shape.evaluate(operands.lifted(to: Float.self))))
        case .double: return T(shape.evaluate(operands.lifted(to: Double.self)))
        }
    }

    /// `a·x + b·y` (EMA, momentum). With `a = 1` the per-op product is exact, so this is also `x + b·y`.
    @inlinable
    public static func axpby<T: Scalar>(_ fused: Bool, _ a: T, _ x: T, _ b: T, _ y: T) -> T {
        evaluate(fused, Shapes.AXPBY(), Operands(a, x, b, y))
    }

    /// `x + b·y` (coupled weight decay, Nesterov direction).
    @inlinable
    public static func xpby<T: Scalar>(_ fused: Bool, _ x: T, _ b: T, _ y: T) -> T {
        evaluate(fused, Shapes.XPBY(), Operands(x, b, y))
    }

    /// `x − b·y` (weight update, factor step).
    @inlinable
    public static func xmby<T: Scalar>(_ fused: Bool, _ x: T, _ b: T, _ y: T) -> T {
        evaluate(fused, Shapes.XMBY(), Operands(x, b, y))
    }

    /// `a·x + y` (momentum buffer with unit input weight).
    @inlinable
    public static func axpy<T: Scalar>(_ fused: Bool, _ a: T, _ x: T, _ y: T) -> T {
        evaluate(fused, Shapes.AXPY(), Operands(a, x, y))
    }

    /// `x + c·(y − x)` (linear interpolation, PyTorch's first moment).
    @inlinable
    public static func lerp<T: Scalar>(_ fused: Bool, _ x: T, _ c: T, _ y: T) -> T {
        evaluate(fused, Shapes.Lerp(), Operands(x, c, y))
    }

    /// `a·x + b·(y·y)` (Adam's second moment).
    @inlinable
    public static func axpbySquare<T: Scalar>(_ fused: Bool, _ a: T, _ x: T, _ b: T, _ y: T) -> T {
        evaluate(fused, Shapes.AXPBYSquare(), Operands(a, x, b, y))
    }

    /// `√v / s + ε` (Adam's denominator).
    @inlinable
    public static func rootOverPlus<T: Scalar>(_ fused: Bool, _ v: T, _ s: T, _ eps: T) -> T {
        evaluate(fused, Shapes.RootOverPlus(), Operands(v, s, eps))
    }

    /// `a·x / d` (Adam's direction).
    @inlinable
    public static func productOver<T: Scalar>(_ fused: Bool, _ a: T, _ x: T, _ d: T) -> T {
        evaluate(fused, Shapes.ProductOver(), Operands(a, x, d))
    }

    /// `v / (a·b + c)` (KFAC-E's division in the eigenbasis).
    @inlinable
    public static func quotientOfAffine<T: Scalar>(_ fused: Bool, _ v: T, _ a: T, _ b: T, _ c: T) -> T {
        evaluate(fused, Shapes.QuotientOfAffine(), Operands(v, a, b, c))
    }

    /// `s·(a·x + b·y − δ)` (SINGD's `M_K` entry, `δ` the identity's entry).
    @inlinable
    public static func scaledCombinationMinus<T: Scalar>(_ fused: Bool, _ s: T, _ a: T, _ x: T, _ b: T, _ y: T, _ delta: T) -> T {
        evaluate(fused, Shapes.ScaledCombinationMinus(), Operands(s, a, x, b, y, delta))
    }

    /// `g / (√s + ε)` (AdaGrad graft).
    @inlinable
    public static func adagrad<T: Scalar>(_ fused: Bool, _ g: T, _ s: T, _ eps: T) -> T {
        evaluate(fused, Shapes.AdaGrad(), Operands(g, s, eps))
    }

    /// `a·x + b·y + c·z` (Jorge's `P = I − ¼Y + (5/32)YY` with `a = 1`).
    @inlinable
    public static func axpbypcz<T: Scalar>(_ fused: Bool, _ a: T, _ x: T, _ b: T, _ y: T, _ c: T, _ z: T) -> T {
        evaluate(fused, Shapes.AXPBYPCZ(), Operands(a, x, b, y, c, z))
    }

    /// `x − (a·b)/d` (MKOR's Sherman–Morrison entry `P_ij − (u_i w_j)/den`, K4).
    @inlinable
    public static func minusProductOver<T: Scalar>(_ fused: Bool, _ x: T, _ a: T, _ b: T, _ d: T) -> T {
        evaluate(fused, Shapes.MinusProductOver(), Operands(x, a, b, d))
    }

    /// `s·x − (c·(a·b))/d` (MKOR-EMA's scaled Sherman–Morrison entry `(1/γ)P_ij − (((1−γ)/γ²)(u_i w_j))/den`).
    @inlinable
    public static func scaledMinusScaledProductOver<T: Scalar>(_ fused: Bool, _ s: T, _ x: T, _ c: T, _ a: T, _ b: T, _ d: T) -> T {
        evaluate(fused, Shapes.ScaledMinusScaledProductOver(), Operands(s, x, c, a, b, d))
    }

    /// `Σ_i a_i·x_i` over the terms `i` with `a_i ≠ 0`, left to right; the first term is not added to
    /// zero (so an all-skipped sum is `+0`). RLLC's memory update, `k ≤ 5` terms.
    @inlinable
    public static func sumOfProducts<T: Scalar>(_ fused: Bool, _ count: Int, _ a: (Int) -> T, _ x: (Int) -> T) -> T {
        @inline(__always) func sum<C: Scalar>(_ a: (Int) -> C, _ x: (Int) -> C) -> C {
            var s: C? = nil
            for i in 0..<count {
                let ai = a(i)
                if ai == .zero { continue }
                let term = ai * x(i)
                s = s.map { $0 + term } ?? term
            }
            return s ?? .zero
        }
        switch evaluation(fused, T.self) {
        case .storage: return sum(a, x)
        case .float: return T(Double(sum({ Float(a($0).doubleValue) }, { Float(x($0).doubleValue) })))
        case .double: return T(sum({ a($0).doubleValue }, { x($0).doubleValue }))
        }
    }

    /// `‖X‖_F` in `T` that does not leave the format's range when `‖X‖_F` itself is representable: the
    /// plain `frobenius` whenever it is finite and non-zero (so results in the normal range are those of
    /// the plain norm, bit for bit); otherwise — the sum of squares overflowed (entries past
    /// √(largest finite): 256 in fp16) or underflowed to 0 although some entry is not 0 — `m·‖X/m‖_F`
    /// with `m = ‖X‖_max`. A NaN entry gives NaN, an infinite one +∞. The grafting norms of Shampoo and
    /// Jorge (§6.4 step 7, §7.4 step 4): a plain ‖D‖ = ∞ turned the grafted direction into 0 or NaN, a
    /// plain ‖D‖ = 0 into the raw gradient, with no event, where the specification has a finite D.
    @inlinable
    public static func rescaledFrobenius<T: Scalar>(_ m: Matrix<T>, accumulation: AccumulationModel) -> T {
        let plain = frobenius(m, accumulation: accumulation)
        if plain.isFinite && plain > 0 { return plain }
        var mx = T.zero
        for v in m.elements where !(v.magnitude <= mx) { mx = v.magnitude }     // NaN wins
        guard mx > 0 && mx.isFinite else { return plain }
        return mx * frobenius(m.map { $0 / mx }, accumulation: accumulation)
    }

    /// `‖X‖_F` in `T`: squares and sum under the accumulation model, then one square root in `T`
    /// (§1.3 item 4: scalars from reductions are held in `T`).
    @inlinable
    public static func frobenius<T: Scalar>(_ m: Matrix<T>, accumulation: AccumulationModel) -> T {
        let e = m.elements
        return (try! Reduction.dot(e, e, accumulation: accumulation)).squareRoot()
    }
}

/// Up to six operands of a statement (unused ones zero), lifted together into the evaluation type.
@frozen
public struct Operands<T: Scalar> {
    public var a: T, b: T, c: T, d: T, e: T, f: T

    @inlinable
    public init(_ a: T, _ b: T, _ c: T, _ d: T = .zero, _ e: T = .zero, _ f: T = .zero) {
        self.a = a; self.b = b; self.c = c; self.d = d; self.e = e; self.f = f
    }

    /// The operands in `C`, each rounded once (exact when `T` is contained in `C`).
    @inlinable
    public func lifted<C: Scalar>(to _: C.Type) -> Operands<C> {
        Operands<C>(C(a.doubleValue), C(b.doubleValue), C(c.doubleValue), C(d.doubleValue), C(e.doubleValue), C(f.doubleValue))
    }
}

/// One elementwise statement, written once for any evaluation type.
public protocol StatementShape {
    func evaluate<C: Scalar>(_ o: Operands<C>) -> C
}

/// The statement shapes of the optimizers (operands in the order of the `Statement` function).
public enum Shapes {
    @frozen public struct AXPBY: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a * o.b + o.c * o.d }
    }
    @frozen public struct XPBY: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a + o.b * o.c }
    }
    @frozen public struct XMBY: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a - o.b * o.c }
    }
    @frozen public struct AXPY: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a * o.b + o.c }
    }
    @frozen public struct Lerp: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a + o.b * (o.c - o.a) }
    }
    @frozen public struct AXPBYSquare: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a * o.b + o.c * (o.d * o.d) }
    }
    @frozen public struct RootOverPlus: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a.squareRoot() / o.b + o.c }
    }
    @frozen public struct ProductOver: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a * o.b / o.c }
    }
    @frozen public struct AdaGrad: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a / (o.b.squareRoot() + o.c) }
    }
    @frozen public struct QuotientOfAffine: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a / (o.b * o.c + o.d) }
    }
    @frozen public struct ScaledCombinationMinus: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a * (o.b * o.c + o.d * o.e - o.f) }
    }
    @frozen public struct MinusProductOver: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a - o.b * o.c / o.d }
    }
    @frozen public struct ScaledMinusScaledProductOver: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a * o.b - (o.c * (o.d * o.e)) / o.f }
    }
    @frozen public struct AXPBYPCZ: StatementShape {
        @inlinable public init() {}
        @inlinable public func evaluate<C: Scalar>(_ o: Operands<C>) -> C { o.a * o.b + o.c * o.d + o.e * o.f }
    }
}
