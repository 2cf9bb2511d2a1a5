import Foundation

/// One value of one metric at one step (a row of the tidy CSV). `layer` is −1 for network-wide values.
public struct MetricRecord: Codable, Sendable, Hashable {
    public var step: Int
    public var metric: String
    public var layer: Int
    public var value: Double

    public init(step: Int, metric: String, layer: Int, value: Double) {
        self.step = step; self.metric = metric; self.layer = layer; self.value = value
    }
}

/// An event (failed Cholesky, non-finite value, reset, …) with where and when it happened.
public struct EventRecord: Codable, Sendable, Hashable {
    public var step: Int
    public var layer: Int
    public var kind: String
    public var detail: String
    public var value: Double
}

/// How far the MPFR reference trajectory of a cell's optimizer configuration and seed was run, and
/// whether it diverged by the same criteria as the cell: the control that attributes a divergence.
public struct ReferenceOutcome: Codable, Sendable, Hashable {
    public var bits: Int
    /// Steps the reference was asked to run (`reference.steps`).
    public var planned: Int
    /// Steps it completed without diverging.
    public var completed: Int
    public var divergenceStep: Int?

    public init(bits: Int, planned: Int, completed: Int, divergenceStep: Int?) {
        self.bits = bits; self.planned = planned; self.completed = completed; self.divergenceStep = divergenceStep
    }
}

/// Everything a finished cell contributes to the report; cached on disk as canonical JSON.
public struct CellResult: Codable, Sendable, Hashable {
    public var key: String
    public var optimizer: String
    public var method: String
    public var precision: String
    public var seed: Int
    /// Parameter values of the cell (swept and fixed), as text, for grouping in reports.
    public var parameters: [String: String]
    public var records: [MetricRecord]
    public var events: [EventRecord]
    /// First step at which the cell diverged (non-finite loss or weights, loss above k× initial, abort).
    public var divergenceStep: Int?
    public var divergenceReason: String?
    public var stepsCompleted: Int
    public var finalLoss: Double
    public var finalTestLoss: Double
    public var finalTestAccuracy: Double
    public var roundedConstants: [String]
    /// The MPFR reference of the same configuration and seed (nil when the study runs none).
    public var reference: ReferenceOutcome?

    /// The final training loss as the verdicts read it: the mean batch loss over the last `window`
    /// fraction of the `steps` (at least one step), so that one noisy last batch does not decide a
    /// comparison; nil if the cell diverged or a loss in the window is not finite.
    public func finalWindowLoss(steps: Int, window: Double = 0.1) -> Double? {
        guard divergenceStep == nil else { return nil }
        let first = steps - max(1, Int((Double(steps) * window).rounded(.up))) + 1
        let losses = series("loss").filter { $0.0 >= first }.map(\.1)
        guard !losses.isEmpty, losses.allSatisfy(\.isFinite) else { return nil }
        var sum = 0.0
        for l in losses { sum += l }
        return sum / Double(losses.count)
    }

    /// Values of one network-wide metric by step.
    public func series(_ metric: String, layer: Int = -1) -> [(Int, Double)] {
        records.filter { $0.metric == metric && $0.layer == layer }.map { ($0.step, $0.value) }
    }
}

/// JSON with sorted keys and non-finite numbers as strings, so identical results give identical bytes.
enum StableJSON {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try d.decode(type, from: data)
    }
}
