import Optimizers

/// What every event kind that can reach a study's `events.csv` means, so that each report names every
/// kind it recorded with its count and meaning (review rule 5 of Docs/Reports.md: nothing hidden). A kind missing here is
/// still listed in the report, marked as undocumented; a test keeps the optimizer kinds complete.
public enum EventGlossary {
    public static func meaning(_ kind: String) -> String? {
        if let m = optimizerKinds[kind] { return m }
        return otherKinds[kind]
    }

    /// `OptimizerEvent.Kind` (Docs/Optimizers.md §1.4, §10.3).
    static let optimizerKinds: [String: String] = [
        "cholesky-failure": "a Cholesky factorisation met a non-positive pivot (the factor was not numerically SPD at its damping); the detail names the factor and the pivot",
        "non-finite": "a NaN or ±∞ appeared in an optimizer quantity (statistic, inverse, root, update)",
        "eigenvalue-clamped": "a negative eigenvalue of a factor that is PSD in exact arithmetic was clamped to zero before an inverse or root",
        "fallback": "the configured fallback policy handled a failure (raw gradient, previous inverse, more damping, …); the detail says which",
        "clamp": "a value was clamped into its admissible range by the method's rule",
        "reset": "a factor or inverse was reset to its initial value (MKOR's stabiliser)",
        "stagnation": "an update rounded away: the weights (or a factor) did not change although the intended update was non-zero",
        "invertibility": "a matrix the method must invert was found singular",
        "zero-norm-division": "a normalisation met a zero norm and the division was skipped",
        "sm-denominator": "a Sherman–Morrison denominator 1 + vᵀXv was ≤ 1, non-finite or overflowed (impossible for an SPD factor in exact arithmetic)",
        "mkor-h-switch": "MKOR-H switched permanently to its first-order optimizer",
        "ill-conditioned": "a Gram matrix's condition number exceeded 1/u of its type",
        "newton-divergence-guard": "the coupled Newton inverse root stopped on its 1.2× divergence guard and kept the previous iterate",
        "newton-iteration-cap": "the coupled Newton inverse root used all its iterations without reaching its tolerance",
        "rho-above-one": "the spectral radius ρ(Y) of Jorge's series argument exceeded 1, where the truncated series is no longer a root",
        "lm-nonpositive-curvature": "KFAC-LM's ΔᵀCΔ was ≤ 0 or non-finite: no step size could be formed",
        "lm-singular-system": "KFAC-LM's 2×2 system for (α, μ) was singular and was solved with δ₀ = 0",
        "lm-nonfinite-rho": "KFAC-LM's reduction ratio ρ was not finite; λ was left unchanged",
    ]

    /// Kinds the runner, the network and the focused experiments record.
    static let otherKinds: [String: String] = [
        "divergence": "the cell stopped: a non-finite loss or weights, a loss above the divergence factor × the first loss, or an abort by the fallback policy; the detail gives the reason",
        "network-nan": "a NaN appeared in the network's forward or backward pass (count per tensor in the detail)",
        "network-overflow": "a value overflowed to ±∞ in the network's forward or backward pass",
        "network-subnormal": "values of the network's forward or backward pass fell into the subnormal range of the format (gradual underflow: precision is lost, nothing fails)",
        LocalReference.failureEvent: "the MPFR reference step from the cell's state failed, so that step has no local error",
        "test-evaluation-failed": "the test-set evaluation failed (shape or non-finite error); that step has no test loss or accuracy",
        "loss-scale-backoff": "dynamic loss scaling found a non-finite gradient, skipped the step and halved the scale",
        "loss-scale-growth": "dynamic loss scaling doubled the scale after its growth interval of finite steps",
        "skipped-step": "the step was not applied (a non-finite gradient under dynamic loss scaling): weights, optimizer state and its step count stay as they were",
        "divergence-guard": "an inverse root's Newton iteration stopped on its divergence guard (focused experiment)",
        "iteration-cap": "an inverse root's Newton iteration hit its iteration cap (focused experiment)",
        "eigen-failure": "the symmetric eigensolver did not converge (focused experiment)",
        "scalar-identity": "a 1×1 inverse root returned the identity without iterating",
        "fallback-failed": "the fallback route failed as well, so no usable result was produced (focused experiment)",
        "first-overflow": "the first loss scale at which a quantity overflowed its format (focused experiment)",
        "overflow": "a quantity overflowed its format (focused experiment)",
        "non-finite-state": "an optimizer's state became non-finite (focused experiment)",
        "not-positive-definite": "sym(X) of an inverse factor failed Cholesky: the factor stopped being positive definite (focused experiment)",
        "reference-failure": "the MPFR reference computation failed, so the comparison at that point is missing",
        "error": "the computation threw an error, recorded instead of crashing; the detail gives it",
    ]

    /// The report section listing every event kind of `results` (and each cell's divergence) with its
    /// count, the number of cells it occurred in, its first step and its meaning.
    static func section(_ results: [CellResult]) throws(ReportError) -> String {
        var count = [String: Int](), cells = [String: Set<String>](), first = [String: Int]()
        for r in results {
            let id = "\(r.key)"
            for e in r.events {
                count[e.kind, default: 0] += 1; cells[e.kind, default: []].insert(id)
                first[e.kind] = min(first[e.kind] ?? e.step, e.step)
            }
            if let s = r.divergenceStep {
                count["divergence", default: 0] += 1; cells["divergence", default: []].insert(id)
                first["divergence"] = min(first["divergence"] ?? s, s)
            }
        }
        guard !count.isEmpty else { return "## Events\n\nNo cell recorded an event.\n" }
        let rows = count.keys.sorted().map { k in
            [k, "\(count[k]!)", "\(cells[k]!.count) of \(results.count)", "\(first[k]!)", meaning(k) ?? "(undocumented kind: see the detail column of events.csv)"]
        }
        let table = MarkdownTable(columns: ["event kind", "events", "cells", "first step", "what it means"].map { MarkdownTable.Column($0) }, rows: rows)
        return "## Events\n\nEvery kind in `events.csv`, with counts over all cells:\n\n" + (try table.rendered())
    }
}
