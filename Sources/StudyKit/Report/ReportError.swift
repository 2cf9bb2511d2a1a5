/// Errors in the data a caller hands to the report writers (as opposed to ``FileError``, a failed
/// system call, and ``JSONParseError``, a rejected JSON text).
public enum ReportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Row `row` (0-based, header not counted) of a table has `found` cells instead of `expected`.
    case rowWidth(table: String, row: Int, expected: Int, found: Int)
    /// A CSV text could not be read; `record` is the 0-based record where it failed.
    case malformedCSV(record: Int, reason: String)
    /// Two arrays that must pair up element by element have different lengths.
    case lengthMismatch(what: String, first: Int, second: Int)

    public var description: String {
        switch self {
        case let .rowWidth(table, row, expected, found):
            return "\(table) row \(row) has \(found) cells, the header has \(expected)"
        case let .malformedCSV(record, reason):
            return "malformed CSV at record \(record): \(reason)"
        case let .lengthMismatch(what, first, second):
            return "\(what): lengths \(first) and \(second) differ"
        }
    }
}
