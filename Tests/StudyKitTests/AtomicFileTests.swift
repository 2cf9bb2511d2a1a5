import Testing
import Foundation
import StudyKit

@Suite struct AtomicWrites {
    /// A fresh directory per test, removed afterwards.
    func withScratchDirectory(_ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("studykit-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    @Test func createsParentsReplacesContentAndLeavesNoTemporaryFiles() throws {
        try withScratchDirectory { dir in
            let path = dir + "/reports/adam-eps/summary.csv"
            try AtomicFile.write("first\n", to: path)
            #expect(try AtomicFile.read(path) == Array("first\n".utf8))
            try AtomicFile.write([0x61, 0x62, 0x63], to: path)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "abc")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/reports/adam-eps") == ["summary.csv"])
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o644)
        }
    }

    @Test func emptyAndLargeFiles() throws {
        try withScratchDirectory { dir in
            try AtomicFile.write([UInt8](), to: dir + "/empty")
            #expect(try AtomicFile.read(dir + "/empty").isEmpty)
            let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try AtomicFile.write(big, to: dir + "/big.bin")
            #expect(try AtomicFile.read(dir + "/big.bin") == big)
        }
    }

    /// FIPS 180-2 vector for "abc", read back from disk.
    @Test func sha256OfAFile() throws {
        try withScratchDirectory { dir in
            try AtomicFile.write("abc", to: dir + "/abc.txt")
            #expect(try sha256Hex(ofFileAt: dir + "/abc.txt")
                    == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        }
    }

    @Test func errorsNameThePathAndTheReason() throws {
        try withScratchDirectory { dir in
            try AtomicFile.write("x", to: dir + "/file")
            do {
                try AtomicFile.write("y", to: dir + "/file/inside.csv")
                Issue.record("wrote below a regular file")
            } catch let error as FileError {
                #expect(error.path == dir + "/file" && error.code == ENOTDIR)
                #expect(error.description.contains(dir + "/file") && error.description.contains("Not a directory"))
            }
            do {
                _ = try sha256Hex(ofFileAt: dir + "/absent")
                Issue.record("hashed a missing file")
            } catch let error as FileError {
                #expect(error.code == ENOENT && error.description.contains("No such file or directory"))
            }
            // Writing onto a directory fails at the rename and leaves no temporary file behind.
            try FileManager.default.createDirectory(atPath: dir + "/sub/target", withIntermediateDirectories: true)
            #expect(throws: FileError.self) { try AtomicFile.write("z", to: dir + "/sub/target") }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/sub") == ["target"])
        }
    }
}
