import Foundation
import Testing
import Scalars
import StudyKit

/// The verdict rules of R3 (Cholesky breakdown), R5 (Jorge's series) and R6 (Shampoo roots) on
/// constructed cells whose outcome is known by design: for each rule, data that must give
/// "reproduced", data that must give "not reproduced" and data that must give "undecided". The cells
/// go through the same path as real results (the cache's JSON format, then `ReportWriter.write`).
@Suite(.serialized) struct RootVerdictTests {
    typealias Records = [(step: Int, metric: String, value: Double)]

    /// A cell of `plan` carrying `records` and `events`, decoded through the cache format.
    static func cell(_ c: PlannedCell, _ records: Records, events: [(String, String)] = []) throws -> CellResult {
        func json(_ x: Double) -> Any {
            if x.isNaN { return "nan" }
            if x.isInfinite { return x > 0 ? "inf" : "-inf" }
            return x
        }
        let object: [String: Any] = [
            "key": c.key, "optimizer": c.label, "method": "", "precision": c.precision, "seed": c.seed, "parameters": c.parameters,
            "records": records.map { ["step": $0.step, "metric": $0.metric, "layer": -1, "value": json($0.value)] },
            "events": events.map { ["step": 1, "layer": 0, "kind": $0.0, "detail": $0.1, "value": 1.0] },
            "stepsCompleted": 1, "finalLoss": "nan", "finalTestLoss": "nan", "finalTestAccuracy": "nan", "roundedConstants": [String](),
        ]
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(CellResult.self, from: JSONSerialization.data(withJSONObject: object))
    }

