import Scalars

/// Dot products under an explicit `AccumulationModel`, in the fixed order `i = 0, 1, …, n−1`.
///
/// These are the reference semantics of every reduction in the library: `matmul` computes each entry
/// exactly as `dot` would on the corresponding row and column (except `.wide`, whose order is
/// unspecified so that BLAS may be used).
public enum Reduction {
    /// `Σ xᵢ yᵢ` for equal-length buffers. The caller checks lengths.
    ///
    /// Always inlined: the element accessors are closures, and only when the body is inlined into the
    /// caller do they become plain loads (otherwise every element costs two indirect calls, 6× slower
    /// than the same loop written for Float).
    @inlinable @inline(__always)
    public static func dot<T: Scalar>(
        _ n: Int, _ x: (Int) -> T, _ y: (Int) -> T, accumulation: AccumulationModel
    ) -> T {
        switch accumulation {
        case .perOperation:
            var s = T.zero
            for i in 0..<n { s = s + x(i) * y(i) }
            return s
        case .wide(let w):
            if T.significandPrecision >= (w == .float ? 24 : 53) {
                var s = T.zero
                for i in 0..<n { s = s + x(i) * y(i) }
                return s
            }
            switch w {
            case .double:
                var s = 0.0
                for i in 0..<n { s += x(i).doubleValue * y(i).doubleValue }
                return T(s)
            case .float:
                var s: Float = 0
                for i in 0..<n { s += Float(x(i).doubleValue) * Float(y(i).doubleValue) }
                return T(Double(s))
            }
        case .compensated:
            var s = T.zero, c = T.zero
            for i in 0..<n {
                let yk = x(i) * y(i) - c
                let t = s + yk
                c = (t - s) - yk
                s = t
            }
            return s
        case .blockFMA(let k, let accumulator):
            let block = max(1, k)
            var sT = T.zero
            var sF: Float = 0
            var i = 0
            while i < n {
                let end = min(n, i + block)
                var hi = 0.0, lo = 0.0
                while i < end {
                    let a = x(i).doubleValue, b = y(i).doubleValue
                    let p = a * b
                    let pe = (-p).addingProduct(a, b)   // exact product error (FMA)
                    let (s, e) = ExactArithmetic.twoSum(hi, p)
                    hi = s
                    lo += e + pe
                    i += 1
                }
                let blockSum = hi + lo
                switch accumulator {
                case .scalar: sT = sT + T(blockSum)
                case .float: sF = sF + Float(blockSum)
                }
            }
            return accumulator == .scalar ? sT : T(Double(sF))
        }
    }

    /// `Σ xᵢ yᵢ` of two arrays; throws when the lengths differ.
    @inlinable
    public static func dot<T: Scalar>(_ x: [T], _ y: [T], accumulation: AccumulationModel) throws(ShapeError) -> T {
        guard x.count == y.count else {
            throw ShapeError(operation: "dot", detail: "left has \(x.count) elements, right has \(y.count)")
        }
        return x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                dot(x.count, { xb[$0] }, { yb[$0] }, accumulation: accumulation)
            }
        }
    }

    /// `Σ xᵢ` under the model (products by one are exact, so this is the model's summation).
    @inlinable
    public static func sum<T: Scalar>(_ x: [T], accumulation: AccumulationModel) -> T {
        x.withUnsafeBufferPointer { xb in dot(x.count, { xb[$0] }, { _ in T(1) }, accumulation: accumulation) }
    }
}
