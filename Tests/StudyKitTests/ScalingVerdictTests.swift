import Testing
import Foundation
import StudyKit

/// The verdict rules of R1, R4 (Sherman–Morrison), R7 and R10 on constructed data, one case per
/// outcome (reproduced, not reproduced, undecided), and the named errors that replaced the silent
/// fallbacks of R1's and R7's judging step (issue 14).
@Suite struct ScalingVerdictTests {
    // MARK: SlopeJudgement (R1: slope 2 in β1; R7: slope ½ in n; R4: the d exponent)

    /// Five seeds tightly around 2: with n = 5 the 95 % interval of the median is about
    /// [x₍₁₎, x₍₅₎] (P(resampled median ≤ x₍₁₎) = P(Bin(5, 1/5) ≥ 3) ≈ 0.058 > 0.025), here
    /// [1.97, 2.03] ⊂ [1.8, 2.2].
    @Test func slopeInsideTheBandIsReproduced() {
        let j = SlopeJudgement(slopes: [1.97, 2.0, 2.01, 2.03, 1.99], band: 1.8...2.2)
        #expect(j.reproduced == true)
        #expect(j.interval!.estimate == 2.0)
        #expect(j.label == "reproduced")
    }

    /// Slopes near 1 (the n·u law R7 contrasts with √n·u): the interval [0.95, 1.05] misses [0.4, 0.6].
    @Test func slopeOutsideTheBandIsNotReproduced() {
        let j = SlopeJudgement(slopes: [0.95, 1.0, 1.02, 1.05, 0.98], band: 0.4...0.6)
        #expect(j.reproduced == false)
        #expect(j.label == "not reproduced")
    }

    /// Seeds spread across an edge of the band: the median (2.0) is inside, but the interval
    /// [1.5, 2.5] is not, so the data do not decide.
    @Test func slopeAcrossAnEdgeIsUndecided() {
        let j = SlopeJudgement(slopes: [1.5, 1.9, 2.0, 2.3, 2.5], band: 1.8...2.2)
        #expect(j.reproduced == nil)
        #expect(j.label == "undecided")
        #expect(j.text.contains("2.00"))
    }

    /// Too few seeds with a finite slope is undecided, even when every slope is inside the band;
    /// NaN slopes (a failed fit) are counted out, never read as values.
    @Test func tooFewFiniteSlopesIsUndecided() {
        #expect(SlopeJudgement(slopes: [2.0, 2.0], band: 1.8...2.2).reproduced == nil)
        #expect(SlopeJudgement(slopes: [2.0, .nan, .nan, 2.0], band: 1.8...2.2).reproduced == nil)
        #expect(SlopeJudgement(slopes: [], band: 1.8...2.2).reproduced == nil)
    }

    // MARK: R7

    @Test func srRecoveryOutcomes() {
        #expect(ExperimentJudges.srRecovers([0.004, 0.005, 0.006, 0.005, 0.0055], tolerance: 0.05) == true)
        #expect(ExperimentJudges.srRecovers([0.2, 0.3, 0.25, 0.22, 0.28], tolerance: 0.05) == false)
        #expect(ExperimentJudges.srRecovers([0.01, 0.03, 0.06, 0.09, 0.12], tolerance: 0.05) == nil)
        #expect(ExperimentJudges.srRecovers([0.01, .nan, 0.01], tolerance: 0.05) == false, "a diverged seed is not recovered")
        #expect(ExperimentJudges.srRecovers([0.01, 0.01], tolerance: 0.05) == nil, "two seeds cannot decide")
    }

    @Test func stallOnsetOutcomes() {
        // RNE stalls at 3.7 × the optimum's loss above it; fp32 at the optimum: discriminates.
        #expect(ExperimentJudges.rneStallsEarly(rneOnsetExcess: 3.7, fp32OnsetExcess: 1e-4, tolerance: 0.05) == true)
        #expect(ExperimentJudges.rneStallsEarly(rneOnsetExcess: 3.7, fp32OnsetExcess: .nan, tolerance: 0.05) == true, "fp32 never stalling passes the control")
        // RNE stalls only at the optimum, or never: not reproduced.
        #expect(ExperimentJudges.rneStallsEarly(rneOnsetExcess: 0.01, fp32OnsetExcess: 1e-4, tolerance: 0.05) == false)
        #expect(ExperimentJudges.rneStallsEarly(rneOnsetExcess: .nan, fp32OnsetExcess: 1e-4, tolerance: 0.05) == false)
        // The control also stalls far from the optimum: the statistic does not discriminate.
        #expect(ExperimentJudges.rneStallsEarly(rneOnsetExcess: 3.7, fp32OnsetExcess: 2.0, tolerance: 0.05) == nil)
    }

    // MARK: R10

