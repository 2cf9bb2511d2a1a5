import Foundation
import LinearAlgebra

/// The two real data sets shipped in `Studies/data/` (UCI, CC BY 4.0; see `Studies/data/README.md`).
public enum BundledData {
    public struct Entry: Sendable {
        public let name: String
        public let file: String
        public let sha256: String
        public let rows: Int
        public let features: Int
        public let classes: Int
        public let hasHeader: Bool
    }

    public static let digits = Entry(name: "digits", file: "digits.csv",
                                     sha256: "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8",
                                     rows: 1797, features: 64, classes: 10, hasHeader: false)
    public static let breastCancer = Entry(name: "breast_cancer", file: "breast_cancer.csv",
                                           sha256: "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
                                           rows: 569, features: 30, classes: 2, hasHeader: true)
    public static let all = [digits, breastCancer]

    /// The directory holding the data: `$MANTISSA_DATA_DIR`, else the first `Studies/data` found walking
    /// up from the current directory, then from the executable's directory.
    public static func directory() throws(DatasetError) -> String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["MANTISSA_DATA_DIR"] {
            guard fm.fileExists(atPath: env) else {
                throw DatasetError(source: "MANTISSA_DATA_DIR", line: nil, column: nil, reason: "directory \(env) does not exist")
            }
            return env
        }
        var starts = [fm.currentDirectoryPath]
        starts.append(URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent().path)
        for start in starts {
            var dir = URL(fileURLWithPath: start).standardizedFileURL
            for _ in 0..<12 {
                let candidate = dir.appendingPathComponent("Studies/data")
                if fm.fileExists(atPath: candidate.appendingPathComponent(digits.file).path) { return candidate.path }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        throw DatasetError(source: "Studies/data", line: nil, column: nil,
                           reason: "bundled data not found from \(fm.currentDirectoryPath); set MANTISSA_DATA_DIR")
    }

    /// Loads a bundled set by name (`digits`, `breast_cancer`), verifying its SHA-256 first.
    public static func load(_ name: String) throws(DatasetError) -> Dataset {
        guard let entry = all.first(where: { $0.name == name }) else {
            throw DatasetError(source: "dataset", line: nil, column: nil,
                               reason: "unknown data set \"\(name)\"; bundled: \(all.map(\.name).joined(separator: ", "))")
        }
        let path = try directory() + "/" + entry.file
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(source: path, line: nil, column: nil, reason: "cannot read file")
        }
        let digest = SHA256.hex(data)
        guard digest == entry.sha256 else {
            throw DatasetError(source: path, line: nil, column: nil, reason: "SHA-256 is \(digest), expected \(entry.sha256)")
        }
        return try CSVClassification.parse(String(decoding: data, as: UTF8.self), source: path, name: entry.name,
                                           features: entry.features, classes: entry.classes, header: entry.hasHeader,
                                           expectedRows: entry.rows)
    }
}

/// Parser for "features…, label" CSV files. Every problem is reported with file, line and column.
public enum CSVClassification {
    /// - Parameters:
    ///   - header: whether the first line is `rows,features,class names…` (validated against the body).
    ///   - expectedRows: when given, the row count must match.
    public static func parse(_ text: String, source: String, name: String, features: Int, classes: Int,
                             header: Bool, expectedRows: Int? = nil) throws(DatasetError) -> Dataset {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        if lines.last?.isEmpty == true { lines.removeLast() }
        var first = 0
        var declaredRows: Int?
        if header {
            guard let h = lines.first else { throw DatasetError(source: source, line: 1, column: nil, reason: "empty file, expected a header") }
            let fields = h.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 2, let r = Int(fields[0]), let f = Int(fields[1]) else {
                throw DatasetError(source: source, line: 1, column: 1, reason: "header must start with row and feature counts, got \"\(h)\"")
            }
            guard f == features else {
                throw DatasetError(source: source, line: 1, column: 2, reason: "header declares \(f) features, expected \(features)")
            }
            declaredRows = r
            first = 1
        }
        let body = lines[first...]
        if let rows = declaredRows ?? expectedRows, rows != body.count {
            throw DatasetError(source: source, line: nil, column: nil, reason: "expected \(rows) data rows, found \(body.count)")
        }
        var values = [Double]()
        values.reserveCapacity(body.count * features)
        var labels = [Int]()
        labels.reserveCapacity(body.count)
        for (offset, line) in body.enumerated() {
            let lineNumber = first + offset + 1
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == features + 1 else {
                throw DatasetError(source: source, line: lineNumber, column: nil,
                                   reason: "expected \(features + 1) columns (features then label), found \(fields.count)")
            }
            for (c, field) in fields.dropLast().enumerated() {
                guard let v = Double(field.trimmingCharacters(in: .whitespaces)) else {
                    throw DatasetError(source: source, line: lineNumber, column: c + 1, reason: "not a number: \"\(field)\"")
                }
                guard v.isFinite else {
                    throw DatasetError(source: source, line: lineNumber, column: c + 1, reason: "non-finite value \(field)")
                }
                values.append(v)
            }
            let labelField = fields[features].trimmingCharacters(in: .whitespaces)
            guard let label = Int(labelField), (0..<classes).contains(label) else {
                throw DatasetError(source: source, line: lineNumber, column: features + 1,
                                   reason: "label must be an integer in 0..<\(classes), got \"\(labelField)\"")
            }
            labels.append(label)
        }
        let matrix = try! Matrix(rows: labels.count, columns: features, elements: values)
        return Dataset(name: name, features: matrix, labels: labels, classCount: classes)
    }
}
