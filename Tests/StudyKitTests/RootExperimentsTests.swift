import Testing
import Foundation
import Scalars
import LinearAlgebra
import StudyKit

/// R5 (`jorge-series`) and R6 (`shampoo-roots`): grid expansion, the MPFR reference against its own
/// defining equation, closed forms of tiny runs, named errors for malformed fields, and the quick tiers.
@Suite(.serialized) struct RootExperimentsTests {
    static var studiesDirectory: String { ExperimentsTests.studiesDirectory }
    static func text(_ study: String) throws -> String {
        try String(contentsOfFile: "\(studiesDirectory)/\(study).toml", encoding: .utf8)
    }

    static func array(_ spec: StudySpec, _ key: String) -> [ConfigValue] {
        if case .array(let a)? = spec.experiment[key] { return a }
        return []
    }

    // MARK: cell expansion

    @Test func jorgeCellsAreStreamsTimesRulesTimesBetaTimesSeeds() throws {
        for quick in [false, true] {
            let spec = try StudyCatalogue.loadFile("\(Self.studiesDirectory)/r5-jorge-series.toml", quick: quick)
            let cells = try StudyPlan(spec).cells
            let streams = Self.array(spec, "streams").map(\.description)
            let streamCount = streams.reduce(0) { $0 + ($1 == "\"synthetic\"" ? Self.array(spec, "mixing").count : 1) }
            let rules = Self.array(spec, "rules").map(\.description)
            let ruleCount = rules.reduce(0) { $0 + ($1 == "\"adaptive\"" ? 1 : Self.array(spec, "beta2").count) }
            #expect(cells.count == streamCount * ruleCount * Self.array(spec, "seeds").count)
            #expect(Set(cells.map(\.key)).count == cells.count)
            // every (stream, mixing, rule, β2) appears once per seed
            let groups = Dictionary(grouping: cells) { "\($0.parameters["stream"]!)|\($0.parameters["mixing"] ?? "-")|\($0.parameters["rule"]!)|\($0.parameters["beta2"]!)" }
            #expect(groups.values.allSatisfy { Set($0.map(\.seed)).count == Self.array(spec, "seeds").count })
            #expect(cells.filter { $0.parameters["rule"] == "adaptive" }.allSatisfy { $0.parameters["beta2"] == "adaptive" })
        }
    }

    @Test func shampooCellsAreStreamsTimesSeeds() throws {
        for quick in [false, true] {
            let spec = try StudyCatalogue.loadFile("\(Self.studiesDirectory)/r6-shampoo-roots.toml", quick: quick)
            let cells = try StudyPlan(spec).cells
            let streams = Self.array(spec, "streams").map(\.description)
            let streamCount = streams.reduce(0) { $0 + ($1 == "\"synthetic\"" ? Self.array(spec, "mixing").count : 1) }
            #expect(cells.count == streamCount * Self.array(spec, "seeds").count)
            #expect(Set(cells.map(\.key)).count == cells.count)
            #expect(cells.allSatisfy { $0.parameters["epsilons"]!.split(separator: ",").count == Self.array(spec, "epsilons").count })
        }
        let full = try StudyPlan(StudyCatalogue.loadFile("\(Self.studiesDirectory)/r6-shampoo-roots.toml", quick: false))
        let quick = try StudyPlan(StudyCatalogue.loadFile("\(Self.studiesDirectory)/r6-shampoo-roots.toml", quick: true))
        #expect(Set(full.cells.map(\.key)) != Set(quick.cells.map(\.key)))
    }

    // MARK: streams and the exact statistic

    static func stream(mixing: Double, rank: Int = 2, steps: Int = 3) -> GradientStream {
        GradientStream(source: .synthetic, steps: steps, dimension: 6, columns: 3, rank: rank, mixing: mixing, spectrumCondition: 100, scale: 1,
                       dataset: "synthetic-classification", widths: [4, 3], batch: 2, learningRate: 0.1, layer: 0)
    }

