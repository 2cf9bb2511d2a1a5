import Scalars

/// Elementwise arithmetic, rounded per operation in `T` (the `per-op` elementwise model of
/// Docs/Optimizers.md §1.3). Shapes must match exactly; mismatches throw with both shapes.
extension Matrix {
    @inlinable
    func zipped(_ other: Matrix, _ op: String, _ f: (T, T) -> T) throws(ShapeError) -> Matrix {
        guard rows == other.rows, columns == other.columns else { throw ShapeError(operation: op, self, other) }
        var r = self
        r.storage.withUnsafeMutableBufferPointer { rb in
            other.storage.withUnsafeBufferPointer { ob in
                for i in 0..<rb.count { rb[i] = f(rb[i], ob[i]) }
            }
        }
        return r
    }

    @inlinable public func adding(_ o: Matrix) throws(ShapeError) -> Matrix { try zipped(o, "add") { $0 + $1 } }
    @inlinable public func subtracting(_ o: Matrix) throws(ShapeError) -> Matrix { try zipped(o, "subtract") { $0 - $1 } }
    @inlinable public func hadamard(_ o: Matrix) throws(ShapeError) -> Matrix { try zipped(o, "hadamard") { $0 * $1 } }

    @inlinable
    public func scaled(by s: T) -> Matrix {
        var r = self
        r.storage.withUnsafeMutableBufferPointer { for i in 0..<$0.count { $0[i] = s * $0[i] } }
        return r
    }

    /// `self ← self + α·x` (each product and sum rounded in `T`).
    @inlinable
    public mutating func addScaled(_ x: Matrix, by alpha: T) throws(ShapeError) {
        guard rows == x.rows, columns == x.columns else { throw ShapeError(operation: "addScaled", self, x) }
        storage.withUnsafeMutableBufferPointer { sb in
            x.storage.withUnsafeBufferPointer { xb in
                for i in 0..<sb.count { sb[i] = sb[i] + alpha * xb[i] }
            }
        }
    }

    /// `(X + Xᵀ)/2`; throws for a non-square matrix.
    @inlinable
    public func symmetrized() throws(ShapeError) -> Matrix {
        guard isSquare else { throw ShapeError(operation: "sym", detail: "matrix is \(rows)×\(columns), not square") }
        var r = self
        let half = T(0.5)
        for i in 0..<rows { for j in (i + 1)..<max(i + 1, columns) {
            let v = (self[i, j] + self[j, i]) * half
            r[i, j] = v; r[j, i] = v
        } }
        return r
    }

    /// Adds `δ` to every diagonal entry.
    @inlinable
    public func addingToDiagonal(_ delta: T) -> Matrix {
        var r = self
        for i in 0..<Swift.min(rows, columns) { r[i, i] = r[i, i] + delta }
        return r
    }

    /// The diagonal matrix with the given entries.
    @inlinable
    public static func diagonal(_ d: [T]) -> Matrix {
        var r = Matrix(rows: d.count, columns: d.count)
        for i in 0..<d.count { r[i, i] = d[i] }
        return r
    }

    @inlinable public var diagonalElements: [T] { (0..<Swift.min(rows, columns)).map { self[$0, $0] } }

    /// Trace, summed in order in `T`.
    @inlinable
    public var trace: T { diagonalElements.reduce(T.zero, +) }

    /// Rows `r` as a new matrix.
    @inlinable
    public func rows(_ r: Range<Int>) -> Matrix {
        Matrix(rows: r.count, columns: columns) { i, j in self[r.lowerBound + i, j] }
    }

    /// Columns `c` as a new matrix.
    @inlinable
    public func columns(_ c: Range<Int>) -> Matrix {
        Matrix(rows: rows, columns: c.count) { i, j in self[i, c.lowerBound + j] }
    }

    /// Kronecker product `A ⊗ B` (for tests: `(A ⊗ G) vec(X) = vec(G X A)`).
    @inlinable
    public func kronecker(_ b: Matrix) -> Matrix {
        Matrix(rows: rows * b.rows, columns: columns * b.columns) { i, j in
            self[i / b.rows, j / b.columns] * b[i % b.rows, j % b.columns]
        }
    }

    /// Whether every element is finite.
    @inlinable
    public var isFinite: Bool { storage.allSatisfy { $0.isFinite } }
}

/// Norms computed in Double from the values `T` holds (diagnostics; not part of any rounded computation).
extension Matrix {
    @inlinable
    public var frobeniusNorm: Double {
        var s = 0.0
        for x in storage { let d = x.doubleValue; s += d * d }
        return s.squareRoot()
    }

    @inlinable
    public var maxNorm: Double { storage.reduce(0.0) { Swift.max($0, abs($1.doubleValue)) } }
}
