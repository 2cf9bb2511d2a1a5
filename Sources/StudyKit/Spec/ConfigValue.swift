import TOMLKit

/// A parsed study file as a plain value tree, independent of the TOML library.
///
/// Why a tree of our own: validation walks it with the field path in hand (for error messages), and
/// every consumed key is checked off so unknown keys are reported instead of silently ignored.
public indirect enum ConfigValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case integer(Int)
    case double(Double)
    case bool(Bool)
    case array([ConfigValue])
    case table([String: ConfigValue])

    public var description: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .integer(let i): "\(i)"
        case .double(let d): "\(d)"
        case .bool(let b): "\(b)"
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .table(let t): "{" + t.keys.sorted().map { "\($0) = \(t[$0]!)" }.joined(separator: ", ") + "}"
        }
    }

    /// The TOML type name used in error messages.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .double: "float"
        case .bool: "boolean"
        case .array: "array"
        case .table: "table"
        }
    }

    /// Parses TOML text; a syntax error names the file, line and column.
    public static func parseTOML(_ text: String, file: String) throws(StudyError) -> ConfigValue {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw StudyError(file: file, field: "", value: "line \(e.source.begin.line), column \(e.source.begin.column)",
                             reason: "TOML syntax error: \(e.description)")
        } catch {
            throw StudyError(file: file, field: "", value: "\(error)", reason: "TOML syntax error")
        }
        return try convert(table.tomlValue, file: file, path: "")
    }

    static func convert(_ v: TOMLValue, file: String, path: String) throws(StudyError) -> ConfigValue {
        switch v.type {
        case .string: return .string(v.string!)
        case .int: return .integer(v.int!)
        case .double: return .double(v.double!)
        case .bool: return .bool(v.bool!)
        case .array:
            var out = [ConfigValue]()
            for (i, e) in v.array!.enumerated() { out.append(try convert(e.tomlValue, file: file, path: "\(path)[\(i)]")) }
            return .array(out)
        case .table:
            var out = [String: ConfigValue]()
            let t = v.table!
            for key in t.keys {
                out[key] = try convert(t[key]!.tomlValue, file: file, path: path.isEmpty ? key : "\(path).\(key)")
            }
            return .table(out)
        default:
            throw StudyError(file: file, field: path, value: v.debugDescription, reason: "dates and times are not study values")
        }
    }
}
