/// Why a cell diverged, judged against a control that runs the same configuration and seed in higher
/// precision (review rule 2 of Docs/Reports.md): a divergence counts against a precision only if the control did not
/// diverge. A control that diverged too makes it a learning-rate or damping failure.
public enum DivergenceCause: String, Sendable, Hashable, CaseIterable {
    /// The cell finished all its steps.
    case finished
    /// The cell diverged and its control ran the whole budget without diverging.
    case precision
    /// The cell diverged and so did its control: the configuration fails in high precision as well.
    case hyperparameter
    /// The cell diverged and no control covers the whole run (no reference that long, no control cell).
    case uncontrolled
}

public struct DivergenceAttribution: Sendable, Hashable {
    public var cause: DivergenceCause
    /// What the control did, in words, for the report.
    public var detail: String

    /// Attributes `cell`'s divergence. The control is, in order: the MPFR reference trajectory recorded in
    /// the cell (`CellResult.reference`) if it was planned over all `steps`; else `control`, the cell of
    /// the same configuration and seed in the study's control precision (e.g. fp64), if there is one.
    /// A reference that diverged counts at whatever length it was planned: it shows the configuration
    /// failing in exact arithmetic.
    public static func attribute(_ cell: CellResult, steps: Int, control: CellResult?) -> DivergenceAttribution {
        guard let step = cell.divergenceStep else { return .init(cause: .finished, detail: "finished") }
        if let ref = cell.reference {
            if let s = ref.divergenceStep {
                return .init(cause: .hyperparameter, detail: "diverged at step \(step); the \(ReferenceCatalogue.name(bits: ref.bits)) reference diverged too, at step \(s)")
            }
            if ref.planned >= steps, ref.completed >= steps {
                return .init(cause: .precision, detail: "diverged at step \(step); the \(ReferenceCatalogue.name(bits: ref.bits)) reference finished all \(steps) steps")
            }
        }
        if let c = control, c.key != cell.key {
            if let s = c.divergenceStep {
                return .init(cause: .hyperparameter, detail: "diverged at step \(step); the \(c.precision) control diverged too, at step \(s)")
            }
            return .init(cause: .precision, detail: "diverged at step \(step); the \(c.precision) control finished all \(c.stepsCompleted) steps")
        }
        let covered = cell.reference.map { "the \(ReferenceCatalogue.name(bits: $0.bits)) reference covers only \($0.completed) of \(steps) steps" } ?? "no control was run"
        return .init(cause: .uncontrolled, detail: "diverged at step \(step); \(covered)")
    }
}
