import Foundation

/// The study files of a directory (`Studies/*.toml`), parsed and validated before anything runs.
public enum StudyCatalogue {
    /// The directory of the default catalogue: `Studies/` under the current directory or an ancestor.
    public static func defaultDirectory() -> String {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL
        for _ in 0..<12 {
            let c = dir.appendingPathComponent("Studies")
            if FileManager.default.fileExists(atPath: c.appendingPathComponent("data").path) { return c.path }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        return "Studies"
    }

    /// Whether a command-line study argument is a file path (`Studies/x.toml`, `../mine.toml`) rather
    /// than the name of a study of the catalogue directory.
    public static func isPath(_ argument: String) -> Bool { argument.hasSuffix(".toml") || argument.contains("/") }

    /// Loads every `*.toml` of `directory` (sorted by name), or only those in `only`: names of the
    /// directory's studies, or paths to study files anywhere (see `isPath`), in the order given.
    public static func load(directory: String, only: [String] = [], quick: Bool) throws(StudyError) -> [StudySpec] {
        if !only.isEmpty, only.contains(where: isPath) {
            var out = [StudySpec]()
            for o in only {
                if isPath(o) { out.append(try loadFile(o, quick: quick)) } else { out += try load(directory: directory, only: [o], quick: quick) }
            }
            return out
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".toml") }.sorted() } catch {
            throw StudyError(file: directory, field: "", value: directory, reason: "cannot list the study directory")
        }
        let stems = names.map { String($0.dropLast(5)) }
        for o in only where !stems.contains(o) {
            throw StudyError(file: directory, field: "study", value: "\"\(o)\"", reason: "no such study (known: \(stems.joined(separator: ", ")))")
        }
        var out = [StudySpec]()
        for (name, stem) in zip(names, stems) where only.isEmpty || only.contains(stem) {
            out.append(try loadFile("\(directory)/\(name)", quick: quick))
        }
        return out
    }

    public static func loadFile(_ path: String, quick: Bool) throws(StudyError) -> StudySpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StudyError(file: path, field: "", value: path, reason: "cannot read the study file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw StudyError(file: path, field: "", value: "\(data.count) bytes", reason: "not UTF-8 text")
        }
        let display = path.hasPrefix(FileManager.default.currentDirectoryPath + "/")
            ? String(path.dropFirst(FileManager.default.currentDirectoryPath.count + 1)) : path
        let spec = try StudyParser.parse(text, file: display, quick: quick)
        _ = try StudyPlan(spec)   // experiment parameters are validated while planning
        return spec
    }
}

/// `Studies verify`: recompute studies without the cache and compare every file with the manifest.
public enum StudyVerifier {
    public struct Mismatch: Sendable, CustomStringConvertible {
        public var study: String
        public var detail: String
        public var description: String { "\(study): \(detail)" }
    }

    /// What `verify` found: mismatching files, and the provenance fields in which this machine differs
    /// from the one that wrote the report (nil: the same), which alone never count as a mismatch.
    public struct Outcome: Sendable {
        public var mismatches: [Mismatch]
        public var otherMachine: String?
    }

    public static func verify(_ spec: StudySpec, reports: String, options: RunOptions) throws -> Outcome {
        let mismatches = try compare(spec, reports: reports, options: options)
        var other: String? = nil
        if let bytes = try? AtomicFile.read("\(reports)/\(spec.name)/provenance.json"), let stored = try? JSONParser.parse(bytes: bytes) {
            let d = Provenance.differences(from: stored)
            other = d.isEmpty ? nil : d.joined(separator: "; ")
        }
        return Outcome(mismatches: mismatches, otherMachine: other)
    }

    static func compare(_ spec: StudySpec, reports: String, options: RunOptions) throws -> [Mismatch] {
        let manifestPath = "\(reports)/\(spec.name)/manifest.json"
        let manifestBytes: [UInt8]
        do { manifestBytes = try AtomicFile.read(manifestPath) } catch {
            return [Mismatch(study: spec.name, detail: "no manifest at \(manifestPath): run the study first")]
        }
        let manifest = try JSONParser.parse(bytes: manifestBytes)
        guard let files = manifest["files"]?.objectValue else { return [Mismatch(study: spec.name, detail: "manifest has no file list")] }
        if manifest["tier"]?.stringValue != (options.quick ? "quick" : "full") {
            return [Mismatch(study: spec.name, detail: "manifest is of the \(manifest["tier"]?.stringValue ?? "?") tier; pass --quick accordingly")]
        }
        let scratch = NSTemporaryDirectory() + "mantissa-verify-\(getpid())-\(spec.name)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var o = options
        o.outputDirectory = scratch; o.useCache = false; o.shard = nil
        let plan = try StudyPlan(spec)
        let results = try StudyRunner(o).run(plan)
        _ = try ReportWriter.write(plan, results: results, quick: options.quick, to: scratch)
        var mismatches = [Mismatch]()
        for path in files.keys.sorted() {
            let expected = files[path]!.stringValue ?? ""
            let fresh = (try? sha256Hex(ofFileAt: "\(scratch)/\(spec.name)/\(path)")) ?? "(missing)"
            guard fresh != expected else { continue }
            var detail = "\(path): SHA-256 \(fresh) differs from the manifest's \(expected)"
            if path == "results.csv", let old = try? String(contentsOfFile: "\(reports)/\(spec.name)/results.csv", encoding: .utf8),
               let new = try? String(contentsOfFile: "\(scratch)/\(spec.name)/results.csv", encoding: .utf8) {
                let a = old.split(separator: "\n"), b = new.split(separator: "\n")
                if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                    detail += "; first differing row (cell, …, step, metric, layer, value): was `\(a[i])`, now `\(b[i])`"
                } else if a.count != b.count {
                    detail += "; row counts differ (\(a.count) vs \(b.count))"
                }
            }
            mismatches.append(Mismatch(study: spec.name, detail: detail))
        }
        return mismatches
    }
}

