/// A study file that cannot run, with the place and the value that make it so.
///
/// Every message names the file, the field (a dotted path such as `optimizer[2].damping`) and the
/// offending value, so a researcher can fix the file without reading the runner's code.
public struct StudyError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let field: String
    public let value: String
    public let reason: String

    public init(file: String, field: String, value: String, reason: String) {
        self.file = file; self.field = field; self.value = value; self.reason = reason
    }

    public var description: String {
        field.isEmpty ? "\(file): \(reason) (\(value))" : "\(file): \(field) = \(value): \(reason)"
    }
}
