/// An invalid hyperparameter: names the field, the value and the rule it breaks. Thrown by the
/// initialisers that validate their configuration (MKOR, RLLC) — bad input is a programming or study
/// file error, never a numeric event.
public struct OptimizerConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public let optimizer: String
    public let field: String
    public let value: String
    public let reason: String
    public init(_ optimizer: String, field: String, value: String, reason: String) {
        self.optimizer = optimizer; self.field = field; self.value = value; self.reason = reason
    }
    public var description: String { "\(optimizer): \(field) = \(value): \(reason)" }
}
