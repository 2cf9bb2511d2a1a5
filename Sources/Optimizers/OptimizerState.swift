import Scalars
import LinearAlgebra

/// The complete state of an optimizer between two steps, in a policy-free form: everything that
/// influences the next step (moments, statistics, factors, inverses and roots held between refreshes,
/// counters, reset flags, memory), so that the *same configuration* built for another precision
/// policy continues from exactly this point (`Optimizer.importState`).
///
/// ## Exactness
/// Every value is held as a `Double`. Double contains every value of `Float`, `Float16`, `BFloat16`
/// and every `SimulatedFloat` format (tf32, fp8, any declared precision ≤ 53 bits and range inside
/// binary64's), so **exporting from any of those policies is exact**, and importing into `Double` or
/// `BigFloat<P>` (P ≥ 53) reproduces every value exactly: a low-precision state moved into the MPFR
/// reference is the same state. Exporting *from* `BigFloat` rounds each value to nearest `Double`
/// (never needed: the reference only ever imports). Importing into a narrower type rounds once per
/// value under that type's rule (a stochastic-rounding type draws bits from the current context).
///
/// ## Layout
/// - `matrices`: named lists, in layer order, of matrices (vectors are `n×1`; an absent optional
///   matrix, e.g. an eigendecomposition not computed yet, is `0×0`);
/// - `integers`: counters, step numbers, sets of layer indices (sorted);
/// - `scalars`: Double values (learning laws, loss windows); `flags`: booleans.
/// - `layerShapes`: the weight shape (`d_o × d_i`) of every layer the state was allocated for; empty
///   for an optimizer that has not stepped yet (its lazily allocated state is empty too) and for
///   RLLC, whose memory is flat. Per-layer entries are checked against it on import.
/// - Nested optimizers (KFAC's momentum SGD, MKOR's inner SGD/Adam) use keys prefixed `momentum.`
///   and `inner.`.
public struct OptimizerState: Sendable, Hashable {
    /// A weight matrix's shape: `rows = d_o`, `columns = d_i` (augmented with the bias column).
    public struct Shape: Sendable, Hashable, CustomStringConvertible {
        public var rows: Int
        public var columns: Int
        public init(rows: Int, columns: Int) { self.rows = rows; self.columns = columns }
        public var description: String { "\(rows)×\(columns)" }
    }

    /// The exporting optimizer's `name` (`kfac-f`, `adamw`, …); an import into another method fails.
    public var optimizer: String
    public var layerShapes: [Shape]
    public var matrices: [String: [Matrix<Double>]] = [:]
    public var integers: [String: [Int]] = [:]
    public var scalars: [String: [Double]] = [:]
    public var flags: [String: [Bool]] = [:]

    public init(optimizer: String, layerShapes: [Shape]) {
        self.optimizer = optimizer; self.layerShapes = layerShapes
    }

    /// Every entry name, sorted (`matrices`, `integers`, `scalars` and `flags` share one namespace).
    public var entryNames: [String] {
        (Array(matrices.keys) + Array(integers.keys) + Array(scalars.keys) + Array(flags.keys)).sorted()
    }

    /// Equality of every value bit for bit (`==` follows IEEE: NaN ≠ NaN, −0 = +0).
    public func isBitwiseEqual(to other: OptimizerState) -> Bool {
        func same(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }
        guard optimizer == other.optimizer, layerShapes == other.layerShapes, integers == other.integers, flags == other.flags,
              Set(matrices.keys) == Set(other.matrices.keys), Set(scalars.keys) == Set(other.scalars.keys) else { return false }
        for (k, ms) in matrices {
            let os = other.matrices[k]!
            guard ms.count == os.count else { return false }
            for (a, b) in zip(ms, os) where a.rows != b.rows || a.columns != b.columns || !same(a.elements, b.elements) { return false }
        }
        return scalars.allSatisfy { same($0.value, other.scalars[$0.key]!) }
    }

