/// A JSON value, written in one canonical form so that equal values give equal bytes (and equal
/// SHA-256 in a manifest) on every machine and in every process.
///
/// Swift's `Dictionary` iteration order changes from process to process, and Foundation's
/// `JSONSerialization` formats numbers through its own rules; neither is acceptable for hashed
/// files. ``canonicalText`` fixes every choice:
/// - objects: keys sorted by their UTF-8 bytes, `"key": value`, one member per line;
/// - indentation: two spaces; empty containers as `{}` and `[]`; the document ends with `\n`;
/// - strings: `"` and `\` escaped, U+0000–U+001F as `\b \t \n \f \r` or `\u00XX` (lowercase hex),
///   everything else (including non-ASCII) written as raw UTF-8, `/` not escaped;
/// - ``integer(_:)`` in plain decimal; ``number(_:)`` as ``NumberFormat/roundTrip(_:)`` (always
///   with a `.` or an exponent, so it reads back as a `number`, not an `integer`);
/// - NaN and ±∞ (which JSON cannot spell) as the *strings* `"nan"`, `"inf"`, `"-inf"`: a diverged
///   value stays distinguishable from a missing one (`null`). They read back as ``string(_:)``;
///   ``doubleValue`` turns them into numbers again.
public enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case integer(Int)
    case bool(Bool)
    case null
}

extension JSONValue {
    /// The canonical, pretty-printed text (see the type's documentation), ending with a newline.
    public var canonicalText: String {
        var out = ""
        write(to: &out, indent: 0)
        out.append("\n")
        return out
    }

    /// Keys in canonical order: by UTF-8 bytes, independent of Unicode collation and locale.
    static func sortedKeys(_ object: [String: JSONValue]) -> [String] {
        object.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    func write(to out: inout String, indent: Int) {
        switch self {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .integer(let n): out.append(String(n))
        case .number(let x):
            if x.isFinite { out.append(NumberFormat.roundTrip(x)) }
            else { JSONValue.writeString(NumberFormat.roundTrip(x), to: &out) }
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let items):
            if items.isEmpty { out.append("[]"); return }
            out.append("[\n")
            for (i, item) in items.enumerated() {
                out.append(String(repeating: " ", count: indent + 2))
                item.write(to: &out, indent: indent + 2)
                out.append(i + 1 < items.count ? ",\n" : "\n")
            }
            out.append(String(repeating: " ", count: indent) + "]")
        case .object(let members):
            if members.isEmpty { out.append("{}"); return }
            out.append("{\n")
            let keys = JSONValue.sortedKeys(members)
            for (i, key) in keys.enumerated() {
                out.append(String(repeating: " ", count: indent + 2))
                JSONValue.writeString(key, to: &out)
                out.append(": ")
                members[key]!.write(to: &out, indent: indent + 2)
                out.append(i + 1 < keys.count ? ",\n" : "\n")
            }
            out.append(String(repeating: " ", count: indent) + "}")
        }
    }

    /// Writes `s` as a JSON string literal with the minimal escaping described above.
    static func writeString(_ s: String, to out: inout String) {
        out.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\u{08}": out.append("\\b")
            case "\u{09}": out.append("\\t")
            case "\u{0A}": out.append("\\n")
            case "\u{0C}": out.append("\\f")
            case "\u{0D}": out.append("\\r")
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out.append("\"")
    }
}

// MARK: - Accessors for readers (the `verify` command)

extension JSONValue {
    /// The member `key` of an object; `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }

    /// An ``integer(_:)``, or a ``number(_:)`` that is an exactly representable whole number.
    public var intValue: Int? {
        switch self {
        case .integer(let n): return n
        case .number(let x):
            guard x.isFinite, x == x.rounded(), abs(x) < 9.2e18 else { return nil }
            return Int(x)
        default: return nil
        }
    }

    /// A ``number(_:)``, an ``integer(_:)``, or one of the strings `"nan"`, `"inf"`, `"-inf"` that
    /// the writer uses for non-finite numbers.
    public var doubleValue: Double? {
        switch self {
        case .number(let x): return x
        case .integer(let n): return Double(n)
        case .string("nan"): return .nan
        case .string("inf"): return .infinity
        case .string("-inf"): return -.infinity
        default: return nil
        }
    }
}
