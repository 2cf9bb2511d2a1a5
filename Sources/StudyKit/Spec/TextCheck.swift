import Foundation

/// Rejects control characters in a study file before the TOML library sees it. The library hands
/// strings to Swift through C strings, so a NUL (`\u0000`, or a raw 0x00 byte) silently cut a title
/// short; other C0 controls have no business in a title or a label either (tab, LF and CR excepted).
enum TextCheck {
    static func controlCharacters(_ text: String, file: String) throws(StudyError) {
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let key = line.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            let field = key.isEmpty || key.contains("\"") ? "line \(n + 1)" : key
            for scalar in line.unicodeScalars where scalar.value < 0x20 && ![0x09, 0x0D].contains(scalar.value) || scalar.value == 0x7F {
                throw StudyError(file: file, field: field, value: "line \(n + 1): U+\(String(format: "%04X", scalar.value))",
                                 reason: "a control character in a study file (only tab and line breaks are allowed)")
            }
            // An escape that decodes to a C0 control (other than tab, LF, CR) inside a basic string.
            if let range = line.range(of: #"\\(u00[01][0-9A-Fa-f]|U0000[01][0-9A-Fa-f]|u007[Ff]|U0000007[Ff])"#, options: .regularExpression) {
                let code = UInt32(line[range].suffix(2), radix: 16) ?? 0
                if ![0x09, 0x0A, 0x0D].contains(code) {
                    throw StudyError(file: file, field: field, value: "line \(n + 1): \(line[range])",
                                     reason: "an escaped control character in a string (a NUL would cut the string short)")
                }
            }
        }
    }
}
