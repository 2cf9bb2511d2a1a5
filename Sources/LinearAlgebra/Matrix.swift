import Scalars

/// A dense matrix of any `Scalar`, stored row-major.
///
/// Value semantics (copy-on-write through the array). The storage is `@usableFromInline` so that
/// `@inlinable` kernels in other modules specialise to the concrete scalar type.
@frozen
public struct Matrix<T: Scalar>: Sendable, Hashable {
    public let rows: Int
    public let columns: Int
    /// Row-major elements: element `(i, j)` is at `i * columns + j`.
    @usableFromInline internal var storage: [T]

    /// Row-major elements, read-only (the count always equals `rows * columns`).
    @inlinable public var elements: [T] { storage }

    /// Mutable access to the row-major elements without copying; the count cannot change.
    @inlinable
    public mutating func withUnsafeMutableElements<R>(_ body: (inout UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer { try body(&$0) }
    }

    /// A `rows × columns` matrix filled with `value`.
    @inlinable
    public init(rows: Int, columns: Int, repeating value: T = .zero) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative, got \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.storage = [T](repeating: value, count: rows * columns)
    }

    /// A matrix from row-major elements; throws if the count does not match the shape.
    @inlinable
    public init(rows: Int, columns: Int, elements: [T]) throws(ShapeError) {
        guard rows >= 0, columns >= 0, elements.count == rows * columns else {
            throw ShapeError(operation: "Matrix(rows:columns:elements:)",
                             detail: "shape \(rows)×\(columns) needs \(max(0, rows * columns)) elements, got \(elements.count)")
        }
        self.rows = rows
        self.columns = columns
        self.storage = elements
    }

    /// A matrix whose element `(i, j)` is `generator(i, j)`, generated in row-major order.
    @inlinable
    public init(rows: Int, columns: Int, generator: (Int, Int) throws -> T) rethrows {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative, got \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        var e = [T]()
        e.reserveCapacity(rows * columns)
        for i in 0..<rows { for j in 0..<columns { e.append(try generator(i, j)) } }
        self.storage = e
    }

    /// The `n × n` identity.
    @inlinable
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.storage[i * n + i] = 1 }
        return m
    }

    @inlinable public var shape: (rows: Int, columns: Int) { (rows, columns) }
    @inlinable public var isSquare: Bool { rows == columns }
    @inlinable public var count: Int { storage.count }

    @inlinable
    public subscript(i: Int, j: Int) -> T {
        get { storage[i * columns + j] }
        set { storage[i * columns + j] = newValue }
    }

    /// The transpose.
    @inlinable
    public var transposed: Matrix {
        var t = Matrix(rows: columns, columns: rows)
        for i in 0..<rows { for j in 0..<columns { t.storage[j * rows + i] = storage[i * columns + j] } }
        return t
    }

    /// Elementwise map into another (or the same) scalar type, e.g. `m.map { BFloat16($0.doubleValue) }`.
    @inlinable
    public func map<U: Scalar>(_ transform: (T) throws -> U) rethrows -> Matrix<U> {
        // The shape is unchanged, so this initialiser cannot fail.
        try! Matrix<U>(rows: rows, columns: columns, elements: try storage.map(transform))
    }

    /// Converts every element to `U` through `Double` (exact for formats contained in binary64,
    /// one rounding into `U`).
    @inlinable
    public func converted<U: Scalar>(to _: U.Type = U.self) -> Matrix<U> {
        map { U($0.doubleValue) }
    }

    /// The elements as Doubles, row-major (exact for formats contained in binary64).
    @inlinable
    public var doubleElements: [Double] { storage.map { $0.doubleValue } }
}

/// A dimension mismatch: names the operation and both shapes.
public struct ShapeError: Error, CustomStringConvertible, Equatable, Sendable {
    public let operation: String
    public let detail: String
    public init(operation: String, detail: String) {
        self.operation = operation
        self.detail = detail
    }
    @inlinable
    public init<T, U>(operation: String, _ a: Matrix<T>, _ b: Matrix<U>) {
        self.init(operation: operation, detail: "left is \(a.rows)×\(a.columns), right is \(b.rows)×\(b.columns)")
    }
    public var description: String { "shape mismatch in \(operation): \(detail)" }
}

extension Matrix: CustomStringConvertible {
    public var description: String {
        var lines = ["Matrix<\(T.formatName)> \(rows)×\(columns)"]
        for i in 0..<min(rows, 8) {
            let row = (0..<min(columns, 8)).map { "\(self[i, $0])" }.joined(separator: " ")
            lines.append("  [" + row + (columns > 8 ? " …" : "") + "]")
        }
        if rows > 8 { lines.append("  …") }
        return lines.joined(separator: "\n")
    }
}
