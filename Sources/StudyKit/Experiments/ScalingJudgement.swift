/// A power-law exponent judged from per-seed fits: the verdict rule of the scaling studies (R1's
/// slope 2 in β1, R7's slope ½ in n).
///
/// *Why per-seed fits:* each seed gives one independent log–log slope; the median of those slopes
/// with its percentile-bootstrap interval (``Bootstrap/median``) says how well the seeds pin the
/// exponent down without assuming a noise model for the points of one fit.
///
/// *Three outcomes:* the interval lies inside the predicted band: reproduced; it lies wholly outside
/// the band: not reproduced; it straddles an edge of the band: undecided (the data cannot tell, and
/// the report gives the median slope as the effect size). Fewer than `minimumSeeds` finite slopes is
/// also undecided.
public struct SlopeJudgement: Sendable, Equatable {
    /// The fitted slope of each seed (NaN where a seed had fewer than two usable points).
    public var slopes: [Double]
    /// The median slope with its 95 % bootstrap interval; nil when no seed gave a slope.
    public var interval: ConfidenceInterval?
    public var band: ClosedRange<Double>
    /// true: inside the band; false: outside; nil: undecided.
    public var reproduced: Bool?

    public static let minimumSeeds = 3

    public init(slopes: [Double], band: ClosedRange<Double>) {
        self.slopes = slopes
        self.band = band
        interval = Bootstrap.median(slopes)
        let finite = slopes.filter(\.isFinite).count
        guard let ci = interval, finite >= Self.minimumSeeds else { reproduced = nil; return }
        if band.contains(ci.lower) && band.contains(ci.upper) {
            reproduced = true
        } else if ci.upper < band.lowerBound || ci.lower > band.upperBound {
            reproduced = false
        } else {
            reproduced = nil
        }
    }

    /// "2.01 [1.98, 2.03] (5 seeds)", or "–".
    public var text: String {
        guard let ci = interval else { return "–" }
        return "\(Fmt.sig(ci.estimate)) [\(Fmt.sig(ci.lower)), \(Fmt.sig(ci.upper))] (\(slopes.filter(\.isFinite).count) seeds)"
    }

    public var label: String { Verdict(reproduced: reproduced, evidence: "").label }
}

/// Combines the outcomes of several criteria that must all hold: any false gives false, else any
/// nil gives nil (undecided), else true. An empty list is undecided.
func allHold(_ outcomes: [Bool?]) -> Bool? {
    if outcomes.isEmpty { return nil }
    if outcomes.contains(false) { return false }
    if outcomes.contains(where: { $0 == nil }) { return nil }
    return true
}

extension StudyFindings {
    /// The report of a study whose `[experiment]` parameters no longer parse when it is judged: the
    /// error (file, field, value) is the evidence and the verdict is undecided. Never a fallback to
    /// built-in thresholds, which would judge a study by numbers its file does not state.
    static func unreadable(_ error: StudyError) -> StudyFindings {
        StudyFindings(verdict: Verdict(reproduced: nil, evidence: "the study's parameters do not parse, so it cannot be judged: \(error)"),
                      sections: ["## Parameter error\n\n`\(error)`"], plots: [])
    }
}

/// The judging step of the experiments whose parameters are re-read at report time, exposed so that
/// a test can hand them a spec with a malformed field and check the error names it.
public enum ExperimentJudges {
    public static func ikfacTracking(_ spec: StudySpec, _ results: [CellResult]) throws(StudyError) -> StudyFindings {
        try IKFACTracking.judged(spec, results)
    }

    public static func updateSwamping(_ spec: StudySpec, _ results: [CellResult]) throws(StudyError) -> StudyFindings {
        try UpdateSwamping.judged(spec, results)
    }

    public static func shermanMorrison(_ spec: StudySpec, _ results: [CellResult]) throws(StudyError) -> StudyFindings {
        try ShermanMorrisonStream.judged(spec, results)
    }

    /// R4's joint regression of the residual on log d and log κ (see `ShermanMorrisonStream.jointFit`).
    public static func jointFit(y: [Double], x1: [Double], x2: [Double]) -> (b1: Double, b2: Double) {
        ShermanMorrisonStream.jointFit(y: y, x1: x1, x2: x2)
    }

    /// R10's verdict rule (see `KFACExactness.rule`).
    public static func kfacExactness(linearWithin: Int, linearAll: Int, controlCaught: Int, controlAll: Int, failedCells: Int) -> Bool? {
        KFACExactness.rule(linearWithin: linearWithin, linearAll: linearAll, controlCaught: controlCaught, controlAll: controlAll, failedCells: failedCells)
    }

    /// R7's SR criterion (see `UpdateSwamping.srRecovers`).
    public static func srRecovers(_ excess: [Double], tolerance: Double) -> Bool? {
        UpdateSwamping.srRecovers(excess, tolerance: tolerance)
    }

    /// R7's stall-onset criterion (see `UpdateSwamping.rneStallsEarly`).
    public static func rneStallsEarly(rneOnsetExcess: Double, fp32OnsetExcess: Double, tolerance: Double) -> Bool? {
        UpdateSwamping.rneStallsEarly(rneOnsetExcess: rneOnsetExcess, fp32OnsetExcess: fp32OnsetExcess, tolerance: tolerance)
    }
}
