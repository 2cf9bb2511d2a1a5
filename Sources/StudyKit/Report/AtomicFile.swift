import Glibc   // the project targets Linux (see README); POSIX calls are spelled as Glibc's
import Networks

/// Whole-file writes that a reader (or a crash) never sees half done.
///
/// A report is regenerated in place; a study interrupted mid-write must leave either the old file
/// or the new one, never a truncated mixture whose hash no longer matches anything. So
/// ``write(_:to:)`` writes a uniquely named temporary file in the *same directory* (a `rename(2)`
/// is atomic only within one file system), `fsync`s it, renames it over the target, then `fsync`s
/// the directory so the rename itself survives a power loss. On any failure the temporary file is
/// removed.
public enum AtomicFile {
    /// Atomically replaces (or creates) the file at `path` with `bytes`, creating missing parent
    /// directories (mode 0755). The file gets mode 0644.
    public static func write(_ bytes: [UInt8], to path: String) throws(FileError) {
        let directory = parentDirectory(of: path)
        try createDirectories(directory)
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        guard !name.isEmpty else { throw FileError(path: path, operation: "write", code: EISDIR) }
        // mkstemp picks the unique suffix: no counter, no clock, no shared state between writers.
        var template = Array((directory + "/." + name + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileError(path: path, operation: "create temporary file for", code: errno) }
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var ok = false
        defer { if !ok { unlink(temporary) } }
        do throws(FileError) {
            guard fchmod(fd, 0o644) == 0 else { throw FileError(path: temporary, operation: "chmod", code: errno) }
            try writeAll(fd, bytes, path: temporary)
            guard fsync(fd) == 0 else { throw FileError(path: temporary, operation: "fsync", code: errno) }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw FileError(path: temporary, operation: "close", code: errno) }
        guard rename(temporary, path) == 0 else { throw FileError(path: path, operation: "rename onto", code: errno) }
        ok = true
        syncDirectory(directory)
    }

    /// Atomically writes `text` as UTF-8 (no byte-order mark).
    public static func write(_ text: String, to path: String) throws(FileError) {
        try write(Array(text.utf8), to: path)
    }

    /// The whole content of the file at `path`.
    public static func read(_ path: String) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "read", code: errno)
            }
            if n == 0 { return result }
            result.append(contentsOf: buffer[0..<n])
        }
    }

    /// Creates `directory` and its missing ancestors (like `mkdir -p`); existing ones are fine.
    public static func createDirectories(_ directory: String) throws(FileError) {
        if directory.isEmpty || directory == "." || directory == "/" { return }
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 {
                let code = errno
                var info = stat()
                guard code == EEXIST, stat(prefix, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw FileError(path: prefix, operation: "create directory", code: code == EEXIST ? ENOTDIR : code)
                }
            }
        }
    }

    /// The directory part of `path` (`"."` for a bare file name).
    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let head = String(path[..<slash])
        return head.isEmpty ? "/" : head
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "write", code: errno)
            }
            offset += n
        }
    }

    /// Best effort: some file systems refuse `fsync` on a directory; the rename has happened anyway.
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }
}

/// The SHA-256 of the file at `path`, as 64 lowercase hex digits (the manifest's format).
public func sha256Hex(ofFileAt path: String) throws(FileError) -> String {
    SHA256.hex(try AtomicFile.read(path))
}

/// A failed file-system call: which operation, on which path, and the system's reason.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let operation: String
    /// The `errno` value.
    public let code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path; self.operation = operation; self.code = code
    }

    /// e.g. `cannot rename onto reports/x/a.csv: Permission denied (errno 13)`.
    public var description: String {
        "cannot \(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
    }
}