    @Test func kfacExactnessOutcomes() {
        #expect(ExperimentJudges.kfacExactness(linearWithin: 30, linearAll: 30, controlCaught: 10, controlAll: 10, failedCells: 0) == true)
        #expect(ExperimentJudges.kfacExactness(linearWithin: 29, linearAll: 30, controlCaught: 10, controlAll: 10, failedCells: 0) == false)
        #expect(ExperimentJudges.kfacExactness(linearWithin: 30, linearAll: 30, controlCaught: 9, controlAll: 10, failedCells: 0) == nil, "an uncaught control: the comparison could not fail")
        #expect(ExperimentJudges.kfacExactness(linearWithin: 30, linearAll: 30, controlCaught: 10, controlAll: 10, failedCells: 1) == nil)
        #expect(ExperimentJudges.kfacExactness(linearWithin: 0, linearAll: 0, controlCaught: 10, controlAll: 10, failedCells: 0) == nil)
    }

    // MARK: R4 — the joint fit that holds κ apart from d

    /// y = 1 + 2·log d + 0.5·log κ exactly, with κ varied independently of d: both exponents recovered
    /// to a few ulps of the centred sums (the sums are of O(1) numbers, so 1e-12 is ≥ 1000 ulps of slack).
    @Test func jointFitRecoversBothExponents() {
        var y = [Double](), x1 = [Double](), x2 = [Double]()
        for d in [8.0, 16, 32, 64] { for k in [10.0, 100, 3000] {
            x1.append(log10(d)); x2.append(log10(k)); y.append(1 + 2 * log10(d) + 0.5 * log10(k))
        } }
        let f = ExperimentJudges.jointFit(y: y, x1: x1, x2: x2)
        #expect(abs(f.b1 - 2) < 1e-12)
        #expect(abs(f.b2 - 0.5) < 1e-12)
    }

    /// κ ∝ d² (the confounded design): log κ = 2·log d, so the exponents cannot be separated.
    @Test func jointFitRefusesACollinearDesign() {
        let d = [8.0, 16, 32, 64], x1 = d.map { log10($0) }, x2 = d.map { 2 * log10($0) }
        let f = ExperimentJudges.jointFit(y: x1.map { 3 * $0 }, x1: x1, x2: x2)
        #expect(f.b1.isNaN && f.b2.isNaN)
        #expect(ExperimentJudges.jointFit(y: [1, 2, 3], x1: [1, 2, 3], x2: [3, 1, 2]).b1.isNaN, "fewer than 4 points")
    }

    // MARK: Issue 14: a parameter that does not re-parse is an error naming the field, not a fallback

    static func spec(_ study: String, replacing old: String, with new: String) throws -> StudySpec {
        let text = try String(contentsOfFile: "\(ExperimentsTests.studiesDirectory)/\(study).toml", encoding: .utf8)
        #expect(text.contains(old), "the study file no longer contains \(old)")
        return try StudyParser.parse(text.replacingOccurrences(of: old, with: new), file: "\(study).toml", quick: false)
    }

    @Test func ikfacTrackingJudgingNamesTheBadField() throws {
        let spec = try Self.spec("r1-ikfac-tracking", replacing: "slope_band = [1.8, 2.2]", with: "slope_band = [2.2, 1.8]")
        do throws(StudyError) {
            _ = try ExperimentJudges.ikfacTracking(spec, [])
            Issue.record("a reversed slope_band was judged with")
        } catch {
            #expect(error.field == "experiment.slope_band")
            #expect(error.value.contains("2.2"))
        }
    }

    @Test func updateSwampingJudgingNamesTheBadField() throws {
        let spec = try Self.spec("r7-update-swamping", replacing: "tolerance = 0.05", with: "tolerance = \"loose\"")
        do throws(StudyError) {
            _ = try ExperimentJudges.updateSwamping(spec, [])
            Issue.record("a non-numeric tolerance was judged with")
        } catch {
            #expect(error.field == "experiment.tolerance")
            #expect(error.value.contains("loose"))
        }
        let stall = try Self.spec("r7-update-swamping", replacing: "stall_threshold = 0.9", with: "stall_threshold = 1.5")
        do throws(StudyError) {
            _ = try ExperimentJudges.updateSwamping(stall, [])
            Issue.record("an out-of-range stall_threshold was judged with")
        } catch {
            #expect(error.field == "experiment.stall_threshold")
            #expect(error.value.contains("1.5"))
        }
    }

    @Test func shermanMorrisonJudgingNamesTheBadField() throws {
        let spec = try Self.spec("r4-mkor-sherman-morrison", replacing: "slope_band = [1.75, 2.25]", with: "slope_band = \"wide\"")
        do throws(StudyError) {
            _ = try ExperimentJudges.shermanMorrison(spec, [])
            Issue.record("a non-numeric slope_band was judged with")
        } catch {
            #expect(error.field == "experiment.slope_band")
        }
    }
}
