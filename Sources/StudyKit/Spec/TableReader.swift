/// Reads typed fields out of one table of a study file, remembering which keys were read so that
/// `finish()` can reject the rest: a misspelt key (`dampnig = 1e-3`) is an error, never ignored.
struct TableReader {
    let file: String
    let path: String
    let table: [String: ConfigValue]
    private(set) var consumed: Set<String> = []

    init(file: String, path: String, _ value: ConfigValue?) throws(StudyError) {
        self.file = file; self.path = path
        switch value {
        case .none: table = [:]
        case .table(let t)?: table = t
        case let other?: throw StudyError(file: file, field: path, value: other.description, reason: "expected a table, got \(other.typeName)")
        }
    }

    func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ value: ConfigValue, _ reason: String) -> StudyError {
        StudyError(file: file, field: field(key), value: value.description, reason: reason)
    }

    mutating func raw(_ key: String) -> ConfigValue? {
        consumed.insert(key)
        return table[key]
    }

    mutating func string(_ key: String, default d: String? = nil, allowed: [String]? = nil) throws(StudyError) -> String {
        guard let v = raw(key) else {
            if let d { return d }
            throw StudyError(file: file, field: field(key), value: "(missing)", reason: "required string")
        }
        guard case .string(let s) = v else { throw error(key, v, "expected a string, got \(v.typeName)") }
        if let allowed, !allowed.contains(s) { throw error(key, v, "must be one of \(allowed.joined(separator: ", "))") }
        return s
    }

    mutating func optionalString(_ key: String) throws(StudyError) -> String? {
        guard let v = raw(key) else { return nil }
        guard case .string(let s) = v else { throw error(key, v, "expected a string, got \(v.typeName)") }
        return s
    }

    mutating func int(_ key: String, default d: Int? = nil, range: ClosedRange<Int>) throws(StudyError) -> Int {
        guard let v = raw(key) else {
            if let d { return d }
            throw StudyError(file: file, field: field(key), value: "(missing)", reason: "required integer")
        }
        guard case .integer(let i) = v else { throw error(key, v, "expected an integer, got \(v.typeName)") }
        guard range.contains(i) else { throw error(key, v, "must be in \(range.lowerBound)…\(range.upperBound)") }
        return i
    }

    mutating func double(_ key: String, default d: Double? = nil, range: ClosedRange<Double>) throws(StudyError) -> Double {
        guard let v = raw(key) else {
            if let d { return d }
            throw StudyError(file: file, field: field(key), value: "(missing)", reason: "required number")
        }
        let x: Double
        switch v {
        case .double(let d): x = d
        case .integer(let i): x = Double(i)
        default: throw error(key, v, "expected a number, got \(v.typeName)")
        }
        guard x.isFinite, range.contains(x) else { throw error(key, v, "must be a finite number in \(range.lowerBound)…\(range.upperBound)") }
        return x
    }

    mutating func bool(_ key: String, default d: Bool) throws(StudyError) -> Bool {
        guard let v = raw(key) else { return d }
        guard case .bool(let b) = v else { throw error(key, v, "expected true or false, got \(v.typeName)") }
        return b
    }

    mutating func intArray(_ key: String, default d: [Int]? = nil, range: ClosedRange<Int>) throws(StudyError) -> [Int] {
        guard let v = raw(key) else {
            if let d { return d }
            throw StudyError(file: file, field: field(key), value: "(missing)", reason: "required array of integers")
        }
        let items: [ConfigValue]
        if case .array(let a) = v { items = a } else { items = [v] }
        guard !items.isEmpty else { throw error(key, v, "must not be empty") }
        var out = [Int]()
        for item in items {
            guard case .integer(let i) = item else { throw error(key, v, "expected integers, found \(item.typeName) \(item)") }
            guard range.contains(i) else { throw error(key, v, "\(i) is outside \(range.lowerBound)…\(range.upperBound)") }
            out.append(i)
        }
        return out
    }

    mutating func doubleArray(_ key: String, default d: [Double]? = nil, range: ClosedRange<Double>) throws(StudyError) -> [Double] {
        guard let v = raw(key) else {
            if let d { return d }
            throw StudyError(file: file, field: field(key), value: "(missing)", reason: "required array of numbers")
        }
        let items: [ConfigValue]
        if case .array(let a) = v { items = a } else { items = [v] }
        guard !items.isEmpty else { throw error(key, v, "must not be empty") }
        var out = [Double]()
        for item in items {
            let x: Double
            switch item {
            case .double(let d): x = d
            case .integer(let i): x = Double(i)
            default: throw error(key, v, "expected numbers, found \(item.typeName) \(item)")
            }
            guard x.isFinite, range.contains(x) else { throw error(key, v, "\(x) is outside \(range.lowerBound)…\(range.upperBound)") }
            out.append(x)
        }
        return out
    }

    /// A `[low, high]` pair with low < high, such as the accepted band of a fitted slope.
    mutating func band(_ key: String, range: ClosedRange<Double>) throws(StudyError) -> [Double] {
        let b = try doubleArray(key, range: range)
        guard b.count == 2, b[0] < b[1] else {
            throw StudyError(file: file, field: field(key), value: "\(b)", reason: "must be [low, high] with low < high")
        }
        return b
    }

    /// An array of strings; with `allowed`, an entry outside it is an error naming `key[i]`.
    mutating func stringArray(_ key: String, default d: [String]? = nil, allowed: [String]? = nil) throws(StudyError) -> [String] {
        guard let v = raw(key) else {
            if let d { return d }
            throw StudyError(file: file, field: field(key), value: "(missing)", reason: "required array of strings")
        }
        let items: [ConfigValue]
        if case .array(let a) = v { items = a } else { items = [v] }
        guard !items.isEmpty else { throw error(key, v, "must not be empty") }
        var out = [String]()
        for item in items {
            guard case .string(let s) = item else { throw error(key, v, "expected strings, found \(item.typeName) \(item)") }
            if let allowed, !allowed.contains(s) {
                throw StudyError(file: file, field: "\(field(key))[\(out.count)]", value: "\"\(s)\"", reason: "must be one of \(allowed.joined(separator: ", "))")
            }
            out.append(s)
        }
        return out
    }

    /// Rejects every key that was not read.
    func finish() throws(StudyError) {
        for key in table.keys.sorted() where !consumed.contains(key) {
            throw StudyError(file: file, field: field(key), value: table[key]!.description,
                             reason: "unknown field (known here: \(consumed.sorted().joined(separator: ", ")))")
        }
    }
}
