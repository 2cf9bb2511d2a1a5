import Foundation
import Testing

/// The `Studies` executable as a user meets it: what it prints for bad input and for nothing to do.
/// `swift test` builds every product, so the executable sits next to the test bundle.
@Suite struct CommandLine_ {
    static var executable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("Studies").path
    }

    /// Runs `Studies` with `arguments` in `directory`; returns (exit code, stdout, stderr).
    func studies(_ arguments: [String], in directory: String) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.executable)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func theExecutableIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.executable), "\(Self.executable)")
    }

    /// Outside the project, with no files, `check` says it found nothing to check and fails.
    @Test func checkWithNothingToCheckSaysSo() throws {
        let dir = temporaryDirectory("cli-empty")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (code, out, _) = try studies(["check"], in: dir)
        #expect(code == 1)
        #expect(out.contains("no study files to check"), "\(out)")
    }

    /// A study error is reported as file, field and value, without the usage text.
    @Test func aStudyErrorHasNoUsageFooter() throws {
        let dir = temporaryDirectory("cli-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tinyStudy.replacingOccurrences(of: "steps = 6", with: "steps = 0").write(toFile: "\(dir)/bad.toml", atomically: true, encoding: .utf8)
        let (code, out, err) = try studies(["run", "\(dir)/bad.toml", "--out", dir], in: dir)
        #expect(code != 0)
        #expect((out + err).contains("training.steps = 0"), "\(out)\(err)")
        #expect(!(out + err).contains("Usage:"), "\(out)\(err)")
    }

    /// `check` names what it checked, by path, with a count.
    @Test func checkByPathCountsWhatItChecked() throws {
        let dir = temporaryDirectory("cli-good")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tinyStudy.write(toFile: "\(dir)/good.toml", atomically: true, encoding: .utf8)
        let (code, out, _) = try studies(["check", "\(dir)/good.toml"], in: dir)
        #expect(code == 0)
        #expect(out.contains("checked 1 study file: 1 ok, 0 with errors"), "\(out)")
    }
}