    /// The verdict `ReportWriter` reaches on `plan` with the constructed cells, and the report's text.
    static func report(_ plan: StudyPlan, _ build: (PlannedCell) throws -> CellResult) throws -> (verdict: Verdict, readme: String) {
        var results = [String: CellResult]()
        for c in plan.cells { results[c.key] = try build(c) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mantissa-root-verdicts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v = try ReportWriter.write(plan, results: results, quick: false, to: dir)
        return (v, try String(contentsOfFile: "\(dir)/\(plan.spec.name)/README.md", encoding: .utf8))
    }

    static func verdict(_ plan: StudyPlan, _ build: (PlannedCell) throws -> CellResult) throws -> Verdict {
        try report(plan, build).verdict
    }

    // MARK: R3

    static let r3 = """
        title = "tiny R3"
        claim = "T3"
        kind = "cholesky-breakdown"
        question = "q"
        prediction = "p"
        [experiment]
        formats = ["fp32", "fp16", "bf16"]
        dimensions = [16]
        conditions = [1e1, 1e3, 1e5, 1e7, 1e9]
        bisection_steps = 4
        trials = 5
        slope_band = [-1.25, -0.75]
        shift_kappa_u = 1e3
        shift_spreads = [4.0]
        [verdict]
        rule = "threshold-scales-as-1/u and diagonal-shift-smaller and backward-error-bound"
        """

    /// Trial k's threshold from `threshold(u, k)`, its shifts from `shift(k)` (I-shift, diag-shift) and a
    /// backward-error ratio `ratio`.
    static func r3Verdict(threshold: @escaping (Double, Int) -> Double, shift: @escaping (Int) -> (Double, Double),
                          ratio: Double = 0.2) throws -> Verdict {
        let plan = try StudyPlan(StudyParser.parse(r3, file: "tiny-r3.toml", quick: false))
        return try verdict(plan) { c in
            let u = try ScalarFormats.type(named: c.precision).unitRoundoff
            var records: Records = [(0, "unit_roundoff", u)]
            for k in 1...5 {
                let (i, d) = shift(k)
                records += [(k, "threshold", threshold(u, k)), (k, "threshold_censored", 0), (k, "backward_error_over_gamma", ratio),
                            (k, "shift_identity_componentwise@4", i), (k, "shift_diagonal_componentwise@4", d),
                            (k, "shift_identity_normwise@4", i / 10), (k, "shift_diagonal_normwise@4", d / 10), (k, "unshifted_breaks@4", 1)]
            }
            return try cell(c, records)
        }
    }

    /// κ* = 20(1 + k/10)/u, a diagonal shift 100× smaller than the I-shift: every part holds.
    @Test func r3ThresholdsScalingAsInverseUAreReproduced() throws {
        let v = try Self.r3Verdict(threshold: { u, k in 20 * (1 + Double(k) / 10) / u }, shift: { k in (1e-2 * Double(k), 1e-4 * Double(k)) })
        #expect(v.reproduced == true, "\(v.evidence)")
    }

    /// κ* independent of u (slope 0, interval [0, 0]) is outside the band: not reproduced.
    @Test func r3ThresholdsIndependentOfUAreNotReproduced() throws {
        let v = try Self.r3Verdict(threshold: { _, k in 1e4 * (1 + Double(k) / 10) }, shift: { k in (1e-2 * Double(k), 1e-4 * Double(k)) })
        #expect(v.reproduced == false, "\(v.evidence)")
    }

    /// A diagonal shift that needs more than the I-shift: (b) fails.
    @Test func r3LargerDiagonalShiftIsNotReproduced() throws {
        let v = try Self.r3Verdict(threshold: { u, k in 20 * (1 + Double(k) / 10) / u }, shift: { k in (1e-4 * Double(k), 1e-2 * Double(k)) })
        #expect(v.reproduced == false, "\(v.evidence)")
    }

    /// A backward error above γ_{n+1} contradicts Higham's theorem: not reproduced.
    @Test func r3BackwardErrorAboveGammaIsNotReproduced() throws {
        let v = try Self.r3Verdict(threshold: { u, k in 20 * (1 + Double(k) / 10) / u }, shift: { k in (1e-2 * Double(k), 1e-4 * Double(k)) }, ratio: 1.5)
        #expect(v.reproduced == false, "\(v.evidence)")
    }

    /// fp32's thresholds scatter over twelve decades across trials: the slope's interval straddles the
    /// band, so (a) is undecided; and shifts with no consistent sign leave (b) undecided.
    @Test func r3ScatteredThresholdsAreUndecided() throws {
        let v = try Self.r3Verdict(threshold: { u, k in u < 1e-6 ? Double.pow(10, 7 + 3 * Double(k - 3)) * 20 : 20 / u },
                                   shift: { k in (1e-2, k % 2 == 0 ? 1e-1 : 1e-3) })
        #expect(v.reproduced == nil, "\(v.evidence)")
    }

    // MARK: R6

    static let r6 = """
        title = "tiny R6"
        claim = "T6"
        kind = "shampoo-roots"
        question = "q"
        prediction = "p"
        [experiment]
        streams = ["synthetic"]
        steps = 5
        dimension = 6
        gradient_columns = 3
        gradient_rank = 2
        mixing = [0.0, 1.0]
        spectrum_condition = 100.0
        gradient_scale = 1.0
        mlp_dataset = "synthetic-classification"
        mlp_widths = [12, 10, 4]
        mlp_batch = 4
        mlp_learning_rate = 0.1
        mlp_layer = 0
        seeds = [1, 2, 3]
        precisions = ["fp32", "bf16"]
        methods = ["eigen"]
        epsilons = [1e-6]
        beta2 = 1.0
        fallback_residual = 0.1
        newton_max_iterations = 100
        newton_tolerance = 1e-6
        slope_band = [0.5, 1.5]
        [verdict]
        rule = "within-format-residual-slope-in-band"
        """

    /// Residual `residual(κ·u, cell index, step)`; κ·u from 1e-5 to 0.5 over the five steps.
    static func r6Verdict(_ residual: @escaping (Double, Int, Int) -> Double) throws -> Verdict { try r6Report(residual).verdict }

    static func r6Report(_ residual: @escaping (Double, Int, Int) -> Double) throws -> (verdict: Verdict, readme: String) {
        let plan = try StudyPlan(StudyParser.parse(r6, file: "tiny-r6.toml", quick: false))
        var index = 0
        return try report(plan) { c in
            index += 1
            var records: Records = []
            for p in ["fp32", "bf16"] {
                let u = p == "fp32" ? Float.unitRoundoff : BFloat16.unitRoundoff
                records.append((0, "unit_roundoff@\(p)", u))
            }
            let kappaU = [1e-5, 1e-4, 1e-3, 1e-2, 0.5]
            for t in 1...5 {
                records.append((t, "low_rank", t == 1 ? 1 : 0))
                // κ as the fp32 points need it; bf16 points reuse it scaled so that κ·u_bf16 stays ≤ 1
                records.append((t, "kappa@1e-06", kappaU[t - 1] / BFloat16.unitRoundoff))
                for p in ["fp32", "bf16"] {
                    let ku = kappaU[t - 1] / BFloat16.unitRoundoff * (p == "fp32" ? Float.unitRoundoff : BFloat16.unitRoundoff)
                    let r = residual(ku, index, t)
                    records += [(t, "residual@\(p)/eigen/1e-06", r), (t, "fallback@\(p)/eigen/1e-06", r > 0.1 ? 1 : 0)]
                }
            }
            return try cell(c, records)
        }
    }

    @Test func r6ResidualProportionalToKappaUIsReproduced() throws {
        let v = try Self.r6Verdict { ku, cell, _ in 0.3 * ku * (1 + 0.05 * Double(cell)) }
        #expect(v.reproduced == true, "\(v.evidence)")
    }

    /// A residual flat in κ·u (slope 0.1) is outside [0.5, 1.5] in both formats.
    @Test func r6FlatResidualIsNotReproduced() throws {
        let v = try Self.r6Verdict { ku, cell, _ in 0.3 * Double.pow(ku, 0.1) * (1 + 0.05 * Double(cell)) }
        #expect(v.reproduced == false, "\(v.evidence)")
    }

    /// Half of the cells follow κ·u, the other half a slope-0.2 law: resampling cells gives slopes on both
    /// sides of the band's lower edge, so the verdict is undecided.
    @Test func r6CellsThatDisagreeAreUndecided() throws {
        let v = try Self.r6Verdict { ku, cell, _ in cell % 2 == 0 ? 0.3 * ku : 0.3 * Double.pow(ku, 0.2) }
        #expect(v.reproduced == nil, "\(v.evidence)")
    }

    /// A non-finite residual is counted beside the fit (one per cell here: 6 of 30 points per format),
    /// never silently dropped; the other points still decide.
    @Test func r6NonFiniteResidualsAreCounted() throws {
        let r = try Self.r6Report { ku, _, t in t == 5 ? .infinity : 0.3 * ku }
        #expect(r.verdict.reproduced == true, "\(r.verdict.evidence)")
        #expect(r.readme.contains("| eigen | fp32 | 24 | 6 | 0 |"), "\(r.readme)")
        #expect(r.readme.contains("| eigen | bf16 | 24 | 6 | 0 |"))
    }

    // MARK: R5

    static let r5 = """
        title = "tiny R5"
        claim = "T5"
        kind = "jorge-series"
        question = "q"
        prediction = "p"
        [experiment]
        streams = ["synthetic"]
        steps = 3
        dimension = 8
        gradient_columns = 4
        gradient_rank = 2
        mixing = [0.0, 1.0]
        spectrum_condition = 1e3
        gradient_scale = 1.0
        mlp_dataset = "synthetic-classification"
        mlp_widths = [12, 10, 4]
        mlp_batch = 4
        mlp_learning_rate = 0.1
        mlp_layer = 0
        seeds = [1, 2, 3, 4, 5]
        precisions = ["fp64", "fp32", "bf16"]
        rules = ["fixed"]
        beta2 = [0.99, 0.9]
        epsilon = 1.0
        slope_band = [0.5, 1.5]
        [verdict]
        rule = "bound-on-commuting-cells and positive-rank-correlations and accumulation and graceful-bf16"
        """

    /// Cells whose errors sit at half the commuting bound (so (a) holds), grow with the seed's ρ and with
    /// the commutator, and accumulate over the three steps. `bf16Drift(seed)` multiplies bf16's drift
    /// (1: drift ∝ u); `bf16Final` overrides bf16's final error; `nonFinite` adds a bf16 non-finite event.
    static func r5Verdict(bf16Drift: @escaping (Int) -> Double = { _ in 1 }, bf16Final: Double? = nil, nonFinite: Bool = false) throws -> Verdict {
        let plan = try StudyPlan(StudyParser.parse(r5, file: "tiny-r5.toml", quick: false))
        return try verdict(plan) { c in
            let seed = Double(c.seed), mixing = Double(c.parameters["mixing"]!)!, beta = Double(c.parameters["beta2"]!)!
            let n = 8.0
            var records: Records = [(0, "dimension", n)]
            for p in ["fp64", "fp32", "bf16"] {
                let u = p == "fp64" ? Double.unitRoundoff : (p == "fp32" ? Float.unitRoundoff : BFloat16.unitRoundoff)
                var sum = 0.0
                for t in 1...3 {
                    let rho = 0.01 * seed * (beta == 0.9 ? 3 : 1) * Double(t)
                    sum += 15.0 / 128 * Double.pow(2, 0.25) * rho * rho * rho + (n + 4) * u
                    var error = 0.5 * (Double.exp(sum) - 1) * (mixing == 0 || p == "bf16" ? 1 : 1000)
                    if p == "bf16", t == 3, let f = bf16Final, c.seed == 1 { error = f }
                    records += [(t, "error@\(p)", error), (t, "rho@\(p)", rho), (t, "x_norm@\(p)", rho),
                                (t, "commutator@\(p)", (mixing == 0 ? 1e-17 : 1e-3) * seed)]
                    if p != "fp64" { records.append((t, "drift@\(p)", 10 * u * (p == "bf16" ? bf16Drift(c.seed) : 1) * Double(t))) }
                }
            }
            return try cell(c, records, events: nonFinite && c.seed == 1 ? [("non-finite", "bf16: updated L̂")] : [])
        }
    }

    @Test func r5ConstructedReproductionIsReproduced() throws {
        let v = try Self.r5Verdict()
        #expect(v.reproduced == true, "\(v.evidence)")
    }

    /// One bf16 cell ending with an error of order 1 is a breakdown: the worst cell decides.
    @Test func r5OneBrokenBF16CellIsNotReproduced() throws {
        let v = try Self.r5Verdict(bf16Final: 2)
        #expect(v.reproduced == false, "\(v.evidence)")
        let w = try Self.r5Verdict(nonFinite: true)
        #expect(w.reproduced == false, "\(w.evidence)")
    }

    /// bf16 drifts that scatter over sixteen decades across seeds leave the drift-vs-u slope's interval
    /// across the band's edges: undecided.
    @Test func r5ScatteredDriftIsUndecided() throws {
        let v = try Self.r5Verdict(bf16Drift: { seed in Double.pow(10, 4 * Double(seed - 3)) })
        #expect(v.reproduced == nil, "\(v.evidence)")
    }
}
