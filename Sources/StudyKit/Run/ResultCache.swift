import Foundation
import Networks

/// Finished cells on disk, one file each, written atomically (temporary file + rename), so a run killed
/// at any moment leaves only complete cells behind and a rerun resumes where it stopped.
public struct ResultCache: Sendable {
    public let directory: String

    public init(root: String, study: String) {
        directory = root + "/.cache/" + study
    }

    /// Entries are filed under a hash of (build, key): results of another build are never found.
    func path(_ kind: String, _ key: String) -> String {
        "\(directory)/\(kind)/\(SHA256.hex(Data("\(StudyPlan.buildIdentity)|\(key)".utf8))).json"
    }

    /// Whether an entry exists, without reading it.
    func contains(kind: String, key: String) -> Bool { FileManager.default.fileExists(atPath: path(kind, key)) }

    func load<T: Decodable>(_ type: T.Type, kind: String, key: String) -> T? {
        guard let data = FileManager.default.contents(atPath: path(kind, key)) else { return nil }
        return try? StableJSON.decode(type, from: data)
    }

    func store<T: Encodable>(_ value: T, kind: String, key: String) throws {
        try AtomicFile.write(Array(try StableJSON.encode(value)), to: path(kind, key))
    }
}