    // MARK: writing (used by the exporters)

    @inlinable
    mutating func set<T: Scalar>(_ key: String, _ ms: [Matrix<T>]) { matrices[key] = ms.map { $0.converted(to: Double.self) } }
    @inlinable
    mutating func set(_ key: String, integers v: [Int]) { integers[key] = v }
    @inlinable
    mutating func set(_ key: String, scalars v: [Double]) { scalars[key] = v }
    @inlinable
    mutating func set(_ key: String, flags v: [Bool]) { flags[key] = v }

    /// Adds every entry of `inner` under `prefix` (e.g. `momentum.buffers`).
    @inlinable
    mutating func nest(_ inner: OptimizerState, prefix: String) {
        for (k, v) in inner.matrices { matrices[prefix + k] = v }
        for (k, v) in inner.integers { integers[prefix + k] = v }
        for (k, v) in inner.scalars { scalars[prefix + k] = v }
        for (k, v) in inner.flags { flags[prefix + k] = v }
    }
}

/// A state that cannot be imported: names the optimizer, the entry and what is wrong with it.
public struct OptimizerStateError: Error, CustomStringConvertible, Sendable, Equatable {
    public let optimizer: String
    public let entry: String
    public let reason: String
    public init(_ optimizer: String, entry: String, _ reason: String) {
        self.optimizer = optimizer; self.entry = entry; self.reason = reason
    }
    public var description: String { "\(optimizer) state: entry \"\(entry)\": \(reason)" }
}

/// Reads an `OptimizerState` entry by entry, checking presence, counts and shapes, and at the end
/// that no entry was left unread (an entry this configuration does not have is an error too).
@usableFromInline
struct StateReader {
    @usableFromInline let state: OptimizerState
    @usableFromInline let optimizer: String
    @usableFromInline private(set) var read: Set<String> = []

    /// Records that `key` was read (the setter of `read` stays private to the reader).
    @usableFromInline
    mutating func markRead(_ key: String) { read.insert(key) }

    /// Fails unless `state` was exported by an optimizer named `optimizer`.
    @inlinable
    init(_ state: OptimizerState, optimizer: String) throws(OptimizerStateError) {
        self.state = state; self.optimizer = optimizer
        guard state.optimizer == optimizer else {
            throw OptimizerStateError(optimizer, entry: "optimizer", "state exported by \"\(state.optimizer)\", not \"\(optimizer)\"")
        }
    }

    @inlinable var layerCount: Int { state.layerShapes.count }
    @inlinable
    func fail(_ entry: String, _ reason: String) -> OptimizerStateError { OptimizerStateError(optimizer, entry: entry, reason) }

    @inlinable
    mutating func matrices(_ key: String) throws(OptimizerStateError) -> [Matrix<Double>] {
        guard let v = state.matrices[key] else { throw fail(key, "missing") }
        markRead(key)
        return v
    }

    /// One matrix per layer, of shape `shape(layerShape)`; `absentAllowed` accepts `0×0` (an optional
    /// that is nil); `lazy` accepts an empty list (allocated at the first step of that optimizer).
    @inlinable
    mutating func layers<T: Scalar>(_ key: String, lazy: Bool = false, absentAllowed: Bool = false,
                                    _ shape: (OptimizerState.Shape) -> OptimizerState.Shape, as _: T.Type = T.self) throws(OptimizerStateError) -> [Matrix<T>] {
        let ms = try matrices(key)
        if lazy && ms.isEmpty { return [] }
        guard ms.count == layerCount else { throw fail(key, "\(ms.count) matrices for \(layerCount) layers") }
        for (l, m) in ms.enumerated() {
            let s = shape(state.layerShapes[l])
            if absentAllowed && m.rows == 0 && m.columns == 0 { continue }
            guard m.rows == s.rows, m.columns == s.columns else {
                throw fail(key, "layer \(l): expected \(s), got \(m.rows)×\(m.columns)")
            }
        }
        return ms.map { $0.converted(to: T.self) }
    }

