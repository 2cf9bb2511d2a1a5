import Testing
import StudyKit

/// Each malformed study yields a `StudyError` that names the offending field (and never crashes).
@Suite struct MalformedStudies {
    static let corpus: [(String, String, String)] = [
        // (what is wrong, replacement applied to the tiny study, field the error must name)
        ("unknown optimizer", "method = \"adamw\"", "optimizer[1].method"),
        ("unknown hyperparameter", "inverse_interval = 2", "optimizer[0].inverse_intervl"),
        ("hyperparameter of the wrong type", "learning_rate = 0.05", "optimizer[0].learning_rate"),
        ("hyperparameter out of range", "learning_rate = 0.01", "optimizer[1].learning_rate"),
        ("unknown precision", "precisions = [\"fp32\", \"bf16\"]", "training.precisions[1]"),
        ("unknown accumulation model", "monitors = [\"kappa*\"]", "training.accumulation"),
        ("unknown field", "batch_size = 8", "training.batchsize"),
        ("batch size of wrong type", "batch_size = 8", "training.batch_size"),
        ("negative steps", "steps = 6", "training.steps"),
        ("unknown data set", "dataset = \"synthetic-classification\"", "problem.dataset"),
        ("unknown reference precision", "bits = 113", "reference.bits"),
        ("unknown kind", "kind = \"training\"", "kind"),
        ("missing title", "title = \"tiny\"", "title"),
        ("duplicate seed", "seeds = [1, 2]", "training.seeds"),
        ("reference longer than training", "steps = 3", "reference.steps"),
        ("flag that its variant ignores", "inverse_interval = 2", "optimizer[0].unmodified_damping"),
        ("KFAC-LM interval out of range", "inverse_interval = 2", "optimizer[0].lm_damping_interval"),
        ("KFAC-LM key with the practical finish", "inverse_interval = 2", "optimizer[0].lm_gamma"),
        ("practical key with the KFAC-LM finish", "inverse_interval = 2", "optimizer[0].learning_rate"),
    ]

    static let replacements: [String: String] = [
        "unknown optimizer": "method = \"adamx\"",
        "unknown hyperparameter": "inverse_intervl = 2",
        "hyperparameter of the wrong type": "learning_rate = \"fast\"",
        "hyperparameter out of range": "learning_rate = -1",
        "unknown precision": "precisions = [\"fp32\", \"bf17\"]",
        "unknown accumulation model": "monitors = [\"kappa*\"]\naccumulation = \"wide-fp128\"",
        "unknown field": "batch_size = 8\nbatchsize = 8",
        "batch size of wrong type": "batch_size = 8.5",
        "negative steps": "steps = -6",
        "unknown data set": "dataset = \"mnist\"",
        "unknown reference precision": "bits = 100",
        "unknown kind": "kind = \"trainnig\"",
        "missing title": "",
        "duplicate seed": "seeds = [1, 1]",
        "reference longer than training": "steps = 300",
        "flag that its variant ignores": "inverse_interval = 2\nunmodified_damping = true",
        "KFAC-LM interval out of range": "inverse_interval = 2\nfinish = \"lm\"\nlm_damping_interval = 0",
        "KFAC-LM key with the practical finish": "inverse_interval = 2\nlm_gamma = 3",
        "practical key with the KFAC-LM finish": "inverse_interval = 2\nfinish = \"lm\"",
    ]

    @Test(arguments: corpus.map(\.0))
    func malformedStudyNamesItsField(_ what: String) throws {
        let (_, original, field) = Self.corpus.first { $0.0 == what }!
        let text = tinyStudy.replacingOccurrences(of: original, with: Self.replacements[what]!)
        #expect(text != tinyStudy, "the corpus entry \(what) must change the study")
        do {
            _ = try StudyPlan(try StudyParser.parse(text, file: "bad.toml", quick: false))
            Issue.record("\(what): no error")
        } catch {
            #expect(error.file == "bad.toml")
            #expect(error.field == field, "\(what): \(error)")
        }
    }

    @Test func aTOMLSyntaxErrorNamesLineAndColumn() {
        do {
            _ = try StudyParser.parse("title = \"x\"\nsteps = = 3\n", file: "syntax.toml", quick: false)
            Issue.record("no error")
        } catch {
            #expect(error.value.contains("line 2"))
        }
    }
}
