import Optimizers

/// One settable hyperparameter of an optimizer, under its study-file key.
public struct Hyperparameter<H>: Sendable {
    public enum Kind: Sendable, Equatable {
        case number(ClosedRange<Double>)
        case integer(ClosedRange<Int>)
        case flag
        case choice([String])
    }
    public let key: String
    public let kind: Kind
    let set: @Sendable (inout H, HyperparameterValue) -> Void

    public static func number(_ key: String, _ path: WritableKeyPath<H, Double> & Sendable, _ range: ClosedRange<Double>) -> Self {
        Self(key: key, kind: .number(range)) { h, v in if case .number(let x) = v { h[keyPath: path] = x } }
    }
    /// A number where 0 means "off" (stored as nil).
    public static func optionalNumber(_ key: String, _ path: WritableKeyPath<H, Double?> & Sendable, _ range: ClosedRange<Double>) -> Self {
        Self(key: key, kind: .number(range)) { h, v in if case .number(let x) = v { h[keyPath: path] = x == 0 ? nil : x } }
    }
    public static func integer(_ key: String, _ path: WritableKeyPath<H, Int> & Sendable, _ range: ClosedRange<Int>) -> Self {
        Self(key: key, kind: .integer(range)) { h, v in if case .number(let x) = v { h[keyPath: path] = Int(x) } }
    }
    public static func flag(_ key: String, _ path: WritableKeyPath<H, Bool> & Sendable) -> Self {
        Self(key: key, kind: .flag) { h, v in if case .flag(let b) = v { h[keyPath: path] = b } }
    }
    public static func choice<E: RawRepresentable & CaseIterable & SendableMetatype>(_ key: String, _ path: WritableKeyPath<H, E> & Sendable, _: E.Type) -> Self where E.RawValue == String {
        Self(key: key, kind: .choice(E.allCases.map(\.rawValue))) { h, v in
            if case .text(let s) = v, let e = E(rawValue: s) { h[keyPath: path] = e }
        }
    }
    public static func custom(_ key: String, _ kind: Kind, _ set: @escaping @Sendable (inout H, HyperparameterValue) -> Void) -> Self {
        Self(key: key, kind: kind, set: set)
    }
}

/// A study-file view of one hyperparameter, without the optimizer's type.
public struct ParameterDescriptor: Sendable {
    public let key: String
    public let kind: Hyperparameter<Void>.Kind

    /// Checks a study-file value against the kind; errors name the field and the value.
    func validate(_ v: ConfigValue, file: String, field: String) throws(StudyError) -> HyperparameterValue {
        switch (kind, v) {
        case (.number(let r), .double(let x)) where x.isFinite && r.contains(x): return .number(x)
        case (.number(let r), .integer(let i)) where r.contains(Double(i)): return .number(Double(i))
        case (.number(let r), _):
            throw StudyError(file: file, field: field, value: v.description, reason: "expected a finite number in \(r.lowerBound)…\(r.upperBound)")
        case (.integer(let r), .integer(let i)) where r.contains(i): return .number(Double(i))
        case (.integer(let r), _):
            throw StudyError(file: file, field: field, value: v.description, reason: "expected an integer in \(r.lowerBound)…\(r.upperBound)")
        case (.flag, .bool(let b)): return .flag(b)
        case (.flag, _): throw StudyError(file: file, field: field, value: v.description, reason: "expected true or false")
        case (.choice(let names), .string(let s)) where names.contains(s): return .text(s)
        case (.choice(let names), _):
            throw StudyError(file: file, field: field, value: v.description, reason: "expected one of \(names.joined(separator: ", "))")
        }
    }
}

/// An optimizer as a study file names it.
public struct OptimizerDescriptor: Sendable {
    public let name: String
    public let summary: String
    public let parameters: [ParameterDescriptor]
}

extension Hyperparameter {
    var descriptor: ParameterDescriptor {
        let k: Hyperparameter<Void>.Kind
        switch kind {
        case .number(let r): k = .number(r)
        case .integer(let r): k = .integer(r)
        case .flag: k = .flag
        case .choice(let c): k = .choice(c)
        }
        return ParameterDescriptor(key: key, kind: k)
    }
}

func applying<H>(_ params: [Hyperparameter<H>], _ values: [String: HyperparameterValue], to h: inout H) {
    for p in params { if let v = values[p.key] { p.set(&h, v) } }
}