    /// With mixing 0 every GGᵀ is diagonal in one basis, so all statistics commute with it (up to the
    /// Double construction of that basis: ‖[L, A]‖/(‖L‖‖A‖) ≤ a few n·u_64); mixing 1 does not commute.
    @Test func alignedStreamsCommuteAndMixedOnesDoNot() throws {
        let n = 6.0
        for (mixing, commutes) in [(0.0, true), (1.0, false)] {
            let grams = try Self.stream(mixing: mixing, steps: 6).gradients(seed: 3).map(ExactStatistic.gram)
            var l = grams[0]
            for g in grams.dropFirst() {
                let c = ExactStatistic.commutator(l, g)
                if commutes { #expect(c <= 8 * n * Double.ulpOfOne, "\(c)") } else { #expect(c > 1e-3, "\(c)") }
                l = try l.adding(g)
            }
        }
    }

    /// ‖X⁴(L + εI) − I‖_F/√n computed independently in MPFR-256 with plain loops.
    static func independentResidual(_ x: Matrix<BigFloat113>, _ l: Matrix<BigFloat113>, epsilon: Double) -> Double {
        typealias W = BigFloat256
        let n = x.rows
        func mul(_ a: [[W]], _ b: [[W]]) -> [[W]] {
            (0..<n).map { i in (0..<n).map { j in (0..<n).reduce(W.zero) { $0 + a[i][$1] * b[$1][j] } } }
        }
        let xw = (0..<n).map { i in (0..<n).map { j in W(x[i, j]) } }
        let mw = (0..<n).map { i in (0..<n).map { j in W(l[i, j]) + (i == j ? W(epsilon) : W.zero) } }
        let r = mul(mul(mul(xw, xw), mul(xw, xw)), mw)
        var s = W.zero
        for i in 0..<n { for j in 0..<n { let d = r[i][j] - (i == j ? 1 : 0); s += d * d } }
        return (s / W(Double(n))).squareRoot().doubleValue
    }

    /// The reference root satisfies its equation to its own precision: first order, a backward error
    /// E of the eigendecomposition moves X⁴M − I by at most κ‖E‖/‖M‖ per direction and the spectral
    /// function and product add O(n·u); with the Jacobi bound ‖E‖ ≲ n·u‖M‖ the residual stays below
    /// 4κ·n²·u_113 (4: the fourth power). A Double computation anywhere would leave ≈ κ·u_64 ≫ that.
    @Test(arguments: [1e-2, 1e-6, 1e-10])
    func referenceRootSatisfiesItsEquationToMPFR113(epsilon: Double) throws {
        let grams = try Self.stream(mixing: 1, rank: 1).gradients(seed: 7).map(ExactStatistic.gram)
        let l = try grams.dropFirst().reduce(grams[0]) { try $0.adding($1) }          // rank 3 of 6: singular
        let root = try ExactStatistic.referenceRoot(l, epsilon: epsilon)
        #expect(root.outcome == .converged)
        let n = Double(l.rows)
        let kappa = (root.lambdaMax + epsilon) / epsilon                                   // λ_min(L) = 0
        let residual = Self.independentResidual(root.root, l, epsilon: epsilon)
        let bound = 4 * kappa * n * n * BigFloat113.unitRoundoff
        #expect(residual <= bound, "residual \(residual), bound \(bound)")
        #expect(bound < kappa * Double.ulpOfOne / 2, "the bound must separate MPFR-113 from a Double computation")
        // The experiments' own MPFR residual agrees with the independent one for the rounded fp32 root.
        let x32 = root.root.map { Float($0.doubleValue) }
        let m = l.addingToDiagonal(BigFloat113(epsilon))
        let ours = try ExactStatistic.rootResidual(x32, m)
        let independent = Self.independentResidual(x32.map { BigFloat113($0.doubleValue) }, l, epsilon: epsilon)
        #expect(abs(ours - independent) <= 1e-20 * max(independent, 1), "\(ours) vs \(independent)")
    }

    // MARK: tiny runs

    static let tinyStreams = """
        streams = ["synthetic"]
        steps = 4
        dimension = 6
        gradient_columns = 3
        gradient_rank = 2
        mixing = [0.0]
        spectrum_condition = 100.0
        gradient_scale = 1.0
        mlp_dataset = "synthetic-classification"
        mlp_widths = [6, 5, 3]
        mlp_batch = 4
        mlp_learning_rate = 0.1
        mlp_layer = 0
        seeds = [2]
        """

    static func tinyRun(_ text: String) throws -> [CellResult] {
        let plan = try StudyPlan(try StudyParser.parse(text, file: "tiny-roots.toml", quick: false))
        let dir = temporaryDirectory("roots")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let results = try StudyRunner(RunOptions(outputDirectory: dir, jobs: 1, quick: false, progress: false, useCache: false)).run(plan)
        return plan.cells.map { results[$0.key]! }
    }

    /// A commuting stream at β2 = 0.999 (series argument ≈ 1e-3): every precision records every step,
    /// fp64 stays inside the truncation + rounding bound, and the flop counts are the closed forms.
    @Test func tinyJorgeRunRecordsEveryStepWithinTheCommutingBound() throws {
        let text = """
            title = "tiny R5"
            claim = "T5"
            kind = "jorge-series"
            question = "q"
            prediction = "p"
            [experiment]
            \(Self.tinyStreams)
            precisions = ["fp64", "fp32"]
            rules = ["fixed"]
            beta2 = [0.999]
            epsilon = 1.0
            slope_band = [0.5, 1.5]
            [verdict]
            rule = "bound-on-commuting-cells and positive-rank-correlations and accumulation and graceful-bf16"
            """
        let results = try Self.tinyRun(text)
        #expect(results.count == 1)
        #expect(try Self.tinyRun(text)[0].records == results[0].records, "a rerun must give the same records")
        let r = results[0], n = 6.0
        #expect(r.series("flops_jorge").first?.1 == 10 * n * n * n)
        #expect(r.series("flops_eigh").first?.1 == 11 * n * n * n)
        for p in ["fp64", "fp32"] {
            let err = r.series("error@\(p)").map(\.1), rho = r.series("rho@\(p)").map(\.1)
            #expect(err.count == 4 && rho.count == 4)
            #expect(err.allSatisfy { $0.isFinite && $0 >= 0 })
            #expect(r.series("commutator@\(p)").allSatisfy { $0.1 <= 8 * n * Double.ulpOfOne })
            let u = p == "fp64" ? Double.ulpOfOne / 2 : Double(Float.ulpOfOne) / 2
            var sum = 0.0
            for t in err.indices {
                sum += 15.0 / 128 * Double.pow(2, 0.25) * Double.pow(rho[t], 3) + (n + 4) * u
                #expect(err[t] <= Double.exp(sum) - 1, "\(p) step \(t + 1): \(err[t])")
            }
        }
        #expect(r.series("drift@fp32").count == 4)
        #expect(r.series("drift@fp64").isEmpty)
        #expect(r.events.isEmpty, "\(r.events)")
    }

    /// At step 1 the statistic G₁G₁ᵀ has rank 2 < 6, so κ(L + ελ_max I) = (1 + ε)/ε; every fallback flag
    /// matches its residual against the bound, and every fallback left an event.
    @Test func tinyShampooRunHasTheClosedFormConditionAndConsistentFallbacks() throws {
        let text = """
            title = "tiny R6"
            claim = "T6"
            kind = "shampoo-roots"
            question = "q"
            prediction = "p"
            [experiment]
            \(Self.tinyStreams)
            precisions = ["fp32", "bf16"]
            methods = ["eigen", "newton"]
            epsilons = [1e-12, 1e-6]
            beta2 = 1.0
            fallback_residual = 0.1
            newton_max_iterations = 100
            newton_tolerance = 1e-6
            slope_band = [0.5, 1.5]
            [verdict]
            rule = "within-format-residual-slope-in-band"
            """
        let r = try Self.tinyRun(text)[0]
        #expect(try Self.tinyRun(text)[0].records == r.records, "a rerun must give the same records")
        #expect(r.series("low_rank").first?.1 == 1)
        for (eps, tag) in [(1e-12, "1e-12"), (1e-6, "1e-06")] {
            let k1 = r.series("kappa@\(tag)").first!.1
            #expect(abs(k1 - (1 + eps) / eps) <= 1e-12 * k1, "\(k1)")
        }
        var flags = 0
        for p in ["fp32", "bf16"] { for m in ["eigen", "newton"] { for e in ["1e-12", "1e-06"] {
            let name = "\(p)/\(m)/\(e)"
            let residuals = r.series("residual@\(name)"), fallbacks = r.series("fallback@\(name)")
            #expect(residuals.count == 4 && fallbacks.count == 4, "\(name)")
            for (res, f) in zip(residuals, fallbacks) { #expect((f.1 == 1) == !(res.1 <= 0.1), "\(name) step \(res.0)") }
            flags += fallbacks.filter { $0.1 == 1 }.count
            #expect(r.series("retry_residual@\(name)").count == fallbacks.filter { $0.1 == 1 }.count)
        } } }
        #expect(r.events.filter { $0.kind == "fallback" }.count == flags)
        #expect(flags > 0, "ε = 1e-12 on a rank-deficient statistic must force fallbacks")
    }

    /// R3 on bf16, n = 8: each trial's bisected threshold lies inside the bracket its own scan found
    /// (the last κ that factored, the first that broke down), every unshifted shift-arm matrix breaks
    /// down (κ·u = 1e3), and the shifts that repair it are positive; the componentwise sizes follow from
    /// their definitions (t for the diagonal shift, t/min a_ii for the I-shift, hence ≥ t/max a_ii).
    @Test func tinyCholeskyRunThresholdsLieInsideTheirBrackets() throws {
        let text = """
            title = "tiny R3"
            claim = "T3"
            kind = "cholesky-breakdown"
            question = "q"
            prediction = "p"
            [experiment]
            formats = ["bf16"]
            dimensions = [8]
            conditions = [1e1, 1e2, 1e3, 1e4, 1e5, 1e6]
            bisection_steps = 6
            trials = 3
            slope_band = [-1.25, -0.75]
            shift_kappa_u = 1e3
            shift_spreads = [0.0, 4.0]
            [verdict]
            rule = "threshold-scales-as-1/u and diagonal-shift-smaller and backward-error-bound"
            """
        let r = try Self.tinyRun(text)[0]
        #expect(try Self.tinyRun(text)[0].records == r.records, "a rerun must give the same records")
        let grid = [1e1, 1e2, 1e3, 1e4, 1e5, 1e6]
        for trial in 1...3 {
            let failed = grid.map { k in r.series("failed@\(Int(k))").first { $0.0 == trial }!.1 }   // integral κ print as integers
            let threshold = r.series("threshold").first { $0.0 == trial }!.1
            guard let firstBad = failed.firstIndex(of: 1) else { #expect(threshold == .infinity); continue }
            #expect(threshold <= grid[firstBad], "trial \(trial): \(threshold)")
            if firstBad > 0 { #expect(threshold > grid[firstBad - 1], "trial \(trial): \(threshold)") }
            for spread in ["0", "4"] {
                #expect(r.series("unshifted_breaks@\(spread)").first { $0.0 == trial }?.1 == 1)
                for shift in ["identity", "diagonal"] {
                    let t = r.series("shift_\(shift)_componentwise@\(spread)").first { $0.0 == trial }!.1
                    #expect(t > 0 && t.isFinite, "\(shift) spread \(spread): \(t)")
                }
            }
        }
        #expect(r.series("backward_error_over_gamma").allSatisfy { $0.1 <= 1 })
        #expect(r.events.allSatisfy { $0.kind == "cholesky-failure" })
    }

    // MARK: malformed fields

    static let malformed: [(study: String, old: String, new: String, field: String)] = [
        ("r5-jorge-series", "precisions = [\"fp64\", \"fp32\", \"fp16\", \"bf16\"]", "precisions = [\"fp64\", \"fp33\"]", "experiment.precisions[1]"),
        ("r5-jorge-series", "precisions = [\"fp64\", \"fp32\", \"fp16\", \"bf16\"]", "precisions = [\"fp32\", \"bf16\"]", "experiment.precisions"),
        ("r5-jorge-series", "rules = [\"fixed\", \"adaptive\"]", "rules = [\"fixed\", \"exact\"]", "experiment.rules[1]"),
        ("r5-jorge-series", "beta2 = [0.999, 0.99, 0.9]", "beta2 = [1.5]", "experiment.beta2"),
        ("r5-jorge-series", "slope_band = [0.5, 1.5]", "slope_band = [1.5, 0.5]", "experiment.slope_band"),
        ("r5-jorge-series", "gradient_rank = 2", "gradient_rank = 5", "experiment.gradient_rank"),
        ("r5-jorge-series", "streams = [\"synthetic\", \"mlp\"]", "streams = [\"synthetic\", \"cnn\"]", "experiment.streams[1]"),
        ("r5-jorge-series", "mlp_layer = 0", "mlp_layer = 2", "experiment.mlp_layer"),
        ("r6-shampoo-roots", "methods = [\"eigen\", \"newton\"]", "methods = [\"eigen\", \"schur\"]", "experiment.methods[1]"),
        ("r6-shampoo-roots", "epsilons = [1e-12, 1e-8, 1e-6]", "epsilons = [1e-12, -1e-8]", "experiment.epsilons"),
        ("r6-shampoo-roots", "fallback_residual = 0.1", "fallback_residual = \"high\"", "experiment.fallback_residual"),
        ("r6-shampoo-roots", "mlp_dataset = \"synthetic-classification\"", "mlp_dataset = \"digits\"", "experiment.mlp_widths"),
        ("r6-shampoo-roots", "newton_max_iterations = 100", "newton_max_iterations = 0", "experiment.newton_max_iterations"),
        ("r6-shampoo-roots", "[experiment]\n", "[experiment]\nbogus_key = 1\n", "experiment.bogus_key"),
        ("r5-jorge-series", "[experiment]\n", "[experiment]\nbogus_key = 1\n", "experiment.bogus_key"),
        ("r3-cholesky-breakdown", "formats = [\"fp64\"", "formats = [\"fp65\"", "experiment.formats[0]"),
        ("r3-cholesky-breakdown", "conditions = [1e1, 1e2", "conditions = [1e2, 1e1", "experiment.conditions"),
        ("r3-cholesky-breakdown", "bisection_steps = 9", "bisection_steps = -1", "experiment.bisection_steps"),
        ("r3-cholesky-breakdown", "shift_spreads = [0.0, 4.0]", "shift_spreads = [-1.0]", "experiment.shift_spreads"),
        ("r3-cholesky-breakdown", "slope_band = [-1.25, -0.75]", "slope_band = [-0.75, -1.25]", "experiment.slope_band"),
    ]

    @Test func malformedFieldsAreNamed() throws {
        for m in Self.malformed {
            let original = try Self.text(m.study)
            #expect(original.contains(m.old), "\(m.study) no longer contains \(m.old)")
            guard let e = ExperimentsTests.planningError(original.replacingOccurrences(of: m.old, with: m.new), file: "\(m.study).toml") else {
                Issue.record("\(m.study): \(m.new) was accepted"); continue
            }
            #expect(e.field == m.field, "\(e)")
            #expect(e.file == "\(m.study).toml")
            #expect(!e.value.isEmpty)
        }
    }

    // MARK: quick tiers

    /// The quick tier runs, writes every file and states a verdict with its evidence (a quick tier has
    /// too few seeds to promise a decided verdict: undecided is a legitimate outcome there).
    @Test(arguments: [("r5-jorge-series", ["error-vs-step.svg", "error-vs-step-precisions.svg", "error-vs-x.svg", "error-vs-commutator.svg"]),
                      ("r6-shampoo-roots", ["residual-vs-kappa-u.svg", "residual-vs-step.svg"]),
                      ("r3-cholesky-breakdown", ["failure-rate.svg", "threshold-vs-u.svg"])])
    func quickTierWritesItsReport(_ study: String, _ plots: [String]) throws {
        let dir = temporaryDirectory("roots-\(study)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try StudyPlan(StudyCatalogue.loadFile("\(Self.studiesDirectory)/\(study).toml", quick: true))
        let results = try StudyRunner(RunOptions(outputDirectory: dir, jobs: 2, quick: true, progress: false)).run(plan)
        #expect(results.count == plan.cells.count)
        let verdict = try ReportWriter.write(plan, results: results, quick: true, to: dir)
        #expect(verdict.evidence.contains { $0.isNumber }, "\(study): \(verdict.evidence)")
        for f in ["README.md", "results.csv", "events.csv", "manifest.json"] + plots.map({ "plots/\($0)" }) {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(study)/\(f)"), "\(study)/\(f)")
        }
        let readme = try String(contentsOfFile: "\(dir)/\(study)/README.md", encoding: .utf8)
        #expect(readme.contains("**Verdict: \(verdict.label)**"), "\(study)")
    }
}
