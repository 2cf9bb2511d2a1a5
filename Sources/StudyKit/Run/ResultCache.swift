import Foundation
import Networks

/// Finished cells on disk, one file each, written atomically (temporary file + rename), so a run killed
/// at any moment leaves only complete cells behind and a rerun resumes where it stopped.
///
/// Each entry is bound to its cell: its first line holds the format, the SHA-256 of the cell key and
/// the SHA-256 of the JSON that follows. An entry edited by hand (still valid JSON), truncated, or copied
/// under another key fails the check, is reported on stderr and recomputed, so a corrupted entry can
/// never reach a report.
public struct ResultCache: Sendable {
    public let directory: String
    static let format = "mantissa-cache-v1"

    public init(root: String, study: String) {
        directory = root + "/.cache/" + study
    }

    /// Entries are filed under a hash of (build, key): results of another build are never found.
    func path(_ kind: String, _ key: String) -> String {
        "\(directory)/\(kind)/\(SHA256.hex(Data("\(StudyPlan.buildIdentity)|\(key)".utf8))).json"
    }

    /// Whether an entry exists, without reading it.
    func contains(kind: String, key: String) -> Bool { FileManager.default.fileExists(atPath: path(kind, key)) }

    /// The entry's value if it exists and passes its integrity check; nil (recompute) otherwise.
    func load<T: Decodable>(_ type: T.Type, kind: String, key: String) -> T? {
        let file = path(kind, key)
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        switch Self.unwrap(Array(data), key: key) {
        case .success(let payload):
            if let value = try? StableJSON.decode(type, from: Data(payload)) { return value }
            Self.warn(file, "does not decode as a \(T.self)")
        case .failure(let problem):
            Self.warn(file, problem.reason)
        }
        return nil
    }

    func store<T: Encodable>(_ value: T, kind: String, key: String) throws {
        try AtomicFile.write(Self.wrap(Array(try StableJSON.encode(value)), key: key), to: path(kind, key))
    }

    /// The stored bytes of `payload` for `key`: the check line, then the payload.
    public static func wrap(_ payload: [UInt8], key: String) -> [UInt8] {
        Array("\(format) key=\(SHA256.hex(Data(key.utf8))) sha256=\(SHA256.hex(Data(payload)))\n".utf8) + payload
    }

    public struct Problem: Error { public var reason: String }

    /// The payload of stored bytes, if their check line matches `key` and the payload's hash.
    public static func unwrap(_ bytes: [UInt8], key: String) -> Result<[UInt8], Problem> {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return .failure(Problem(reason: "has no integrity line (an older or foreign format)")) }
        let header = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        let payload = Array(bytes[(newline + 1)...])
        guard header.count == 3, header[0] == format else { return .failure(Problem(reason: "has no integrity line (an older or foreign format)")) }
        guard header[1] == "key=\(SHA256.hex(Data(key.utf8)))" else { return .failure(Problem(reason: "belongs to another cell key")) }
        guard header[2] == "sha256=\(SHA256.hex(Data(payload)))" else { return .failure(Problem(reason: "does not match its checksum (edited or corrupted)")) }
        return .success(payload)
    }

    static func warn(_ file: String, _ reason: String) {
        FileHandle.standardError.write(Data("warning: cache entry \(file) \(reason); recomputing the cell\n".utf8))
    }
}