    @inlinable
    mutating func integers(_ key: String, count: Int? = nil) throws(OptimizerStateError) -> [Int] {
        guard let v = state.integers[key] else { throw fail(key, "missing") }
        markRead(key)
        if let count, v.count != count { throw fail(key, "\(v.count) values, expected \(count)") }
        return v
    }

    @inlinable
    mutating func integer(_ key: String) throws(OptimizerStateError) -> Int { try integers(key, count: 1)[0] }

    /// A set of layer indices, each in `0..<layerCount`.
    @inlinable
    mutating func layerSet(_ key: String) throws(OptimizerStateError) -> Set<Int> {
        let v = try integers(key)
        if let bad = v.first(where: { !(0..<layerCount).contains($0) }) { throw fail(key, "layer index \(bad) outside 0..<\(layerCount)") }
        return Set(v)
    }

    @inlinable
    mutating func scalars(_ key: String, count: Int? = nil) throws(OptimizerStateError) -> [Double] {
        guard let v = state.scalars[key] else { throw fail(key, "missing") }
        markRead(key)
        if let count, v.count != count { throw fail(key, "\(v.count) values, expected \(count)") }
        return v
    }

    @inlinable
    mutating func flags(_ key: String, count: Int? = nil) throws(OptimizerStateError) -> [Bool] {
        guard let v = state.flags[key] else { throw fail(key, "missing") }
        markRead(key)
        if let count, v.count != count { throw fail(key, "\(v.count) values, expected \(count)") }
        return v
    }

    /// The entries under `prefix` as the state of a nested optimizer named `name` (same layer shapes).
    @inlinable
    mutating func nested(prefix: String, optimizer name: String) -> OptimizerState {
        var s = OptimizerState(optimizer: name, layerShapes: state.layerShapes)
        func strip<V>(_ d: [String: V], into target: inout [String: V]) {
            for (k, v) in d where k.hasPrefix(prefix) { target[String(k.dropFirst(prefix.count))] = v; markRead(k) }
        }
        strip(state.matrices, into: &s.matrices); strip(state.integers, into: &s.integers)
        strip(state.scalars, into: &s.scalars); strip(state.flags, into: &s.flags)
        return s
    }

    /// Fails on the first entry that was not read.
    @inlinable
    func finish() throws(OptimizerStateError) {
        if let extra = state.entryNames.first(where: { !read.contains($0) }) {
            throw fail(extra, "not part of this configuration's state")
        }
    }
}

extension OptimizerStateError {
    /// The error of a nested optimizer's import, as an error of the enclosing one (entry prefixed).
    @inlinable
    func nested(in optimizer: String, prefix: String) -> OptimizerStateError {
        OptimizerStateError(optimizer, entry: prefix + entry, reason)
    }
}

extension OptimizerState.Shape {
    @inlinable
    init<T: Scalar>(_ m: Matrix<T>) { self.init(rows: m.rows, columns: m.columns) }
    /// `d_o × d_o` (output-side factors).
    @inlinable var outputSquare: Self { .init(rows: rows, columns: rows) }
    /// `d_i × d_i` (input-side factors).
    @inlinable var inputSquare: Self { .init(rows: columns, columns: columns) }
    /// `d × 1` for a vector of length `d`, `0×0` when absent.
    @inlinable
    static func vector(_ d: Int) -> Self { .init(rows: d, columns: 1) }
}

extension Matrix {
    /// A column vector.
    @inlinable
    static func column(_ v: [T]) -> Matrix<T> { Matrix(rows: v.count, columns: 1) { i, _ in v[i] } }
    /// The `0×0` matrix that stands for an absent optional in an `OptimizerState`.
    @inlinable static var absent: Matrix<T> { Matrix(rows: 0, columns: 0) }
    @inlinable var isAbsent: Bool { rows == 0 && columns == 0 }
}
