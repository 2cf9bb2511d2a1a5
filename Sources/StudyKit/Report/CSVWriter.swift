/// One cell of a tidy CSV table: text, a number, or nothing.
///
/// Numbers go through ``NumberFormat/roundTrip(_:)`` so a CSV keeps every bit of a `Double`
/// (`nan`, `inf`, `-inf` for the non-finite ones, which pandas, numpy and R read as such).
public enum CSVCell: Sendable, Equatable {
    case text(String)
    case number(Double)
    case integer(Int)
    /// An empty field (a missing value).
    case empty

    /// The field's text before quoting.
    public var text: String {
        switch self {
        case .text(let s): return s
        case .number(let x): return NumberFormat.roundTrip(x)
        case .integer(let n): return String(n)
        case .empty: return ""
        }
    }
}

extension CSVCell: ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
}

/// Tidy CSV: one header line, one record per observation.
///
/// Quoting follows RFC 4180: a field is enclosed in double quotes exactly when it contains a comma,
/// a double quote, CR or LF, and a double quote inside it is doubled. Records end with LF, not the
/// RFC's CRLF: the files live in git and are read by diff, pandas and R, which all take LF. The
/// last record ends with LF too.
public enum CSVWriter {
    /// The CSV text of `header` and `rows`; every row must have `header.count` cells, because a
    /// ragged row in tidy data is a bug in the caller, not something to pad silently.
    public static func render(header: [String], rows: [[CSVCell]]) throws(ReportError) -> String {
        var out = record(header)
        for (i, row) in rows.enumerated() {
            guard row.count == header.count else {
                throw .rowWidth(table: "CSV", row: i, expected: header.count, found: row.count)
            }
            out += record(row.map(\.text))
        }
        return out
    }

    /// One record (with its trailing LF).
    public static func record(_ fields: [String]) -> String {
        fields.map(quote).joined(separator: ",") + "\n"
    }

    /// `field` quoted if RFC 4180 requires it, otherwise unchanged.
    public static func quote(_ field: String) -> String {
        let needsQuotes = field.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
        guard needsQuotes else { return field }
        return "\"" + field.replacingAll("\"", with: "\"\"") + "\""
    }
}

/// Reads RFC 4180 CSV (LF or CRLF records) back into fields: for tests and for `verify`.
public enum CSVReader {
    /// The records of `text`, each a list of unquoted fields. A final line break is optional.
    public static func parse(_ text: String) throws(ReportError) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field: [Unicode.Scalar] = []
        var inQuotes = false
        var afterQuote = false   // just closed a quoted field: only `,` or a line break may follow
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func endField() { record.append(String(String.UnicodeScalarView(field))); field = [] }
        while i < scalars.count {
            let c = scalars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < scalars.count && scalars[i + 1] == "\"" { field.append("\""); i += 1 }
                    else { inQuotes = false; afterQuote = true }
                } else { field.append(c) }
            } else if c == "," {
                endField(); afterQuote = false
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < scalars.count && scalars[i + 1] == "\n" { i += 1 }
                endField(); records.append(record); record = []; afterQuote = false
            } else if afterQuote {
                throw .malformedCSV(record: records.count, reason: "text after a closing quote")
            } else if c == "\"" {
                guard field.isEmpty else { throw .malformedCSV(record: records.count, reason: "quote inside an unquoted field") }
                inQuotes = true
            } else { field.append(c) }
            i += 1
        }
        if inQuotes { throw .malformedCSV(record: records.count, reason: "unterminated quoted field") }
        if !field.isEmpty || !record.isEmpty || afterQuote { endField(); records.append(record) }
        return records
    }
}

extension String {
    /// Literal (non-regex, locale-free) replacement, so the module needs no Foundation.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        out += rest
        return out
    }
}
